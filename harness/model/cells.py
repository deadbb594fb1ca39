"""A cell: one point of the matrix, with everything needed to run and judge it.

Cells are values. A scenario expands into cells (``harness.model.scenarios``); a
backend runs a cell; the verdict compares what the cell *declares* it expects
with what the event log shows.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, Optional, Tuple

EXTENSIONS = ("none", "internal", "external")
STRATEGIES = ("signal", "wakeup-fd", "none")
TRIGGERS = ("stop", "idle")

# What the sandbox does at shutdown for each extension setting (FACTS.md,
# "Shutdown phase"): the rule name and limit it must log in `shutdown.start`.
SHUTDOWN_RULES = {
    "none": ("no-extensions", 0),
    "internal": ("internal-only", 500),
    "external": ("external", 2000),
}


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
        # point: its own cell.
        parts.extend(name for name, _ in self.probes)
        return "-".join(parts)

    def probe_settings(self, name: str) -> Optional[Dict[str, Any]]:
        """The settings of probe ``name`` for this cell, or None when it is not observed by it."""
        for probe, settings in self.probes:
            if probe == name:
                return dict(settings)
        return None

    @property
    def variant(self) -> Tuple[str, str, str, str, str]:
        """What a report row groups by: the cell without Python and trigger."""
        return (
            self.scenario,
            self.runtime_client,
            self.execution_env or "",
            self.extension,
            self.strategy,
        )

    @property
    def shutdown_rule(self) -> Tuple[str, int]:
        return SHUTDOWN_RULES[self.extension]


def cell_environment(cell: Cell) -> Dict[str, str]:
    """What a cell sets in the sandbox's environment, whichever backend runs it. Pure."""
    env = {
        "LAB_STRATEGY": cell.strategy,
        "LAB_EXTENSION": "internal" if cell.extension == "internal" else "none",
    }
    if cell.trigger == "idle":
        env["AWS_LAMBDA_FUNCTION_IDLETIMEOUT"] = f"{cell.idle_timeout_s:g}"
    if cell.execution_env is not None:
        env["AWS_EXECUTION_ENV"] = cell.execution_env
    env.update(dict(cell.env))
    return env
