"""The headline tables: per deployment target, does the cleanup run? Pure: results in, rows out.

One row per target of targets.toml (a target ``same_as`` another shows that
one's evidence), one answer per column. The first table: a plain
``signal.signal`` cleanup with an internal extension and with an external
one, and the wakeup-fd fix with each. Scenarios with a table of their own
(``TABLES``: the strategies, AWS's demo) answer there and only there.
REPORT.md and report.html render the same rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence, Tuple

from harness.evidence.result import CellResult
from harness.model import strategies
from harness.model.targets import Target

# (strategy, extension) of each answer column, in order.
COLUMNS: Tuple[Tuple[str, str, str], ...] = (
    ("signal", "internal", "plain handler, internal extension"),
    ("signal", "external", "plain handler, external extension"),
    ("wakeup-fd", "internal", "the fix, internal extension"),
    ("wakeup-fd", "external", "the fix, external extension"),
)


@dataclass(frozen=True)
class Table:
    """One headline table: whose results, titled how, which (strategy, extension) columns."""

    scenario: Optional[str]  # None: every scenario without a table of its own
    title: str
    intro: str
    columns: Tuple[Tuple[str, str, str], ...]


TABLES: Tuple[Table, ...] = (
    Table(
        None,
        "Does my function's SIGTERM cleanup run? (per deployment target)",
        "*Plain handler* is `signal.signal(SIGTERM, ...)` as AWS's samples write it; *the fix* "
        "is the wakeup-fd watcher (`function/graceful_shutdown.py`).",
        COLUMNS,
    ),
    Table(
        "strategies",
        "What each strategy does (per deployment target, internal extension)",
        "The strategies of `harness/model/strategies.py`: nothing, the plain handler, the code "
        "change (wakeup-fd), the lambda-shutdown-hook layer, its wrapper script and its package "
        "(`fix/`), AWS_EXECUTION_ENV set by hand, and the PyPI package lambda-sigterm.",
        tuple((s, "internal", s) for s in strategies.NAMES),
    ),
    Table(
        "aws-graceful-shutdown",
        "AWS's graceful-shutdown demo, unmodified (per deployment target)",
        "aws-samples/graceful-shutdown-with-aws-lambda's Python function "
        "(`examples/aws-graceful-shutdown/`), as written and with the lambda-shutdown-hook "
        "layer or package; without an extension, and with an external one (its template "
        "attaches Lambda Insights).",
        (
            ("signal", "none", "as written"),
            ("layer", "none", "+ layer"),
            ("package", "none", "+ package"),
            ("signal", "external", "as written, external ext."),
            ("layer", "external", "+ layer, external ext."),
            ("package", "external", "+ package, external ext."),
        ),
    ),
)


@dataclass(frozen=True)
class Answer:
    word: str  # "runs" | "lost" | "not run" | "differs"
    agrees: Optional[bool]  # with the declared expectation; None: not run
    evidence: Tuple[str, ...]  # event-log paths behind it, relative to the results dir
    detail: str = ""  # why not run, or how the backends differ


@dataclass(frozen=True)
class Row:
    target: Target
    shown_as: Optional[str]  # the target whose cells answer for this one (same_as)
    answers: Tuple[Answer, ...]


def _answer(results: Sequence[CellResult]) -> Answer:
    ran = [r for r in results if r.observed_cleanup is not None]
    if not ran:
        why = "; ".join(sorted({reason for r in results for reason in r.reasons})) or "no cell"
        return Answer("not run", None, (), why)
    outcomes = {r.observed_cleanup for r in ran}
    evidence = tuple(sorted(r.event_log for r in ran if r.event_log))
    agrees = all(r.verdict == "pass" for r in ran)
    if len(outcomes) > 1:
        detail = ", ".join(
            f"{r.backend}: {'runs' if r.observed_cleanup else 'lost'}"
            for r in sorted(ran, key=lambda r: r.backend)
        )
        return Answer("differs", False, evidence, detail)
    return Answer("runs" if outcomes.pop() else "lost", agrees, evidence)


def _in(table: Table, result: CellResult) -> bool:
    if table.scenario is not None:
        return result.scenario == table.scenario
    return result.scenario not in {t.scenario for t in TABLES if t.scenario}


def headline_rows(
    results: Sequence[CellResult], targets: Sequence[Target], table: Table = TABLES[0]
) -> List[Row]:
    """A row per target, in targets.toml's order; empty when no result of the table names one."""
    by_target: Dict[str, List[CellResult]] = {}
    for r in results:
        if r.target and r.trigger == "stop" and _in(table, r):
            by_target.setdefault(r.target, []).append(r)
    if not by_target:
        return []
    rows = []
    for target in targets:
        source = target.same_as or target.name
        mine = by_target.get(source, [])
        answers = tuple(
            _answer([r for r in mine if (r.strategy, r.extension) == (strategy, extension)])
            for strategy, extension, _ in table.columns
        )
        rows.append(Row(target, target.same_as, answers))
    return rows


def describe(target: Target, targets: Sequence[Target]) -> str:
    """The target's runtime in a few words: CPython, client and version, AWS_EXECUTION_ENV."""
    if target.same_as is not None:
        return f"as {target.same_as}"
    client = target.client if target.client == "legacy" else f"awslambdaric {target.client_version}"
    stand_in = " (stand-in)" if target.stand_in else ""
    env = target.execution_env or "unset"
    return f"CPython {target.python}, {client}{stand_in}, AWS_EXECUTION_ENV {env}, {target.start} start"
