"""The benchmark figures (results/bench.json) as tables: terminal text, Markdown, HTML. Pure.

``python -m bench`` writes bench.json and prints ``render_bench_text``;
REPORT.md gets ``render_bench_markdown`` as its "Benchmarks" section and
report.html ``render_bench_html``, whenever a bench.json sits next to them.
Every figure is shown with the machine it was measured on: absolute times
on shared machines drift, so each benchmark reports a ratio of two paths
measured side by side in the same run.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from typing import Any, List, Mapping, Optional, Sequence

BENCH_VERSION = "1"

# The phases bench.cell_cost splits a cell's wall time into, in order.
PHASES = {
    "prepare": "interpreter lookup and venv check before the backend's clock starts",
    "to_sandbox_start": "Popen or container start to the sandbox's first event",
    "init": "init.end duration",
    "invoke": "invoke.end durations",
    "shutdown": "shutdown.end duration",
    "sandbox_exit": "last shutdown.end to sandbox.exit",
    "rest": "the remainder (waits in the harness, the idle timeout)",
}


@dataclass(frozen=True)
class Table:
    title: str
    columns: Sequence[str]
    rows: Sequence[Sequence[str]]
    notes: Sequence[str] = ()


def _num(value: Any, digits: int = 1, suffix: str = "") -> str:
    if value is None:
        return "—"
    return f"{float(value):,.{digits}f}{suffix}"


def _ratio(value: Any) -> str:
    return "—" if value is None else f"{float(value):.2f}x"


def _get(data: Mapping[str, Any], *keys: str) -> Any:
    value: Any = data
    for key in keys:
        if not isinstance(value, Mapping) or key not in value:
            return None
        value = value[key]
    return value


def machine_line(data: Mapping[str, Any]) -> str:
    m = data.get("machine") or {}
    return (
        f"{m.get('cpu', '?')}, {m.get('cpus', '?')} CPUs, {m.get('memory_gb', '?')} GB; "
        f"{m.get('platform', '?')}; host {m.get('host_python', '?')}; "
        f"{data.get('start', '?')}{' (--quick)' if data.get('quick') else ''}"
    )


def _invoke_table(b: Mapping[str, Any]) -> Table:
    paths = b.get("paths") or {}
    names = {
        "sandbox": f"sandbox warm invoke ({b.get('client', '?')}, CPython {b.get('python', '?')})",
        "floor_relay": "floor: stdlib server relaying to a stdlib runtime loop",
        "floor_round_trips": "floor: two bare stdlib request/response round trips",
        "floor_awslambdaric": "floor: the stdlib server relaying to the same awslambdaric runtime",
        "floor_selector": "floor: one selectors loop, one thread, relaying to that runtime",
        "aws-lambda-rie": "peer: AWS's Runtime Interface Emulator (aws-lambda-rie)",
        "lambda-runtime-api-daemon": "peer: the Lambda Runtime API Daemon",
    }
    base = paths.get("sandbox") or {}
    rows = []
    for key, label in names.items():
        stats = paths.get(key)
        if not stats:
            continue
        ratio_50 = base.get("p50", 0) / stats["p50"] if stats.get("p50") else None
        ratio_99 = base.get("p99", 0) / stats["p99"] if stats.get("p99") else None
        rows.append(
            [
                label,
                str(stats.get("n", "?")),
                _num(stats.get("p50"), 3),
                _num(stats.get("p99"), 3),
                _ratio(ratio_50),
                _ratio(ratio_99),
            ]
        )
    return Table(
        "Invoke overhead (ms per warm RequestResponse invoke, loopback)",
        ["path", "invokes", "p50 ms", "p99 ms", "sandbox ÷ path p50", "p99"],
        rows,
        [
            f"{b.get('rounds', '?')} interleaved rounds after {b.get('warmup', '?')} warm-up "
            "invokes per path; each path runs under the same interpreter, the runtime in its "
            "own process. The relay floor does the same two HTTP exchanges (Invoke API, "
            "Runtime API next/response) with nothing else; its second form relays to the "
            "sandbox's own runtime command on the same function: the sandbox less that floor "
            "is about the sandbox's own work (lifecycle, evidence, console lines, freeze and "
            "thaw; the floor's http.server also parses headers with the email package, which "
            "the sandbox does not), that floor less the peers a Python server's cost. The "
            "selectors floor relays to the same runtime from one thread that blocks only in "
            "select: the least a CPython server spends per invoke with no work of its own. "
            "The peers run the same runtime command on the same function."
        ]
        + [
            f"{name}: {where}"
            for name, where in (b.get("peers") or {}).items()
            if not str(where).startswith("/")
        ]
        + (
            [f"The sandbox's RSS after the rounds: {b['sandbox_rss_kb']:,} kB."]
            if b.get("sandbox_rss_kb")
            else []
        ),
    )


def _profile_table(b: Mapping[str, Any]) -> Table:
    """Where a warm invoke's time goes (bench.invoke_profile)."""
    latency = b.get("latency") or {}
    parts = sorted((b.get("parts") or {}).items(), key=lambda item: -item[1]["share_of_cpu"])
    rows = [
        ["the runtime process (awslambdaric and the handler)", "—",
         _num(b.get("runtime_cpu_ms_per_invoke"), 3)],
        ["the sandbox, all of it", "100%", _num(b.get("sandbox_cpu_ms_per_invoke"), 3)],
    ] + [
        [f"  {part}", f"{row['share_of_cpu']:.0%}", _num(row["ms_per_invoke"], 3)]
        for part, row in parts
    ]  # fmt: skip
    named = sum(row["share_of_cpu"] for _, row in parts)
    rows.append(
        [
            "  the rest (the loop's dispatch, the driver, the pool)",
            f"{max(0.0, 1 - named):.0%}",
            "—",
        ]
    )
    return Table(
        f"Where a warm invoke's time goes (CPU ms per invoke; {b.get('invokes', '?')} invokes, "
        f"{b.get('runtime', '?')})",
        ["who", "share of the sandbox's CPU", "CPU ms per invoke"],
        rows,
        [
            f"Warm invoke p50 {_num(latency.get('p50'), 3)} ms, p99 {_num(latency.get('p99'), 3)} "
            f"ms; the invocation as the sandbox records it (event delivered to the runtime -> "
            f"answer read) p50 {_num(b.get('duration_ms_p50'), 3)} ms. CPU from /proc/<pid>/stat "
            "around the invokes; the parts from a second, profiled run (one cProfile per thread "
            f"on the thread's CPU clock, the sandbox on CPython {b.get('sandbox_python', '?')}), "
            "as shares of all the CPU its profiler saw during the invokes (start-up and "
            "warm-up left out), applied to the unprofiled CPU.",
            *_switches_note(b.get("context_switches_per_invoke")),
        ],
    )


