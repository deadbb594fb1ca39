"""A check's answers, per target and column, as a terminal table and as Markdown. Pure."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence, Tuple

from harness.check.plan import COLUMNS, column
from harness.evidence.result import CellResult

# How the run skeleton words a problem with the run itself (harness/backends/).
RUN_PROBLEMS = ("invocation ", "the sandbox ", "trigger ", "processes outlived")


@dataclass(frozen=True)
class Answer:
    word: str  # runs | lost | no SIGTERM | not run | failed
    detail: str = ""
    cleanup_ran: Optional[bool] = None  # None: no answer (skipped or failed)


def answer(result: CellResult, has_marker: bool) -> Answer:
    """What one cell says about the user's cleanup."""
    if result.verdict == "skipped":
        return Answer("not run", "; ".join(result.reasons))
    # The run itself went wrong (no observation, or an invocation failed: the
    # stop then follows at once, while the runtime still runs Python code).
    broken = [r for r in result.reasons if r.startswith(RUN_PROBLEMS)]
    if result.sigterm_sent is None or broken:
        return Answer("failed", "; ".join(broken or result.reasons))
    if not result.sigterm_sent:
        return Answer("no SIGTERM", "Lambda sends none without an extension", False)
    if has_marker:
        ran = bool(result.observed_cleanup)
        ms = result.ms_sigterm_to_cleanup
    else:  # the handler ran if the runtime ended by itself, before SIGKILL
        ran = result.killed is False
        ms = result.ms_sigterm_to_exit
    if ran:
        return Answer("runs", f"{ms:.0f} ms after SIGTERM" if ms is not None else "", True)
    return Answer("lost", "SIGKILLed before the handler ran", False)


Grid = Dict[Tuple[str, str], Answer]


def grid(results: Sequence[CellResult], has_marker: bool) -> Tuple[List[str], Grid]:
    """Targets in order of first appearance, and the answer per (target, column)."""
    rows: List[str] = []
    cells: Grid = {}
    for result in results:
        if result.target not in rows:
            rows.append(result.target)
        cells[(result.target, column(result.strategy, result.extension))] = answer(
            result, has_marker
        )
    return rows, cells


def _text(a: Optional[Answer]) -> str:
    if a is None:
        return "-"
    if a.word == "runs" and a.detail:
        return f"runs ({a.detail.split(' after')[0]})"
    return a.word


def terminal(rows: Sequence[str], cells: Grid) -> str:
    header = ["target", *COLUMNS]
    body = [[row, *(_text(cells.get((row, c))) for c in COLUMNS)] for row in rows]
    widths = [max(len(r[i]) for r in [header, *body]) for i in range(len(header))]
    lines = [
        "  ".join(v.ljust(w) for v, w in zip(line, widths)).rstrip() for line in [header, *body]
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def markdown(rows: Sequence[str], cells: Grid) -> str:
    lines = ["| target | " + " | ".join(COLUMNS) + " |", "|---" * (len(COLUMNS) + 1) + "|"]
    for row in rows:
        lines.append(f"| {row} | " + " | ".join(_text(cells.get((row, c))) for c in COLUMNS) + " |")
    return "\n".join(lines) + "\n"


def fix_fails(rows: Sequence[str], cells: Grid) -> List[str]:
    """Targets where, with the fix, the cleanup did not run (or the run failed)."""
    bad = []
    for row in rows:
        for c in COLUMNS:
            a = cells.get((row, c))
            if c.endswith("+ fix") and a is not None and a.word != "not run" and not a.cleanup_ran:
                bad.append(f"{row} ({c}: {a.word})")
    return bad
