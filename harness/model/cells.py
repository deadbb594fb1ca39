"""A cell: one point of the matrix, with everything needed to run and judge it.

Cells are values. A scenario expands into cells (``harness.model.scenarios``); a
backend runs a cell; the verdict compares what the cell *declares* it expects
with what the event log shows.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, Optional, Protocol, Tuple

from harness.model import strategies

EXTENSIONS = ("none", "internal", "external")
STRATEGIES = strategies.NAMES
# stop: SIGTERM to the sandbox (a container stop); idle: the idle environment is
# reaped; timeout: the last invocation outlives the function timeout; crash: the
# runtime process dies during the last invocation. The last two reset the
# environment (FACTS.md, "Shutdown phase": reasons timeout / failure).
TRIGGERS = ("stop", "idle", "timeout", "crash")
# Why the shutdown happens, per trigger, as shutdown.start must say it.
SHUTDOWN_REASONS = {
    "stop": "spindown",
    "idle": "spindown",
    "timeout": "timeout",
    "crash": "failure",
}
# How the trigger's invocation ends, as invoke.end must say it.
LAST_INVOKE_STATUS = {
    "stop": "success",
    "idle": "success",
    "timeout": "timeout",
    "crash": "failure",
}
# The function timeout of a `timeout` cell, seconds (the handler sleeps past it).
TIMEOUT_TRIGGER_S = 1.0
# The payload key that tells the lab's function what to do in the trigger's
# invocation ("timeout": sleep past the timeout, "crash": exit the process).
TRIGGER_KEY = "lab_trigger"

SHUTDOWN_MODELS = ("docs", "emulator")
SHUTDOWN_MODEL_VARIABLE = "LAMBDA_SANDBOX_SHUTDOWN_MODEL"


@dataclass(frozen=True)
class ShutdownRule:
    """What the sandbox must log in shutdown.start for a cell's extensions (FACTS.md,
    "Shutdown phase"): the rule, the phase's limit and the runtime's part of it."""

    rule: str
    limit_ms: int
    runtime_limit_ms: int


# Per shutdown model (LAMBDA_SANDBOX_SHUTDOWN_MODEL; docs by default), per extension setting.
SHUTDOWN_RULES: Dict[str, Dict[str, ShutdownRule]] = {
    "docs": {
        "none": ShutdownRule("no-extensions", 0, 0),
        "internal": ShutdownRule("internal-only", 500, 500),
        "external": ShutdownRule("external", 2000, 300),
    },
    "emulator": {
        "none": ShutdownRule("no-extensions", 0, 0),
        "internal": ShutdownRule("internal-only", 2000, 600),
        "external": ShutdownRule("external", 2000, 600),
    },
}


def setting_tags(env: Dict[str, str]) -> Tuple[str, ...]:
    """Tags for the sandbox settings in a cell's environment that depart from Lambda's defaults."""
    tags = []
    if env.get(SHUTDOWN_MODEL_VARIABLE, "docs").strip().lower() == "emulator":
        tags.append("emulator")
    if env.get("LAMBDA_SANDBOX_FREEZE", "1").strip().lower() in ("0", "false", "off"):
        tags.append("unfrozen")
    return tuple(tags)


class _Variant(Protocol):
    @property
    def scenario(self) -> str: ...
    @property
    def runtime_client(self) -> str: ...
    @property
    def execution_env(self) -> Optional[str]: ...
    @property
    def extension(self) -> str: ...
    @property
    def strategy(self) -> str: ...


def variant_of(x: _Variant) -> Tuple[str, str, str, str, str]:
    """What a report row groups by: a cell (or its result) without Python and trigger."""
    return (x.scenario, x.runtime_client, x.execution_env or "", x.extension, x.strategy)


@dataclass(frozen=True)
class Expectation:
    """A declared outcome, with the reason and where the fact comes from."""

    cleanup: bool
    reason: str
    source: str


@dataclass(frozen=True)
class Cell:
    scenario: str
    python: str  # "3.8"
    runtime_client: str  # "awslambdaric" | "legacy"
    runtime_client_version: str  # "2.2.1", or "requests-2.31.0" for legacy
    execution_env: Optional[str]  # None: AWS_EXECUTION_ENV unset
    extension: str  # one of EXTENSIONS
    strategy: str  # one of STRATEGIES
    trigger: str  # one of TRIGGERS
    invocations: int
    function_dir: Path
    handler: str
    cleanup_marker: str
    extensions_dir: Path
    idle_timeout_s: float
    env: Tuple[Tuple[str, str], ...]
    expectation: Expectation
    scenario_file: Path
    # The function's own packages, pinned (``name==version``; scenario key
    # `packages`, versions from pins.toml).
    packages: Tuple[str, ...] = ()
    # Observers outside the sandbox that judge the cell too (harness/probes/),
    # each with its settings: scenario tables [probes.<name>].
    probes: Tuple[Tuple[str, Tuple[Tuple[str, Any], ...]], ...] = ()
    # Tells apart cells of scenarios that share a matrix point but not the
    # experiment (scenario key `tag`, e.g. a function setting in [env]).
    tag: str = ""
    # The deployment target the cell stands for (targets.toml), if any, and how
    # its runtime starts: "direct" (python -m awslambdaric HANDLER, or the
    # legacy client) or "managed" (the managed runtime's bootstrap).
    target: str = ""
    start: str = "direct"
    # The invocation payload's base (compact JSON; scenario key `event`).
    event: str = ""

    @property
    def id(self) -> str:
        parts = [
            f"py{self.python}",
            self.runtime_client,
            self.runtime_client_version,
            f"env_{self.execution_env or 'unset'}",
            self.extension,
            self.strategy,
            self.trigger,
        ]
        # A cell observed by a probe runs another function at the same matrix
        # point, and a sandbox setting that changes Lambda's behaviour makes
        # another experiment: each its own cell.
        parts.extend(name for name, _ in self.probes)
        parts.extend(setting_tags(dict(self.env)))
        if self.start == "managed":
            parts.append("managed")
        if self.tag:
            parts.append(self.tag)
        return "-".join(parts)

    def probe_settings(self, name: str) -> Optional[Dict[str, Any]]:
        """The settings of probe ``name`` for this cell, or None when it is not observed by it."""
        for probe, settings in self.probes:
            if probe == name:
                return dict(settings)
        return None

    @property
    def variant(self) -> Tuple[str, str, str, str, str]:
        return variant_of(self)

    @property
    def shutdown_model(self) -> str:
        return dict(self.env).get(SHUTDOWN_MODEL_VARIABLE, "docs").strip().lower() or "docs"

    @property
    def effective_extension(self) -> str:
        """The extensions the cell runs with, its strategy's own included."""
        return strategies.effective_extension(self.extension, self.strategy, self.start)

    @property
    def shutdown_rule(self) -> ShutdownRule:
        return SHUTDOWN_RULES[self.shutdown_model][self.effective_extension]