def _floor_table(b: Mapping[str, Any]) -> Optional[Table]:
    """What a warm invoke's Lambda behaviour costs alone (bench.behaviour_floor)."""
    floor = b.get("behaviour_floor_us")
    if not floor or "total" not in floor:
        return None
    parts = [(part, us) for part, us in floor.items() if part != "total"]
    rows = [[part, _num(us, 2), _num(float(us) / 1000, 3)] for part, us in parts]
    rows.append(["all of it (the event log unsealed)", _num(floor["total"], 2),
                 _num(float(floor["total"]) / 1000, 3)])  # fmt: skip
    sandbox_ms = b.get("sandbox_cpu_ms_per_invoke")
    notes = [
        "Each piece of a warm invoke's Lambda behaviour done by the sandbox's own code, "
        "alone, in a loop on the sandbox's interpreter (CPython "
        f"{b.get('sandbox_python', '?')}), on the process's CPU clock: no HTTP, no threads, "
        "no runtime. The sum is the least any design of the sandbox could spend per invoke "
        "while it keeps every behaviour."
    ]
    if sandbox_ms:
        notes.append(
            f"The sandbox spent {_num(sandbox_ms, 3)} ms of CPU per warm invoke (above): "
            f"{_num(float(sandbox_ms) - float(floor['total']) / 1000, 3)} ms more than this "
            "floor, for its HTTP exchanges, its threads and its driver."
        )
    return Table(
        "The least a warm invoke's Lambda behaviour costs (CPU per invoke)",
        ["part", "µs", "ms"],
        rows,
        notes,
    )


