"""results/report.html: the matrix as coloured grids and every cell's timeline. Pure.

``render_report_html(results, meta, logs, bench)`` takes the cell results,
the run's metadata, each cell's raw event log lines and (optionally) the
benchmark figures, and returns one self-contained page: inline CSS, inline
SVG and a few lines of inline script, nothing fetched. Hovering a mark of a
timeline shows its raw log line (an SVG ``<title>``); clicking it opens the
cell's raw log at that line (a fragment link; the script only unfolds the
``<details>`` around the target).
"""

from __future__ import annotations

import html
import re
from typing import Any, Dict, Mapping, Optional, Sequence, Tuple

from harness.evidence.result import CellResult
from harness.evidence.timeline import build_timeline
from harness.model.targets import load_targets
from harness.report.bench import render_bench_html
from harness.report.colours import OUTCOME_COLOURS, OUTCOME_WORDS
from harness.report.headline_html import render_headline_html
from harness.report.meta import RunMeta, counts, iso, ordered, pyver
from harness.report.timeline_svg import render_timeline_svg

TRIGGER_TITLES = {
    "stop": "trigger stop: SIGTERM to the sandbox (container stop)",
    "idle": "trigger idle: the idle environment is reaped",
    "timeout": "trigger timeout: the last invocation outlives the function timeout",
    "crash": "trigger crash: the runtime process exits during the last invocation",
}

CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;margin:16px 24px;color:#1d1d1d}
h1{font-size:22px;margin:0 0 6px}h2{font-size:17px;margin:22px 0 6px}h3{font-size:14px;margin:0}
p.lead{margin:4px 0 10px}.legend span{display:inline-block;padding:2px 8px;margin-right:6px;
border:1px solid #888;font-size:12px}
table.grid{border-collapse:collapse;margin-bottom:8px}
table.grid th,table.grid td{border:1px solid #9a9a9a;padding:3px 6px;font-size:12px;text-align:left}
table.grid thead th{background:#eef0f3}
table.grid td.o{width:205px;padding:0}
table.grid td.o a{display:block;padding:3px 6px;color:#111;text-decoration:none;min-height:34px}
table.grid td.o a:hover{outline:2px solid #333}
td.o b{display:block;font-size:13px}td.o .ms{display:block;font-size:12px}
td.o .ev{display:block;font-size:11px;color:#333}
section.cell{border-top:1px solid #ddd;padding:10px 0 6px}
section.cell .badge{display:inline-block;padding:1px 6px;margin-right:6px;font-size:12px;
border:1px solid #777}
section.cell p{margin:3px 0;font-size:12px}
svg.tl{display:block;margin:4px 0;font-size:10px;font-family:ui-monospace,monospace}
svg.tl a:hover *{stroke:#000;stroke-width:1.5}
details summary{cursor:pointer;font-size:12px;color:#2a4d7a}
ol.log{font-family:ui-monospace,monospace;font-size:11px;margin:4px 0;padding-left:44px;
max-height:320px;overflow:auto;background:#fafafa;border:1px solid #e2e2e2}
ol.log li{white-space:pre-wrap;word-break:break-all}ol.log li:target{background:#ffe98a}
table.bench{border-collapse:collapse;margin:4px 0 12px}
table.bench th,table.bench td{border:1px solid #bbb;padding:2px 8px;font-size:12px;text-align:right}
table.bench th:first-child,table.bench td:first-child{text-align:left}
dl.versions{display:grid;grid-template-columns:max-content auto;gap:2px 14px;font-size:13px}
dl.versions dt{font-weight:600}dl.versions dd{margin:0}
""".strip()

# Clicking a mark follows its fragment link to a line of the raw log; the
# line sits in a closed <details>, which fragment navigation does not open.
SCRIPT = """
function labOpen(id){var el=document.getElementById(id);if(!el)return;
var d=el.closest('details');if(d)d.open=true;el.scrollIntoView({block:'center'});}
document.addEventListener('click',function(e){var a=e.target.closest('a');if(!a)return;
var h=a.getAttribute('href')||'';if(h.indexOf('#')===0&&h.indexOf('-L')>0){labOpen(h.slice(1));}});
if(location.hash){labOpen(decodeURIComponent(location.hash.slice(1)));}
""".strip()


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


def slug(cell_id: str) -> str:
    """An HTML id for a cell: its id with anything unusual replaced."""
    return "cell-" + re.sub(r"[^A-Za-z0-9_.-]", "_", cell_id)


def outcome(r: CellResult) -> str:
    if r.verdict == "skipped":
        return "skipped"
    if r.verdict != "pass" or r.observed_cleanup is None:
        return "fail"
    return "ran" if r.observed_cleanup else "lost"


def _runtime_signal_ms(r: CellResult, name: str) -> Optional[float]:
    for s in r.signals:
        if s.get("role") == "runtime" and s.get("signal") == name and s.get("ms") is not None:
            return float(s["ms"])
    return None


def timing_text(r: CellResult) -> str:
    """Milliseconds from the runtime's SIGTERM to the cleanup line, or to its SIGKILL."""
    if r.verdict == "skipped" or r.observed_cleanup is None:
        return "no timings"
    term = _runtime_signal_ms(r, "SIGTERM")
    kill = _runtime_signal_ms(r, "SIGKILL")
    if r.observed_cleanup and r.ms_sigterm_to_cleanup is not None:
        return f"cleanup +{r.ms_sigterm_to_cleanup:.0f} ms"
    if kill is not None and term is not None:
        return f"SIGKILL +{kill - term:.0f} ms"
    if kill is not None:
        return f"SIGKILL at {kill:.0f} ms, no SIGTERM"
    if r.ms_sigterm_to_exit is not None:
        return f"exit +{r.ms_sigterm_to_exit:.0f} ms"
    return "no SIGTERM, no SIGKILL"


def _declared(cleanup: Optional[bool]) -> str:
    return "—" if cleanup is None else ("cleanup" if cleanup else "no cleanup")


def _grid_cell(r: CellResult) -> str:
    kind = outcome(r)
    word = OUTCOME_WORDS[kind]
    if kind == "fail" and r.observed_cleanup is not None:
        word = "FAIL: " + OUTCOME_WORDS["ran" if r.observed_cleanup else "lost"]
    mark = {"pass": "✓", "fail": "✗"}.get(r.verdict, "")
    tip = f"{r.id}\n" + ("; ".join(r.reasons) or r.expected_reason)
    return (
        f'<td class="o o-{kind}" style="background:{OUTCOME_COLOURS[kind]}">'
        f'<a href="#{_e(slug(r.key))}" title="{_e(tip)}"><b>{_e(word)}</b>'
        f'<span class="ms">{_e(timing_text(r))}</span>'
        f'<span class="ev">exp {_e(_declared(r.expected_cleanup))} · obs '
        f"{_e(_declared(r.observed_cleanup))} {mark}</span></a></td>"
    )


def render_grid(results: Sequence[CellResult], backend: str, trigger: str) -> str:
    rows = [r for r in results if r.backend == backend and r.trigger == trigger]
    pythons = sorted({r.python for r in rows}, key=pyver)
    variants: Dict[Tuple[str, str, str, str, str], Dict[str, CellResult]] = {}
    for r in ordered(rows):
        variants.setdefault(r.variant, {})[r.python] = r
    head = ["scenario", "client", "AWS_EXECUTION_ENV", "extension", "strategy"]
    out = [
        f"<h2>Backend {_e(backend)} · {_e(TRIGGER_TITLES.get(trigger, 'trigger ' + trigger))}</h2>",
        f'<table class="grid" data-backend="{_e(backend)}" data-trigger="{_e(trigger)}">',
        "<thead><tr>"
        + "".join(f"<th>{_e(h)}</th>" for h in head)
        + "".join(f"<th>Python {_e(p)}</th>" for p in pythons)
        + "</tr></thead><tbody>",
    ]
    for (scenario, client, env, extension, strategy), by_python in variants.items():
        versions = sorted({c.runtime_client_version for c in by_python.values()})
        label = [scenario, f"{client} {' / '.join(versions)}", env or "unset"]
        cells = "".join(
            _grid_cell(by_python[p]) if p in by_python else "<td>—</td>" for p in pythons
        )
        out.append(
            "<tr>"
            + "".join(f"<th>{_e(v)}</th>" for v in [*label, extension, strategy])
            + cells
            + "</tr>"
        )
    out.append("</tbody></table>")
    return "\n".join(out)


def _raw_log(s: str, lines: Sequence[str]) -> str:
    items = "".join(f'<li id="{s}-L{n + 1}">{_e(line)}</li>' for n, line in enumerate(lines))
    return (
        f'<details id="{s}-log"><summary>raw event log ({len(lines)} lines)</summary>'
        f'<ol class="log">{items}</ol></details>'
    )


def render_cell_section(r: CellResult, lines: Sequence[str]) -> str:
    s = slug(r.key)
    kind = outcome(r)
    parts = [
        f'<section class="cell" id="{_e(s)}" data-outcome="{kind}">',
        f'<h3><span class="badge" style="background:{OUTCOME_COLOURS[kind]}">'
        f"{_e(OUTCOME_WORDS[kind])}</span>{_e(r.id)}</h3>",
        f"<p>backend {_e(r.backend)} · expected {_e(_declared(r.expected_cleanup))}, observed "
        f"{_e(_declared(r.observed_cleanup))} · {_e(timing_text(r))} · rule "
        f"{_e(r.shutdown_rule or '—')} ({_e(r.shutdown_limit_ms if r.shutdown_limit_ms is not None else '—')} ms)</p>",
    ]
    if r.reasons:
        parts.append(f"<p>{_e('; '.join(r.reasons))}</p>")
    if lines:
        parts.append(render_timeline_svg(build_timeline(lines, r.cleanup_marker), s))
        parts.append(_raw_log(s, lines))
    else:
        parts.append("<p>no event log</p>")
    parts.append("</section>")
    return "\n".join(parts)


def _legend() -> str:
    swatches = "".join(
        f'<span style="background:{OUTCOME_COLOURS[k]}">{_e(OUTCOME_WORDS[k])}</span>'
        for k in OUTCOME_COLOURS
    )
    return (
        f'<p class="legend">{swatches}</p>'
        '<p class="lead">Each square: what the runtime did after the shutdown began, the '
        "milliseconds from its SIGTERM to the cleanup line (or to its SIGKILL), and the declared "
        "(exp) against the observed (obs) outcome. Click a square for its timeline: ▼ SIGTERM, "
        "✕ SIGKILL, ◆ cleanup line, ● SHUTDOWN event, ▮ exit, ■ registration; the shaded band "
        "is the shutdown window, the dashed line its deadline. Hover a mark for its raw log "
        "line, click it to open the log there.</p>"
    )


def _versions(results: Sequence[CellResult], meta: RunMeta) -> str:
    pythons = sorted(
        {(r.python, r.python_full_version or "not found") for r in results},
        key=lambda v: pyver(v[0]),
    )
    clients = sorted(
        {(r.python, r.runtime_client, r.runtime_client_version) for r in results},
        key=lambda c: (pyver(c[0]), c[1]),
    )
    rows = [
        ("platform", meta.platform),
        ("harness", f"{meta.tool} {meta.tool_version} on {meta.host_python}"),
        ("backend", f"{meta.backend} ({meta.backend_note})"),
        ("run", f"{iso(meta.started)} to {iso(meta.ended)}"),
        ("command", meta.command),
    ]
    rows += [(f"CPython {p}", full) for p, full in pythons]
    rows += [(f"Python {p} client", f"{c} {v}") for p, c, v in clients]
    items = "".join(f"<dt>{_e(k)}</dt><dd>{_e(v)}</dd>" for k, v in rows)
    return f'<h2 id="versions">Versions and platform</h2><dl class="versions">{items}</dl>'


def render_report_html(
    results: Sequence[CellResult],
    meta: RunMeta,
    logs: Mapping[str, Sequence[str]],
    bench: Optional[Mapping[str, Any]] = None,
) -> str:
    """The whole page. ``logs`` maps a cell id to its event log lines (absent: none)."""
    rs = ordered(results)
    n = counts(rs)
    backends = sorted({r.backend for r in rs})
    triggers = [t for t in TRIGGER_TITLES if any(r.trigger == t for r in rs)]
    triggers += sorted({r.trigger for r in rs} - set(triggers))
    grids = [
        render_grid(rs, backend, trigger)
        for backend in backends
        for trigger in triggers
        if any(r.backend == backend and r.trigger == trigger for r in rs)
    ]
    sections = [render_cell_section(r, logs.get(r.key, ())) for r in rs]
    bench_html = render_bench_html(bench) if bench else ""
    return "\n".join(
        [
            "<!doctype html>",
            '<html lang="en"><head><meta charset="utf-8">',
            '<meta name="viewport" content="width=device-width,initial-scale=1">',
            "<title>SIGTERM lab: does the cleanup run?</title>",
            f"<style>{CSS}</style></head><body>",
            "<h1>Does the SIGTERM cleanup run when Lambda shuts the environment down?</h1>",
            f'<p class="lead" id="summary">{len(rs)} cells: {n["pass"]} pass, {n["fail"]} fail, '
            f"{n['skipped']} skipped · backend {_e(meta.backend)} · {_e(meta.platform)} · "
            f'{_e(iso(meta.started))} · <a href="#versions">versions</a></p>',
            render_headline_html(rs, load_targets()),
            _legend(),
            *grids,
            bench_html,
            "<h2>Timelines</h2>",
            *sections,
            _versions(rs, meta),
            f"<script>{SCRIPT}</script>",
            "</body></html>",
            "",
        ]
    )