def cell_environment(cell: Cell) -> Dict[str, str]:
    """What a cell sets in the sandbox's environment, whichever backend runs it. Pure."""
    strategy = strategies.STRATEGIES[cell.strategy]
    env = {
        "LAB_STRATEGY": strategy.function_strategy,
        "LAB_EXTENSION": "internal" if cell.extension == "internal" else "none",
    }
    if cell.trigger == "idle":
        env["AWS_LAMBDA_FUNCTION_IDLETIMEOUT"] = f"{cell.idle_timeout_s:g}"
    if cell.trigger == "timeout":
        env["AWS_LAMBDA_FUNCTION_TIMEOUT"] = f"{TIMEOUT_TRIGGER_S:g}"
    if cell.execution_env is not None:
        env["AWS_EXECUTION_ENV"] = cell.execution_env
    # The strategy's own configuration (a managed runtime's bootstrap overrides
    # AWS_EXECUTION_ENV with its own, as Lambda's does).
    env.update(dict(strategy.env))
    env.update(dict(cell.env))
    return env


def layer_environment(cell: Cell, opt_dir: str) -> Dict[str, str]:
    """The sandbox settings that put the fix's layer, extracted at ``opt_dir`` (as the
    backend sees it), where the cell's runtime finds layers. Pure."""
    strategy = strategies.STRATEGIES[cell.strategy]
    if not strategy.layer:
        return {}
    env = {"LAMBDA_SANDBOX_OPT_DIR": opt_dir}
    if strategy.wrapper:
        env["AWS_LAMBDA_EXEC_WRAPPER"] = f"{opt_dir}/{strategies.WRAPPER_IN_LAYER}"
    return env
