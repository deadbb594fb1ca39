"""Render the results of a harness run: results.json, REPORT.md, report.html.

Rendering is pure (results in, text out); ``write_report`` is the only I/O.
REPORT.md puts the answer first: one table per trigger, a row per scenario
variant, a column per Python, each cell saying whether the cleanup ran.
"""

from __future__ import annotations

import datetime as _dt
import html
import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Sequence, Tuple

from harness.results import CellResult

REPORT_VERSION = "1"
TRIGGER_TITLES = {
    "stop": "Trigger `stop`: SIGTERM to the sandbox (container stop)",
    "idle": "Trigger `idle`: the idle environment is reaped",
}


@dataclass(frozen=True)
class RunMeta:
    tool: str
    tool_version: str
    platform: str
    host_python: str
    backend: str
    backend_note: str
    started: float
    ended: float
    command: str


def _iso(ts: float) -> str:
    return _dt.datetime.fromtimestamp(ts, tz=_dt.timezone.utc).isoformat(timespec="seconds")


def _pyver(version: str) -> Tuple[int, ...]:
    return tuple(int(p) for p in version.split(".") if p.isdigit())


def ordered(results: Sequence[CellResult]) -> List[CellResult]:
    return sorted(results, key=lambda r: (r.variant, r.trigger, _pyver(r.python)))


def counts(results: Sequence[CellResult]) -> Dict[str, int]:
    out = {"pass": 0, "fail": 0, "skipped": 0}
    for r in results:
        out[r.verdict] = out.get(r.verdict, 0) + 1
    return out


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
        "start": _iso(meta.started),
        "end": _iso(meta.ended),
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
    pythons = sorted({r.python for r in rows}, key=_pyver)
    head = ["scenario", "client", "AWS_EXECUTION_ENV", "extension", "strategy"]
    lines = [
        "| " + " | ".join(head + [f"Python {p}" for p in pythons]) + " |",
        "|" + "---|" * (len(head) + len(pythons)),
    ]
    variants: Dict[Tuple[str, str, str, str, str], Dict[str, CellResult]] = {}
    for r in ordered(rows):
        variants.setdefault(r.variant, {})[r.python] = r
    for variant, by_python in variants.items():
        cells = [_word(by_python[p]) if p in by_python else "—" for p in pythons]
        lines.append("| " + " | ".join(_variant_label(variant) + cells) + " |")
    return lines


def _ms(value: Any) -> str:
    return "—" if value is None else f"{value:.0f}"


def render_markdown(results: Sequence[CellResult], meta: RunMeta) -> str:
    rs = ordered(results)
    n = counts(rs)
    out = [
        "# Does the SIGTERM cleanup run when Lambda shuts the environment down?",
        "",
        f"{len(rs)} cells: {n['pass']} pass, {n['fail']} fail, {n['skipped']} skipped. "
        f"Backend: {meta.backend} ({meta.backend_note}). Run {_iso(meta.started)} to "
        f"{_iso(meta.ended)}.",
        "",
        "Each entry says whether the runtime printed the cleanup line after the shutdown "
        "began; ✓ means that is what the scenario declared (from FACTS.md), ✗ means it is "
        "not. A cell also fails when the sandbox's signals break Lambda's shutdown rule.",
    ]
    for trigger in [t for t in TRIGGER_TITLES if any(r.trigger == t for r in rs)]:
        out += ["", f"## {TRIGGER_TITLES[trigger]}", "", *_table(rs, trigger)]

    problems = [r for r in rs if r.verdict != "pass"]
    if problems:
        out += ["", "## Failed and skipped cells", ""]
        for r in problems:
            out.append(f"- `{r.id}` ({r.verdict}): " + "; ".join(r.reasons))

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
            f"| `{r.id}` | {r.shutdown_rule or '—'} | {r.sigterm_sent} | "
            f"{_ms(r.ms_sigterm_to_cleanup)} | {_ms(r.ms_sigterm_to_exit)} | {r.killed} | "
            f"{signals} | {evidence} |"
        )

    versions = sorted(
        {(r.python, r.python_full_version or "not found") for r in rs}, key=lambda v: _pyver(v[0])
    )
    clients = sorted({(r.python, r.runtime_client, r.runtime_client_version) for r in rs})
    out += ["", "## Versions", ""]
    out += [f"- CPython {p}: {full}" for p, full in versions]
    out += [f"- Python {p}: {c} {v}" for p, c, v in sorted(clients, key=lambda c: _pyver(c[0]))]
    out += [
        f"- harness: {meta.tool} {meta.tool_version} on {meta.host_python}, {meta.platform}",
        "",
        "## How to reproduce",
        "",
        "```",
        meta.command,
        "```",
        "",
        "One cell: add `-k '<cell id>'`. Every cell's evidence is under `results/cells/<cell id>/`"
        " (`events.jsonl` is the sandbox's event log, `output.log` its own output).",
        "",
    ]
    return "\n".join(out)


def render_html(results: Sequence[CellResult], meta: RunMeta) -> str:
    rs = ordered(results)
    n = counts(rs)
    cols = [
        "id",
        "scenario",
        "python",
        "runtime_client",
        "runtime_client_version",
        "execution_env",
        "extension",
        "strategy",
        "trigger",
        "expected_cleanup",
        "observed_cleanup",
        "sigterm_sent",
        "killed",
        "ms_sigterm_to_cleanup",
        "ms_sigterm_to_exit",
        "verdict",
        "reasons",
    ]
    rows = []
    for r in rs:
        data = r.to_json()
        data["reasons"] = "; ".join(r.reasons)
        tds = "".join(f"<td>{html.escape(str(data[c]))}</td>" for c in cols)
        link = f'<a href="{html.escape(r.event_log)}">events</a>' if r.event_log else ""
        link = f"<td>{link}</td>"
        rows.append(f'<tr class="{r.verdict}">{tds}{link}</tr>')
    header = "".join(f"<th>{html.escape(c)}</th>" for c in [*cols, "evidence"])
    return "\n".join(
        [
            "<!doctype html>",
            '<html lang="en"><head><meta charset="utf-8">',
            "<title>SIGTERM lab results</title>",
            "<style>body{font-family:sans-serif}table{border-collapse:collapse}"
            "td,th{border:1px solid #ccc;padding:2px 6px;font-size:13px}"
            "tr.pass{background:#e8f6e8}tr.fail{background:#fbe4e4}"
            "tr.skipped{background:#eee}</style></head><body>",
            "<h1>Does the SIGTERM cleanup run?</h1>",
            f"<p>{len(rs)} cells: {n['pass']} pass, {n['fail']} fail, {n['skipped']} skipped. "
            f"Backend {html.escape(meta.backend)}; {html.escape(_iso(meta.started))} to "
            f"{html.escape(_iso(meta.ended))}.</p>",
            f"<table><thead><tr>{header}</tr></thead><tbody>",
            *rows,
            "</tbody></table></body></html>",
            "",
        ]
    )


def _write_atomic(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix="." + path.name + "-")
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
    os.replace(tmp, path)


def write_report(results_dir: Path, results: Sequence[CellResult], meta: RunMeta) -> List[Path]:
    results_dir.mkdir(parents=True, exist_ok=True)
    outputs = {
        results_dir / "results.json": json.dumps(render_json(results, meta), indent=2) + "\n",
        results_dir / "REPORT.md": render_markdown(results, meta),
        results_dir / "report.html": render_html(results, meta),
    }
    for path, text in outputs.items():
        _write_atomic(path, text)
    return list(outputs)
