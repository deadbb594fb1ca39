"""Benchmarks: figures measured side by side in one run, never asserted in tests."""

# The modules that time the sandbox's own code, piece by piece (and run under the
# sandbox's interpreter): they import more of it than the event-log contract
# every other module of the harness and the benchmarks keeps to, and nothing
# of the harness (tests/unit/test_layers.py).
SANDBOX_INTERNALS = ("bench.behaviour_floor",)