def _throughput_table(b: Mapping[str, Any]) -> Table:
    """Invocations per second under concurrent clients (bench.invoke_throughput)."""
    labels = {
        "sandbox": "sandbox",
        "lambda-runtime-api-daemon": "peer: the Lambda Runtime API Daemon",
        "aws-lambda-rie": "peer: AWS's Runtime Interface Emulator (one client)",
        "floor_selector": "floor: one selectors loop, one thread, as many runtimes",
    }
    rows: List[List[str]] = []
    notes: List[str] = []
    for level in b.get("rows") or []:
        servers = level.get("servers") or {}
        base = servers.get("sandbox") if isinstance(servers.get("sandbox"), Mapping) else {}
        for name, figures in servers.items():
            label = labels.get(name, name)
            if not isinstance(figures, Mapping):
                notes.append(f"{name}: {figures}")
                continue
            ratio = (
                base.get("per_second", 0) / figures["per_second"]
                if base and figures.get("per_second")
                else None
            )
            rows.append(
                [
                    label,
                    str(figures.get("clients", "?")),
                    _num(figures.get("per_second"), 1),
                    _num(figures.get("p50_ms"), 2),
                    _num(figures.get("p99_ms"), 2),
                    _num(figures.get("server_cpu_ms_per_invocation"), 3),
                    "—" if figures.get("machine_busy") is None
                    else f"{float(figures['machine_busy']):.0%}",
                    _ratio(ratio),
                ]
            )  # fmt: skip
    level = (b.get("rows") or [{}])[0]
    return Table(
        f"Throughput ({level.get('clients', '?')} keep-alive clients, MAX_CONCURRENCY "
        f"{level.get('max_concurrency', '?')}, CPython {b.get('python', '?')}, "
        f"{b.get('runtime', '?')})",
        ["server", "clients", "per second", "p50 ms", "p99 ms",
         "server CPU ms per invocation", "machine busy", "sandbox ÷ server per second"],
        rows,
        [
            "Each server warmed (5 invocations per client), then the invocations timed; "
            "the Runtime API Daemon starts up to MAX_CONCURRENCY runtimes, AWS's emulator "
            "runs one and serves one invocation at a time (a second client's connection "
            "is reset while one runs), so it is driven by one client. The server's CPU is "
            "its own process's (all its threads, not the runtimes it started), from "
            "/proc/<pid>/stat around the timed invocations; machine busy is the share of "
            "all CPUs busy meanwhile (/proc/stat). With the machine nearly all busy, "
            "invocations per second come to about the CPUs divided by what one invocation "
            "costs all the processes together (client, runtime, server): the server's own "
            "CPU per invocation is then what sets the servers apart. The selectors floor "
            "relays to as many runtimes from one thread and one selectors loop, with no work "
            "of its own: about the most a CPython server could serve here.",
            *notes,
        ],
    )  # fmt: skip


def _switches_note(switches: Optional[Mapping[str, Any]]) -> List[str]:
    if not switches:
        return []
    return [
        f"Context switches per invoke, all the sandbox's threads together "
        f"(/proc/<pid>/task/*/status around the unprofiled invokes): "
        f"{switches.get('voluntary', '?')} voluntary, {switches.get('involuntary', '?')} "
        "involuntary. The HTTP loop's thread sleeps in select between a request (or a "
        "printed line: the loop reads the processes' output too) and the next: one "
        "voluntary switch each; a hand-over to another thread (a timer, a handed-off "
        "request) is one or two more."
    ]


def _order_table(b: Mapping[str, Any]) -> Optional[Table]:
    """The external rule's shutdown timeline, when the benchmark measured it."""
    for f in (b.get("rules") or {}).values():
        points = f.get("timeline_ms")
        if points:
            return Table(
                f"Shutdown order with an external extension ({b.get('runs', '?')} shutdowns, "
                "a runtime that ignores SIGTERM and an extension that ignores SHUTDOWN; "
                "ms from shutdown.start)",
                ["event", "median ms", "worst ms", "range ms"],
                [
                    [
                        point.replace("_", " "),
                        _num(spread.get("median"), 1),
                        _num(spread.get("worst"), 1),
                        f"{_num(spread.get('min'), 1)} to {_num(spread.get('max'), 1)}",
                    ]
                    for point, spread in points.items()
                ],
            )
    return None


