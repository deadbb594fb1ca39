"""The experiment harness: scenarios -> cells -> backends -> verdicts -> report.

Its folders are its layers. A module imports only from its own layer and the
layers listed before it; ``tests/unit/test_layers.py`` holds the code to this
order, and the README states it as one line.
"""

# Lowest first. Each entry is one layer: the harness's top-level modules or
# packages in it.
LAYERS = (
    ("paths", "errors"),  # where things are; the error hierarchy
    ("model",),  # pins, clients, cells, scenarios: the experiment as values
    ("evidence",),  # judge, verdicts, timeline, a cell's result: pure, from the event log
    ("provision",),  # interpreters and venvs
    ("sandbox",),  # the sandbox child: start, stop, follow its log, sweep leftovers
    ("images",),  # container images and a cell's container arguments
    ("probes",),  # observers outside the sandbox (the broker)
    ("backends",),  # run a cell: process or docker, one run skeleton
    ("report",),  # results.json, REPORT.md, report.html
    ("runner",),  # joins the stages for one cell
    ("bisect",),  # awslambdaric releases -> cells -> the release timeline and its change points
    ("check",),  # ./lab check: a user's function through every target, without and with the fix
    ("conftest", "test_matrix"),  # pytest's entry points
)

# The only module of the sandbox the harness may import: the event-log contract.
SANDBOX_CONTRACT = "lambda_sandbox.eventlog"
