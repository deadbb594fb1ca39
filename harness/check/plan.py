"""The cells of a check: every deployment target, with no extension and with an external
one, as written and with the fix a user would add. Pure.

"The fix" is the lambda-shutdown-hook layer on a managed runtime and the
package on a container image (images load no layers). The expectations are
those of a function whose cleanup is a plain ``signal.signal`` handler
(FACTS.md), so a function that behaves otherwise shows as a failed
expectation, with what was observed.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import List, Optional, Sequence, Tuple

from harness.model import targets as target_model
from harness.model.cells import Cell, Expectation
from harness.model.scenarios import MATRIX_KEYS, Override, Scenario, expand

SCENARIO = "check"
EXTENSIONS = ("none", "external")
AS_WRITTEN = "signal"
# A marker nobody prints: without --marker, the answer is how the runtime ended.
NO_MARKER = "\x00lab-check: no cleanup marker given\x00"

_PLAIN = Expectation(
    cleanup=False,
    reason="a plain handler: with an extension awslambdaric waits in native code until "
    "SIGKILL; with none, Lambda sends no SIGTERM",
    source="FACTS.md: The quirk being demonstrated; Shutdown phase",
)
_RUNS = Expectation(
    cleanup=True,
    reason="SIGTERM is sent (external extension) and this runtime runs a plain handler "
    "(pure-Python client on 3.7, thread polling from 3.12)",
    source="FACTS.md: Managed Python runtimes and images; awslambdaric releases",
)
_FIXED = Expectation(
    cleanup=True,
    reason="the fix registers an internal extension and runs the handler from its wakeup-fd "
    "watcher",
    source="fix/README.md",
)


@dataclass(frozen=True)
class CheckRequest:
    function_dir: Path
    handler: str
    marker: Optional[str]
    extensions_dir: Path
    target_names: Tuple[str, ...] = ("all",)
    event: str = ""  # the invocation payload, compact JSON ("" for the lab's own keys only)


def fix_for(cell: Cell) -> str:
    """The strategy a user would add here: the layer (managed) or the package (image)."""
    return "layer" if cell.start == "managed" else "package"


def scenario_for(request: CheckRequest) -> Scenario:
    chosen = target_model.select(request.target_names, target_model.load_targets())
    thread_polling = ("python3.7", "python3.12", "python3.13", "python3.14", "python3.15")
    matrix = {
        "target": tuple(t.name for t in chosen),
        # The target decides these three (harness.model.scenarios).
        "python": ("",),
        "runtime_client": ("",),
        "execution_env": ("",),
        "extension": EXTENSIONS,
        "strategy": (AS_WRITTEN, "layer", "package"),
        "trigger": ("stop",),
    }
    return Scenario(
        path=request.function_dir,
        name=SCENARIO,
        description=f"./lab check {request.function_dir} --handler {request.handler}",
        function_dir=request.function_dir,
        handler=request.handler,
        cleanup_marker=request.marker or NO_MARKER,
        invocations=1,
        idle_timeout_s=1.0,
        extensions_dir=request.extensions_dir,
        env=(),
        matrix=tuple((key, matrix[key]) for key in MATRIX_KEYS),
        expect=_PLAIN,
        overrides=(
            Override(
                when=(("target", thread_polling), ("extension", ("external",))),
                expectation=_RUNS,
            ),
            Override(when=(("strategy", ("layer", "package")),), expectation=_FIXED),
        ),
        tag="check",
        event=request.event,
    )


def check_cells(request: CheckRequest) -> List[Cell]:
    """As written, and with the fix that fits the target (never both fixes)."""
    return [
        cell
        for cell in expand(scenario_for(request))
        if cell.strategy in (AS_WRITTEN, fix_for(cell))
    ]


def column(strategy: str, extension: str) -> str:
    """The table column of a cell: its extension, and whether the fix was added."""
    fixed = "" if strategy == AS_WRITTEN else " + fix"
    return ("no extension" if extension == "none" else "external ext.") + fixed


COLUMNS: Sequence[str] = (
    "no extension",
    "no extension + fix",
    "external ext.",
    "external ext. + fix",
)
