"""Where a warm invoke's time goes: the parts are read from a profile's table by the
functions that make them, and reported as shares of the sandbox's CPU."""

from __future__ import annotations

from bench.invoke_profile import part_seconds, scaled_parts, table, total_seconds, window
from harness.report.bench import bench_tables

SANDBOX = "/src/lambda_sandbox"


def row(cumulative: float) -> tuple:
    return (1, 1, 0.0, cumulative, {})  # pstats: cc, nc, tottime, cumtime, callers


def test_each_part_sums_the_cumulative_time_of_its_functions() -> None:
    stats = {
        (f"{SANDBOX}/http_connection.py", 139, "_parse_head"): row(0.30),
        ("~", 0, "<method 'recv' of '_socket.socket' objects>"): row(0.05),
        (f"{SANDBOX}/http_common.py", 116, "encode_answer"): row(0.15),
        (f"{SANDBOX}/http_connection.py", 210, "_write"): row(0.05),
        (f"{SANDBOX}/eventlog.py", 304, "write"): row(0.10),
        ("/usr/lib/python3.11/http/server.py", 267, "parse_request"): row(9.0),  # not ours
        (f"{SANDBOX}/other.py", 1, "_write"): row(9.0),  # same name, another file
    }
    parts = part_seconds(stats)
    assert parts["reading requests (request line, headers, body)"] == 0.35
    assert parts["writing answers (status, headers, body)"] == 0.20
    assert parts["event-log writes"] == 0.10
    assert parts["/proc reads (max memory, thread states at thaw)"] == 0.0


def test_the_window_is_the_difference_of_two_snapshots_and_all_its_cpu_the_own_times() -> None:
    key = (f"{SANDBOX}/eventlog.py", 304, "write")
    other = (f"{SANDBOX}/pool.py", 1, "invoke")
    start = {key: (10, 10, 0.1, 0.3, {})}
    end = {key: (30, 30, 0.4, 0.9, {}), other: (5, 5, 0.2, 0.2, {})}
    between = window(start, end)
    assert between[key][:4] == (20, 20, 0.4 - 0.1, 0.9 - 0.3)
    assert between[other][:4] == (5, 5, 0.2, 0.2)  # new in the window: all of it
    assert total_seconds(between) == 0.4 - 0.1 + 0.2


def test_parts_are_shares_of_the_profiled_cpu_applied_to_the_unprofiled_cpu() -> None:
    scaled = scaled_parts({"a": 0.5, "b": 0.25}, profiled_s=1.0, cpu_ms_per_invoke=2.0, invokes=100)
    assert scaled["a"] == {"profiled_ms_per_invoke": 5.0, "share_of_cpu": 0.5, "ms_per_invoke": 1.0}
    assert scaled["b"]["ms_per_invoke"] == 0.5
    assert scaled_parts({"a": 1.0}, 0.0, 2.0, 10)["a"]["share_of_cpu"] == 0.0


FIGURES = {
    "invokes": 500,
    "latency": {"p50": 1.5, "p99": 2.1},
    "duration_ms_p50": 1.2,
    "runtime_cpu_ms_per_invoke": 0.34,
    "sandbox_cpu_ms_per_invoke": 0.96,
    "runtime": "awslambdaric 4.2.2 on CPython 3.12.1",
    "sandbox_python": "3.11.7",
    "parts": {
        "writing answers (status, headers, body)": {"share_of_cpu": 0.15, "ms_per_invoke": 0.149},
        "reading requests (request line, headers, body)": {
            "share_of_cpu": 0.39,
            "ms_per_invoke": 0.377,
        },
    },
}


def test_the_text_and_the_report_table_put_the_biggest_part_first() -> None:
    lines = table(FIGURES)
    assert "runtime 0.340 ms, sandbox 0.960 ms" in lines[1]
    assert lines[2].endswith("reading requests (request line, headers, body)")
    (profile,) = bench_tables({"invoke_profile": FIGURES})
    assert [r[0].strip() for r in profile.rows][
        2
    ] == "reading requests (request line, headers, body)"
    assert profile.rows[-1][1] == "46%"  # what no named part covers
    assert not any("Context switches" in note for note in profile.notes)


def test_context_switches_are_reported_when_measured() -> None:
    figures = {**FIGURES, "context_switches_per_invoke": {"voluntary": 18.8, "involuntary": 4.2}}
    assert "18.8 voluntary, 4.2 involuntary" in table(figures)[2]
    (profile,) = bench_tables({"invoke_profile": figures})
    assert any("18.8 voluntary, 4.2 involuntary" in note for note in profile.notes)
