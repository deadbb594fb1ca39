"""The benchmarks' pure parts, their report tables, and the loopback floor's processes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Dict, List

import pytest
from support.skips import unavailable

from bench.__main__ import parse_args
from bench.cell_cost import floor_parts_ms, phases_ms, representative_cells
from bench.common import latency_stats, percentile
from bench.invoke_overhead import INVOKE_PATH, Exchange
from bench.loopback_floor import Floor
from harness import probes
from harness.model.scenarios import load_cells
from harness.paths import PROJECT_ROOT as ROOT
from harness.paths import TEST_DATA
from harness.report.bench import (
    bench_tables,
    render_bench_html,
    render_bench_markdown,
    render_bench_text,
)
from lambda_sandbox.eventlog import read_event_log

RECORDED = TEST_DATA / "bench" / "bench-quick.json"
LOGS = TEST_DATA / "harness"


def recorded() -> Dict[str, Any]:
    data: Dict[str, Any] = json.loads(RECORDED.read_text())
    return data


def test_percentiles_are_measured_values() -> None:
    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 50) == 50.0 and percentile(values, 99) == 99.0
    assert percentile([3.0], 99) == 3.0
    stats = latency_stats([1.0, 2.0, 3.0, 10.0])
    assert stats["n"] == 4 and stats["p50"] == 2.0 and stats["p99"] == 10.0 and stats["min"] == 1.0
    with pytest.raises(ValueError):
        percentile([], 50)


def test_floor_of_a_cell() -> None:
    # A runtime killed at the limit pays the whole window; a prompt cleanup pays what it used.
    assert floor_parts_ms(30.0, 1.0, 500, True, 501.7, 0.0) == {
        "interpreter": 30.0,
        "grace": 500.0,
        "invoke": 1.0,
    }
    assert floor_parts_ms(30.0, 1.0, 500, True, 4.0, 0.0)["grace"] == 4.0
    assert floor_parts_ms(30.0, 1.0, 0, False, None, 0.0)["grace"] == 0.0
    assert floor_parts_ms(30.0, 1.0, 2000, True, None, 1000.0) == {
        "interpreter": 30.0,
        "grace": 2000.0,
        "invoke": 1.0,
        "idle": 1000.0,
    }


def test_phases_of_a_recorded_cell_add_up_to_its_wall_time() -> None:
    log = read_event_log(str(LOGS / "awslambdaric-internal-signal-stop-killed.jsonl"))
    assert log.events and not log.problems
    started, ended = log.events[0]["ts"] - 0.2, log.events[-1]["ts"] + 0.05
    phases = phases_ms(log.events, started, ended)
    assert phases["to_sandbox_start"] == pytest.approx(200.0, abs=0.2)
    assert phases["shutdown"] == pytest.approx(500, abs=30) and phases["init"] > 0
    assert sum(phases.values()) == pytest.approx((ended - started) * 1000, abs=1)


def test_one_representative_cell_per_shutdown_behaviour() -> None:
    cells = representative_cells(
        load_cells(ROOT / "scenarios" / "experiments", probes.check_settings)
    )
    assert [(c.extension, c.strategy) for c in cells] == [
        ("none", "wakeup-fd"),
        ("internal", "wakeup-fd"),
        ("internal", "signal"),
        ("external", "signal"),
    ]
    assert all(c.python == "3.12" and c.trigger == "stop" for c in cells)
    assert cells[2].execution_env is None


def test_tables_from_a_recorded_quick_run() -> None:
    data = recorded()
    titles = [t.title for t in bench_tables(data)]
    assert [t.split(" ")[0] for t in titles] == ["Invoke", "Shutdown", "Cost", "Where", "Cold"]
    text = render_bench_text(data)
    assert text.startswith("bench: ") and "sandbox warm invoke" in text and "x " in text
    markdown = "\n".join(render_bench_markdown(data))
    assert markdown.startswith("## Benchmarks") and "| internal-only | 500 |" in markdown
    assert "python -m bench --quick" in markdown
    assert '<table class="bench">' in render_bench_html(data)
    assert render_bench_html(None) == ""


def test_tables_tolerate_missing_parts() -> None:
    data = {"machine": {}, "skipped": {"cold": "no CPython 3.7"}, "cell_cost": {"cells": []}}
    text = render_bench_text(data)
    assert "cold: skipped (no CPython 3.7)" in text
    assert "- cold: skipped (no CPython 3.7)" in render_bench_markdown(data)


def test_command_line() -> None:
    args = parse_args(["--quick", "--only", "invoke,cold", "--matrix-workers", "1,2"])
    assert args.quick and args.only == ["invoke", "cold"] and args.matrix_workers == [1, 2]
    assert parse_args([]).matrix_workers is None
    with pytest.raises(SystemExit):
        parse_args(["--only", "everything"])
    with pytest.raises(SystemExit):
        parse_args(["--matrix-workers", "0"])


@pytest.mark.integration
def test_floor_relays_an_invoke_through_its_runtime_process(tmp_path: Path) -> None:
    import sys

    with Floor(Path(sys.executable)) as floor:
        exchange = Exchange(floor.address)
        try:
            answer = json.loads(exchange.post("/invoke", b'{"n": 1}'))
            echo = exchange.post("/echo", b'{"n": 2}')
        finally:
            exchange.close()
        procs = list(floor.procs)
    assert answer["echo"] == {"n": 1} and answer["request_id"] == "1"
    assert echo == b'{"n": 2}'
    assert all(p.poll() is not None for p in procs)  # both killed on exit


@pytest.mark.integration
def test_the_floor_relays_to_awslambdaric_on_the_runtime_apis_paths(tmp_path: Path) -> None:
    from support.interpreters import awslambdaric_python

    from harness.paths import TEST_FIXTURES

    python = awslambdaric_python("3.12")
    runtime_cmd = [str(python), "-m", "awslambdaric", "app.handler"]
    with Floor(python, runtime_cmd, TEST_FIXTURES / "fn") as floor:
        exchange = Exchange(floor.address)
        try:
            first = json.loads(exchange.post(INVOKE_PATH, b'{"n": 1}'))
            second = json.loads(exchange.post(INVOKE_PATH, b'{"n": 2}'))
        finally:
            exchange.close()
        runtime_pid = floor.procs[-1].pid
        procs = list(floor.procs)
    # The fixture function's answer: the event, the request id the floor gave it.
    assert (first["echo"], first["request_id"]) == ({"n": 1}, "1")
    assert (second["echo"], second["request_id"]) == ({"n": 2}, "2")
    assert first["pid"] == second["pid"] == runtime_pid
    assert all(p.poll() is not None for p in procs)


@pytest.mark.integration
def test_the_selector_floor_relays_to_as_many_awslambdaric_runtimes(tmp_path: Path) -> None:
    import concurrent.futures

    from support.interpreters import awslambdaric_python

    from harness.paths import TEST_FIXTURES

    python = awslambdaric_python("3.12")
    runtime_cmd = [str(python), "-m", "awslambdaric", "app.handler"]
    with Floor(python, runtime_cmd, TEST_FIXTURES / "fn", selector=True, runtimes=2) as floor:

        def two_invokes(n: int) -> List[Dict[str, Any]]:
            exchange = Exchange(floor.address)
            try:
                return [json.loads(exchange.post(INVOKE_PATH, b'{"n": %d}' % (n * 10 + i)))
                        for i in range(2)]  # fmt: skip
            finally:
                exchange.close()

        with concurrent.futures.ThreadPoolExecutor(4) as pool:
            answers = [a for chunk in pool.map(two_invokes, range(4)) for a in chunk]
        runtime_pids = {p.pid for p in floor.procs[1:]}
        procs = list(floor.procs)
    # Every invoke answered with its own event, by one of the two runtimes, once.
    assert sorted(a["echo"]["n"] for a in answers) == [0, 1, 10, 11, 20, 21, 30, 31]
    assert len({a["request_id"] for a in answers}) == 8
    assert {a["pid"] for a in answers} <= runtime_pids and len(runtime_pids) == 2
    assert all(p.poll() is not None for p in procs)


@pytest.mark.integration
@pytest.mark.slow
def test_the_profile_says_where_a_warm_invokes_time_goes() -> None:
    from bench import invoke_profile

    try:
        figures = invoke_profile.run("3.12", invoke_profile.SANDBOX_PYTHON, invokes=200)
    except LookupError as missing:
        unavailable(str(missing), interpreter=True)
    parts = figures["parts"]
    shares = [row["share_of_cpu"] for row in parts.values()]
    # Every named part did some work, and together they are most, not more than all, of it.
    assert all(share > 0 for share in shares), parts
    assert 0.3 < sum(shares) <= 1.0
    assert figures["sandbox_cpu_ms_per_invoke"] > 0 and figures["runtime_cpu_ms_per_invoke"] > 0
    assert figures["latency"]["n"] == 200 and figures["duration_ms_p50"] > 0
    # The loop's thread sleeps in select at least for the invoke and the runtime's answer.
    assert figures["context_switches_per_invoke"]["voluntary"] >= 2
    # The behaviour alone costs something, and less than the whole sandbox spends.
    floor_ms = figures["behaviour_floor_us"]["total"] / 1000
    assert 0 < floor_ms < figures["sandbox_cpu_ms_per_invoke"]


def test_the_throughput_table_compares_servers_per_second_and_cpu() -> None:
    data = {
        "invoke_throughput": {
            "python": "3.12.1",
            "runtime": "awslambdaric 4.2.2",
            "rows": [
                {
                    "max_concurrency": 4,
                    "clients": 16,
                    "servers": {
                        "sandbox": {"clients": 16, "per_second": 600.0, "p50_ms": 20.0,
                                    "p99_ms": 80.0, "server_cpu_ms_per_invocation": 1.4,
                                    "machine_busy": 0.7},
                        "lambda-runtime-api-daemon": {"clients": 16, "per_second": 2400.0,
                                                      "p50_ms": 6.0, "p99_ms": 11.0,
                                                      "server_cpu_ms_per_invocation": 0.16,
                                                      "machine_busy": 0.92},
                        "aws-lambda-rie": "peer not found (LAB_PEERS_BIN, PATH)",
                    },
                }
            ],
        }
    }  # fmt: skip
    (table,) = bench_tables(data)
    assert table.title.startswith("Throughput (16 keep-alive clients, MAX_CONCURRENCY 4")
    assert [row[0] for row in table.rows] == ["sandbox", "peer: the Lambda Runtime API Daemon"]
    assert table.rows[1][5:] == ["0.160", "92%", "0.25x"]
    assert any(note.startswith("aws-lambda-rie: peer not found") for note in table.notes)


@pytest.mark.integration
def test_throughput_counts_the_sandboxs_own_cpu_per_invocation() -> None:
    from support.interpreters import awslambdaric_python

    from bench.invoke_throughput import measure

    python = awslambdaric_python("3.12")
    row = measure(python, concurrency=2, invocations=64, clients=4, peer_names=())
    figures = row["servers"]["sandbox"]
    assert figures["invocations"] == 64 and figures["per_second"] > 0
    # The sandbox did work for every invocation, on a machine that was not idle.
    assert figures["server_cpu_ms_per_invocation"] > 0
    assert 0 < figures["machine_busy"] <= 1


def test_the_behaviour_floor_table_compares_the_floor_with_the_sandbox() -> None:
    floor = {"the lifecycle machine (requested, responded, next)": 12.0,
             "event-log lines (7)": 50.0, "total": 90.0}  # fmt: skip
    data = {"invoke_profile": {"sandbox_cpu_ms_per_invoke": 0.84, "sandbox_python": "3.11.7",
                               "behaviour_floor_us": floor, "parts": {}}}  # fmt: skip
    tables = bench_tables(data)
    (table,) = [t for t in tables if t.title.startswith("The least")]
    assert table.rows[-1] == ["all of it (the event log unsealed)", "90.00", "0.090"]
    assert "0.750 ms more than this floor" in table.notes[1]


@pytest.mark.integration
def test_the_behaviour_floor_times_every_part() -> None:
    from bench.behaviour_floor import PARTS, SEALED, measure

    figures = measure(200)
    assert all(figures[part] > 0 for part in (*PARTS, SEALED))
    # Sealing adds an HMAC per line; the sum is of the parts, unsealed.
    assert figures[SEALED] > figures[PARTS[1]] * 0.9
    assert abs(figures["total"] - sum(figures[part] for part in PARTS)) < 0.1
