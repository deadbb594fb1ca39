"""Render BISECT.md: change points first, then the release timeline. Pure: values in, text out."""

from __future__ import annotations

from typing import Dict, List, Optional, Sequence

from harness.bisect.releases import ReleaseBook, python_key
from harness.bisect.timeline import ONE, ChangePoint, Column, Point, change_points, timeline
from harness.evidence.result import CellResult
from harness.report.meta import RunMeta, counts, iso

LEGEND = (
    "Each entry: the observed outcome, `✓` the cleanup line appeared after SIGTERM, "
    "`·` it did not (SIGKILL came first), `?` no observation, `-` not run. "
    "`≠` the observation disagrees with the declared outcome (a finding). "
    "`◆` an observed change point (the outcome differs from the release above), "
    "`◇` a declared change point that was not observed. "
    "`!` the cell failed for another reason too (see Failures)."
)


def _env(env: Optional[str]) -> str:
    if env is None:
        return "unset"
    return env.replace("AWS_Lambda_", "")


def _yes(value: Optional[bool]) -> str:
    return "?" if value is None else ("cleanup" if value else "lost")


def _entry(point: Optional[Point], change: Optional[ChangePoint]) -> str:
    if point is None:
        return "-"
    text = "?" if point.observed is None else ("✓" if point.observed else "·")
    if point.disagrees:
        text += " ≠"
    if point.verdict == "fail" and not point.disagrees:
        text += " !"
    if change is not None and change.observed:
        text = "◆ " + text
    elif change is not None and change.declared:
        text = "◇ " + text
    return text


def _change_table(changes: Sequence[ChangePoint]) -> List[str]:
    if not changes:
        return ["No change point, declared or observed.", ""]
    lines = [
        "| column | between | declared | observed | |",
        "|---|---|---|---|---|",
    ]
    for c in changes:
        declared = f"{_yes(c.declared[0])} → {_yes(c.declared[1])}" if c.declared else "—"
        observed = f"{_yes(c.observed[0])} → {_yes(c.observed[1])}" if c.observed else "—"
        mark = "" if c.status == "agree" else "**finding**"
        lines.append(
            f"| {c.column.label} | {c.previous} → {c.version} | {declared} | {observed} "
            f"| {c.status} {mark} |".replace("  |", " |")
        )
    lines.append("")
    return lines


def _release_table(
    book: ReleaseBook,
    table: Dict[Column, List[Point]],
    changes: Sequence[ChangePoint],
    strategy: str,
) -> List[str]:
    columns = [c for c in table if c.strategy == strategy]
    by_version = {c: {p.version: p for p in table[c]} for c in columns}
    changed = {(c.column, c.version): c for c in changes}
    versions = {v for c in columns for v in by_version[c]}
    header = ["release", "date", "CPython run", "thread polling for", "next releases GIL"]
    header += [_env(c.execution_env) + ("" if c.role == ONE else f" {c.role[:3]}") for c in columns]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for release in book.releases:
        if release.version not in versions:
            continue
        pythons = sorted(
            {p.python for c in columns for p in table[c] if p.version == release.version},
            key=python_key,
        )
        polls = ", ".join(_env(e) for e in release.thread_polling) or "—"
        row = [
            f"{release.version}",
            release.date,
            " / ".join(pythons),
            polls,
            "yes" if release.next_releases_gil else "**no**",
        ]
        row += [
            _entry(by_version[c].get(release.version), changed.get((c, release.version)))
            for c in columns
        ]
        lines.append("| " + " | ".join(row) + " |")
    lines.append("")
    return lines


def _init(r: CellResult) -> str:
    """How init ended, from the verdict's reasons (the judge names a status other than ok)."""
    for reason in r.reasons:
        if reason.startswith("init ended with status "):
            return reason.split("'")[1]
    return "?" if r.observed_cleanup is None else "ok"


def _gil_section(book: ReleaseBook, results: Sequence[CellResult]) -> List[str]:
    held = [r.version for r in book.releases if not r.next_releases_gil]
    mine = [r for r in results if r.runtime_client_version in held]
    if not mine:
        return []
    lines = [
        f"## Releases whose `next` holds the GIL ({', '.join(held)})",
        "",
        "What the run shows for every cell of those releases: the internal extension "
        "is a thread that must call the Extensions API's `next` for init to complete, "
        "and the fix's watcher is a thread too.",
        "",
        "| cell | init | declared | observed | SIGTERM → exit (ms) | SIGKILLed | verdict, reasons |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in sorted(mine, key=lambda r: r.id):
        ms = "—" if r.ms_sigterm_to_exit is None else f"{r.ms_sigterm_to_exit:g}"
        killed = "—" if r.killed is None else ("yes" if r.killed else "no")
        why = "; ".join(r.reasons) or "—"
        lines.append(
            f"| `{r.id}` | {_init(r)} | {_yes(r.expected_cleanup)} | {_yes(r.observed_cleanup)} | {ms} "
            f"| {killed} | {r.verdict}: {why} |"
        )
    lines.append("")
    return lines


def _failures(results: Sequence[CellResult]) -> List[str]:
    failed = [r for r in results if r.verdict != "pass"]
    if not failed:
        return ["## Failures", "", "None: every cell ran and matched its declaration.", ""]
    lines = ["## Failures and skips", ""]
    for r in sorted(failed, key=lambda r: r.id):
        lines.append(f"- `{r.id}` ({r.verdict}): {'; '.join(r.reasons)}")
    lines.append("")
    return lines


def render_bisect(
    book: ReleaseBook,
    results: Sequence[CellResult],
    meta: RunMeta,
    subset: str,
    left_out: Sequence[str] = (),
) -> str:
    table = timeline(results)
    changes = change_points(table)
    tally = counts(results)
    findings = [c for c in changes if c.status != "agree"]
    lines = [
        "# awslambdaric release bisect",
        "",
        f"Subset `{subset}`: {len(results)} cells ({tally['pass']} pass, {tally['fail']} fail, "
        f"{tally['skipped']} skipped) over {len({r.runtime_client_version for r in results})} "
        f"releases, backend {meta.backend}, {iso(meta.started)} to {iso(meta.ended)} "
        f"({meta.ended - meta.started:.0f} s). Every cell: an internal extension, trigger "
        "`stop`, the lab's function. Expectations come from `releases.toml` (each fact "
        "with its source) and were declared before the run.",
        "",
        "## Change points",
        "",
        f"{len(changes)} change points, {len(findings)} where observation and declaration "
        "part ways.",
        "",
        *_change_table(changes),
        "## Release timeline",
        "",
        LEGEND,
        "",
    ]
    for strategy in dict.fromkeys(c.strategy for c in table):
        lines += [f"### Strategy `{strategy}`", ""]
        lines += _release_table(book, table, changes, strategy)
    lines += _gil_section(book, results)
    lines += _failures(results)
    if left_out:
        lines += ["## Not run", ""] + [f"- {note}" for note in left_out] + [""]
    return "\n".join(lines)
