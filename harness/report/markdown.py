"""Render the results of a harness run as results.json and REPORT.md. Pure: results in, text out.

(``harness.report.html`` renders report.html; ``harness.report.writer`` writes the files.)
REPORT.md puts the answer first: one table per trigger, a row per scenario
variant, a column per Python, each cell saying whether the cleanup ran.
"""

from __future__ import annotations

from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

from harness import probes
from harness.evidence.result import CellResult
from harness.model import targets
from harness.report import headline
from harness.report.bench import render_bench_markdown
from harness.report.meta import RunMeta, counts, iso, ordered, pyver

# 2: a probe's findings are under the cell's "probes" (version 1 had the
# broker's at the cell's top level; CellResult.from_json reads both).
REPORT_VERSION = "2"
TRIGGER_TITLES = {
    "stop": "Trigger `stop`: SIGTERM to the sandbox (container stop)",
    "idle": "Trigger `idle`: the idle environment is reaped",
    "timeout": "Trigger `timeout`: the last invocation outlives the function timeout (a reset)",
    "crash": "Trigger `crash`: the runtime process exits during the last invocation (a reset)",
}


def render_json(results: Sequence[CellResult], meta: RunMeta) -> Dict[str, Any]:
    return {
        "reportversion": REPORT_VERSION,
        "tool": meta.tool,
        "toolversion": meta.tool_version,
        "platform": meta.platform,
        "host_python": meta.host_python,
        "backend": meta.backend,
        "backend_note": meta.backend_note,
        "command": meta.command,
        "start": iso(meta.started),
        "end": iso(meta.ended),
        "elapsed_s": round(meta.ended - meta.started, 3),
        "summary": counts(results),
        "cells": [r.to_json() for r in ordered(results)],
    }


def _word(r: CellResult) -> str:
    """One table cell: what happened, and whether that was the declared outcome."""
    if r.verdict == "skipped":
        return "skipped"
    if r.observed_cleanup is None:
        return "✗ no result"
    what = "cleanup runs" if r.observed_cleanup else "**cleanup lost**"
    if r.verdict == "pass":
        return f"{what} ✓"
    wanted = "cleanup" if r.expected_cleanup else "no cleanup"
    return f"{what} ✗ (expected {wanted})"


def _variant_label(variant: Tuple[str, str, str, str, str]) -> List[str]:
    scenario, client, env, extension, strategy = variant
    return [scenario, client, env or "unset", extension, strategy]


def _table(results: Sequence[CellResult], trigger: str) -> List[str]:
    rows = [r for r in results if r.trigger == trigger]
    pythons = sorted({r.python for r in rows}, key=pyver)
    several = len({r.backend for r in results}) > 1
    head = ["scenario", "client", "AWS_EXECUTION_ENV", "extension", "strategy"]
    lines = [
        "| " + " | ".join(head + [f"Python {p}" for p in pythons]) + " |",
        "|" + "---|" * (len(head) + len(pythons)),
    ]
    variants: Dict[Tuple[str, str, str, str, str], Dict[str, List[CellResult]]] = {}
    for r in ordered(rows):
        variants.setdefault(r.variant, {}).setdefault(r.python, []).append(r)
    for variant, by_python in variants.items():
        cells = []
        for p in pythons:
            found = sorted(by_python.get(p, []), key=lambda r: r.backend)
            if not found:
                cells.append("—")
            elif several:
                # Both backends' verdicts side by side in one cell.
                cells.append("<br>".join(f"{r.backend}: {_word(r)}" for r in found))
            else:
                cells.append(_word(found[0]))
        lines.append("| " + " | ".join(_variant_label(variant) + cells) + " |")
    return lines


def backend_disagreements(results: Sequence[CellResult]) -> Tuple[int, List[str]]:
    """Cells run on several backends: how many, and a line for each that disagrees."""
    by_id: Dict[str, List[CellResult]] = {}
    for r in results:
        if r.verdict != "skipped":
            by_id.setdefault(r.id, []).append(r)
    pairs = {k: v for k, v in by_id.items() if len({r.backend for r in v}) > 1}
    lines = []
    for cell_id, runs in sorted(pairs.items()):
        if len({(r.observed_cleanup, r.verdict, r.killed, r.sigterm_sent) for r in runs}) > 1:
            what = "; ".join(
                f"{r.backend}: cleanup {'ran' if r.observed_cleanup else 'lost'}, "
                f"SIGTERM sent {r.sigterm_sent}, killed {r.killed}, verdict {r.verdict}"
                for r in sorted(runs, key=lambda r: r.backend)
            )
            lines.append(f"- `{cell_id}`: {what}")
    return len(pairs), lines


def _headline_word(answer: headline.Answer) -> str:
    if answer.word == "not run":
        return "— (not run)"
    word = {"runs": "runs", "lost": "**lost**", "differs": "**backends differ**"}[answer.word]
    mark = "✓" if answer.agrees else "✗"
    link = f" [log]({answer.evidence[0]})" if answer.evidence else ""
    return f"{word} {mark}{link}"


def _headline(results: Sequence[CellResult]) -> List[str]:
    """Per deployment target: does the cleanup run (the tables a Lambda developer wants)."""
    known = targets.load_targets()
    lines: List[str] = []
    for table in headline.TABLES:
        lines += _headline_table(results, known, table)
    return lines