def _fidelity_table(b: Mapping[str, Any]) -> Table:
    rows = []
    for rule, f in (b.get("rules") or {}).items():
        rows.append(
            [
                rule,
                _num(f.get("limit_ms"), 0),
                _num(_get(f, "term_to_kill_ms", "median"), 1),
                _num(_get(f, "deviation_ms", "median"), 1, ""),
                _num(_get(f, "deviation_ms", "worst"), 1),
                _num(_get(f, "sandbox_to_runtime_term_ms", "median"), 2),
                _num(_get(f, "sandbox_to_runtime_term_ms", "worst"), 2),
            ]
        )
    return Table(
        f"Shutdown fidelity ({b.get('runs', '?')} shutdowns per rule, CPython "
        f"{b.get('python', '?')}, a runtime that ignores SIGTERM)",
        [
            "rule",
            "runtime's window ms",
            "SIGTERM→SIGKILL median ms",
            "deviation median ms",
            "worst deviation ms",
            "sandbox→runtime SIGTERM median ms",
            "worst ms",
        ],
        rows,
    )


def _cell_cost_tables(b: Mapping[str, Any]) -> List[Table]:
    rows = []
    for c in b.get("cells") or []:
        parts = c.get("floor_parts_ms") or {}
        rows.append(
            [
                str(c.get("backend")),
                str(c.get("cell")),
                str(c.get("runs")),
                _num(_get(c, "wall_s", "median"), 3),
                _num(c.get("floor_s"), 3),
                " + ".join(f"{k} {float(v):.0f}" for k, v in parts.items()),
                _ratio(c.get("ratio")),
            ]
        )
    tables = [
        Table(
            "Cost of a cell (seconds of wall time against its floor)",
            ["backend", "cell", "runs", "wall s (median)", "floor s", "floor parts ms", "ratio"],
            rows,
            [
                "floor = one interpreter start + the rule's grace window (the observed SIGTERM "
                "→ runtime exit, at most the limit) + one warm invoke (+ the idle timeout for "
                "idle cells)"
            ],
        )
    ]
    phased = [c for c in b.get("cells") or [] if c.get("phases_ms")]
    if phased:
        keys = list(PHASES)
        tables.append(
            Table(
                "Where a cell's wall time goes (median ms, from its event log)",
                ["backend", "rule", *keys],
                [
                    [
                        str(c.get("backend")),
                        str(c.get("rule")),
                        *(_num(c["phases_ms"].get(k), 0) for k in keys),
                    ]
                    for c in phased
                ],
                [
                    "; ".join(f"{k}: {v}" for k, v in PHASES.items()),
                ],
            )
        )
    matrix = b.get("matrix")
    if matrix:
        mrows = [
            [
                str(w.get("workers")),
                f"{w.get('passed', '?')}/{w.get('cells', '?')}",
                _num(w.get("wall_s"), 1),
                _num(w.get("floor_sum_s"), 1),
                _num(w.get("floor_per_worker_s"), 1),
                _ratio(w.get("ratio")),
            ]
            for w in matrix.get("workers") or []
        ]
        tables.append(
            Table(
                f"The default matrix by parallel workers ({matrix.get('backend', '?')} backend)",
                ["workers", "passed", "wall s", "Σ floors s", "Σ floors ÷ workers s", "ratio"],
                mrows,
                [f"pytest-xdist -n W on {matrix.get('cpus', '?')} CPUs; wall includes collection."],
            )
        )
    elif b.get("matrix_skipped"):
        tables[0] = Table(
            tables[0].title,
            tables[0].columns,
            tables[0].rows,
            [*tables[0].notes, f"matrix by workers: {b['matrix_skipped']}"],
        )
    return tables


