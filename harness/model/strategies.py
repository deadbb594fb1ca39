"""How a function handles SIGTERM, as data: the strategies a cell can use.

A strategy is what a Lambda developer would do (or not) about the shutdown
quirk; each says what the lab's function is told (``LAB_STRATEGY``), what
is added around the function (the fix's layer or package, a PyPI package, a
variable), and which runtimes it reaches. Expectations stay in the scenario
files; this table only says what each strategy *is*. Pure.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, Tuple

# The lab's own fix (fix/, lambda-shutdown-hook) stands for itself in a
# strategy's packages; the provision layer turns it into the built wheel.
FIX_PACKAGE = "lambda-shutdown-hook"
# Where the layer's wrapper script lies, relative to the directory playing /opt.
WRAPPER_IN_LAYER = "lambda-shutdown-hook"
# The value a custom image would set to make awslambdaric poll `next` in a
# thread (allowlisted from awslambdaric 2.0.8 on).
ALLOWLISTED_EXECUTION_ENV = "AWS_Lambda_python3.12"


@dataclass(frozen=True)
class Strategy:
    name: str
    summary: str
    function_strategy: str  # LAB_STRATEGY for the lab's function (function/app.py)
    packages: Tuple[str, ...] = ()  # in the function's Python: pins.toml names, or FIX_PACKAGE
    layer: bool = False  # the fix's layer in the directory playing /opt
    wrapper: bool = False  # AWS_LAMBDA_EXEC_WRAPPER=<opt>/lambda-shutdown-hook
    env: Tuple[Tuple[str, str], ...] = ()  # function configuration it sets
    # It registers an internal extension of its own where it takes effect:
    # "all" runtimes, "managed" runtimes only (layers and wrapper scripts), or "".
    registers_internal: str = ""


STRATEGIES: Dict[str, Strategy] = {
    s.name: s
    for s in (
        Strategy("none", "no SIGTERM handler at all", "none"),
        Strategy(
            "signal",
            "a plain signal.signal(SIGTERM, ...) handler, as AWS's samples write it",
            "signal",
        ),
        Strategy(
            "wakeup-fd",
            "the code change: graceful_shutdown.install(cleanup), a wakeup-fd watcher "
            "(function/graceful_shutdown.py)",
            "wakeup-fd",
        ),
        Strategy(
            "layer",
            "the plain handler plus the lambda-shutdown-hook layer (its .pth runs when the "
            "managed runtime's bootstrap adds /opt/python)",
            "signal",
            layer=True,
            registers_internal="managed",
        ),
        Strategy(
            "wrapper",
            "the plain handler plus AWS_LAMBDA_EXEC_WRAPPER=/opt/lambda-shutdown-hook "
            "(the layer's wrapper script)",
            "signal",
            layer=True,
            wrapper=True,
            registers_internal="managed",
        ),
        Strategy(
            "package",
            "the plain handler plus the lambda-shutdown-hook package in the function's "
            "Python (a site directory: its .pth runs at interpreter start)",
            "signal",
            packages=(FIX_PACKAGE,),
            registers_internal="all",
        ),
        Strategy(
            "execution-env",
            f"the plain handler plus AWS_EXECUTION_ENV={ALLOWLISTED_EXECUTION_ENV} set by the "
            "function's configuration",
            "signal",
            env=(("AWS_EXECUTION_ENV", ALLOWLISTED_EXECUTION_ENV),),
        ),
        Strategy(
            "lambda-sigterm",
            "the plain handler plus the PyPI package lambda-sigterm (lambda_sigterm.register(): "
            "an internal extension, nothing more)",
            "lambda-sigterm",
            packages=("lambda-sigterm", "urllib3"),
            registers_internal="all",
        ),
    )
}
NAMES: Tuple[str, ...] = tuple(STRATEGIES)


def takes_effect(strategy: Strategy, start: str) -> bool:
    """Whether the strategy's own extension registers on a runtime started ``start``:
    layers and wrapper scripts reach managed runtimes only (a container image
    has no /opt layers on its path and runs no AWS_LAMBDA_EXEC_WRAPPER)."""
    return strategy.registers_internal == "all" or (
        strategy.registers_internal == "managed" and start == "managed"
    )


def effective_extension(extension: str, strategy_name: str, start: str) -> str:
    """The extensions a cell really runs with: ``none`` becomes ``internal`` where the
    strategy registers one itself."""
    strategy = STRATEGIES.get(strategy_name)
    if extension == "none" and strategy is not None and takes_effect(strategy, start):
        return "internal"
    return extension