def _headline_table(
    results: Sequence[CellResult], known: Sequence[targets.Target], table: headline.Table
) -> List[str]:
    rows = headline.headline_rows(results, known, table)
    if not rows:
        return []
    head = ["deployment target", "runtime", *(title for _, _, title in table.columns)]
    lines = [
        "",
        f"## {table.title}",
        "",
        "Trigger `stop`; ✓: what FACTS.md leads one to expect; [log]: the event log behind "
        "the answer. " + table.intro,
        "",
        "| " + " | ".join(head) + " |",
        "|" + "---|" * len(head),
    ]
    for row in rows:
        answers = [_headline_word(a) for a in row.answers]
        runtime = headline.describe(row.target, known)
        lines.append("| " + " | ".join([row.target.name, runtime, *answers]) + " |")
    if table.scenario is not None:
        return lines
    stand_ins = [t for t in known if t.stand_in]
    if stand_ins:
        lines += ["", "Stand-ins:", ""]
        lines += [f"- **{t.name}**: {' '.join(t.stand_in.split())}" for t in stand_ins]
    skipped = {
        row.target.name: a.detail
        for row in rows
        for a in row.answers
        if a.word == "not run" and row.shown_as is None
    }
    if skipped:
        lines += ["", "Not run here:", ""]
        lines += [f"- **{name}**: {why}" for name, why in skipped.items()]
    return lines


def _ms(value: Any) -> str:
    return "—" if value is None else f"{value:.0f}"


def render_markdown(
    results: Sequence[CellResult], meta: RunMeta, bench: Optional[Mapping[str, Any]] = None
) -> str:
    rs = ordered(results)
    n = counts(rs)
    out = [
        "# Does the SIGTERM cleanup run when Lambda shuts the environment down?",
        "",
        f"{len(rs)} cells: {n['pass']} pass, {n['fail']} fail, {n['skipped']} skipped. "
        f"Backend: {meta.backend} ({meta.backend_note}). Run {iso(meta.started)} to "
        f"{iso(meta.ended)}.",
        "",
        "Each entry says whether the runtime printed the cleanup line after the shutdown "
        "began; ✓ means that is what the scenario declared (from FACTS.md), ✗ means it is "
        "not. A cell also fails when the sandbox's signals break Lambda's shutdown rule. "
        "`report.html` draws the same as coloured grids and a timeline per cell.",
    ]
    out += _headline(rs)
    for trigger in [t for t in TRIGGER_TITLES if any(r.trigger == t for r in rs)]:
        out += ["", f"## {TRIGGER_TITLES[trigger]}", "", *_table(rs, trigger)]
    compared, disagreements = backend_disagreements(rs)
    if compared:
        out += ["", "## Backends compared", ""]
        if disagreements:
            out += [
                f"{len(disagreements)} of {compared} cells that ran on more than one backend "
                "disagree. Each is a finding: the same sandbox and function behaved "
                "differently in a container and on the host.",
                "",
                *disagreements,
            ]
        else:
            out.append(
                f"All {compared} cells that ran on more than one backend agree: the same "
                "cleanup outcome, signals and verdict in a container and on the host."
            )
    out += probes.report_markdown(rs)

    problems = [r for r in rs if r.verdict != "pass"]
    if problems:
        out += ["", "## Failed and skipped cells", ""]
        for r in problems:
            out.append(f"- `{r.key}` ({r.verdict}): " + "; ".join(r.reasons))

    out += ["", "## Why each outcome is expected", ""]
    seen: Dict[Tuple[str, bool, str, str], List[str]] = {}
    for r in rs:
        key = (r.scenario, r.expected_cleanup, r.expected_reason, r.expected_source)
        seen.setdefault(key, []).append(r.id)
    for (scenario, cleanup, reason, source), _ids in seen.items():
        verdict = "cleanup" if cleanup else "no cleanup"
        out.append(f"- **{scenario}** → {verdict}: {reason} ({source})")

    out += [
        "",
        "## Timings and signals",
        "",
        "Milliseconds from the runtime's SIGTERM (the sandbox's monotonic clock); "
        "`killed` = the runtime died by SIGKILL.",
        "",
        "| cell | rule | SIGTERM sent | SIGTERM → cleanup | SIGTERM → exit | killed | signals"
        " (ms into shutdown) | evidence |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rs:
        if r.verdict == "skipped":
            continue
        signals = (
            ", ".join(f"{s['signal']}→{s['name']}@{_ms(s.get('ms'))}" for s in r.signals) or "—"
        )
        evidence = f"[events]({r.event_log})" if r.event_log else "—"
        out.append(
            f"| `{r.key}` | {r.shutdown_rule or '—'} | {r.sigterm_sent} | "
            f"{_ms(r.ms_sigterm_to_cleanup)} | {_ms(r.ms_sigterm_to_exit)} | {r.killed} | "
            f"{signals} | {evidence} |"
        )

    if bench:
        out += ["", *render_bench_markdown(bench)]

    versions = sorted(
        {(r.python, r.python_full_version or "not found") for r in rs}, key=lambda v: pyver(v[0])
    )
    clients = sorted({(r.python, r.runtime_client, r.runtime_client_version) for r in rs})
    out += ["", "## Versions", ""]
    out += [f"- CPython {p}: {full}" for p, full in versions]
    out += [f"- Python {p}: {c} {v}" for p, c, v in sorted(clients, key=lambda c: pyver(c[0]))]
    out += [
        f"- harness: {meta.tool} {meta.tool_version} on {meta.host_python}, {meta.platform}",
        "",
        "## How to reproduce",
        "",
        "```",
        meta.command,
        "```",
        "",
        "One cell: add `-k '<cell id>'`. Every cell's evidence is under "
        "`results/cells/<backend>/<cell id>/`"
        " (`events.jsonl` is the sandbox's event log, `output.log` its own output).",
        "",
    ]
    return "\n".join(out)