def _cold_table(b: Mapping[str, Any]) -> Table:
    rows = [
        [
            f"{r.get('python')} ({r.get('python_full', '?')})",
            f"{r.get('client')} {r.get('client_version', '')}".strip(),
            str(r.get("runs")),
            _num(_get(r, "init_ms", "median"), 1),
            f"{_num(_get(r, 'init_ms', 'min'), 1)} to {_num(_get(r, 'init_ms', 'max'), 1)}",
            _num(_get(r, "import_ms", "median"), 1),
            _ratio(r.get("ratio")),
        ]
        for r in b.get("rows") or []
    ]
    return Table(
        "Cold start: Init Duration (init.end duration_ms) per Python and runtime client",
        [
            "Python",
            "client",
            "runs",
            "Init median ms",
            "range ms",
            "python -c 'import client' ms",
            "Init ÷ import",
        ],
        rows,
        [
            "the function under test (function/app.py), no extension; the floor is a bare "
            "interpreter importing the same client, timed in the same run"
        ],
    )


def bench_tables(data: Mapping[str, Any]) -> List[Table]:
    tables: List[Table] = []
    if data.get("invoke_overhead"):
        tables.append(_invoke_table(data["invoke_overhead"]))
    if data.get("invoke_profile"):
        tables.append(_profile_table(data["invoke_profile"]))
        floor = _floor_table(data["invoke_profile"])
        if floor is not None:
            tables.append(floor)
    if data.get("invoke_throughput"):
        tables.append(_throughput_table(data["invoke_throughput"]))
    if data.get("shutdown_fidelity"):
        tables.append(_fidelity_table(data["shutdown_fidelity"]))
        order = _order_table(data["shutdown_fidelity"])
        if order is not None:
            tables.append(order)
    if data.get("cell_cost"):
        tables.extend(_cell_cost_tables(data["cell_cost"]))
    if data.get("cold_start"):
        tables.append(_cold_table(data["cold_start"]))
    return tables


def _skips(data: Mapping[str, Any]) -> List[str]:
    return [f"{name}: skipped ({why})" for name, why in (data.get("skipped") or {}).items()]


def render_bench_text(data: Mapping[str, Any]) -> str:
    """Aligned plain-text tables for the terminal."""
    out = [f"bench: {machine_line(data)}"]
    for table in bench_tables(data):
        grid = [list(table.columns), *[list(r) for r in table.rows]]
        widths = [max(len(row[i]) for row in grid) for i in range(len(table.columns))]
        out += ["", table.title]
        for n, row in enumerate(grid):
            out.append("  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip())
            if n == 0:
                out.append("  ".join("-" * w for w in widths))
        out += [f"  {note}" for note in table.notes]
    out += _skips(data)
    return "\n".join(out) + "\n"


def _md_cell(text: str) -> str:
    return text.replace("|", "\\|")


def render_bench_markdown(data: Mapping[str, Any], heading: str = "## Benchmarks") -> List[str]:
    """The REPORT.md section (and BENCH.md's body) as lines."""
    out = [
        heading,
        "",
        f"Measured on {machine_line(data)}. Command: `{data.get('command', 'python -m bench')}`.",
    ]
    for table in bench_tables(data):
        out += [
            "",
            f"**{table.title}**",
            "",
            "| " + " | ".join(_md_cell(c) for c in table.columns) + " |",
            "|" + "---|" * len(table.columns),
        ]
        out += ["| " + " | ".join(_md_cell(c) for c in row) + " |" for row in table.rows]
        out += ["", *[f"_{note}_" for note in table.notes]] if table.notes else []
    skips = _skips(data)
    if skips:
        out += ["", *[f"- {s}" for s in skips]]
    return out


def render_bench_html(data: Optional[Mapping[str, Any]]) -> str:
    if not data:
        return ""
    e = html.escape
    out = [
        f'<h2 id="bench">Benchmarks</h2><p class="lead">Measured on {e(machine_line(data))}.</p>'
    ]
    for table in bench_tables(data):
        head = "".join(f"<th>{e(c)}</th>" for c in table.columns)
        body = "".join(
            "<tr>" + "".join(f"<td>{e(c)}</td>" for c in row) + "</tr>" for row in table.rows
        )
        notes = "".join(f'<p class="lead"><small>{e(n)}</small></p>' for n in table.notes)
        out.append(
            f'<h3>{e(table.title)}</h3><table class="bench"><thead><tr>{head}</tr></thead>'
            f"<tbody>{body}</tbody></table>{notes}"
        )
    out += [f"<p>{e(s)}</p>" for s in _skips(data)]
    return "\n".join(out)
