"""Rendering results.json, REPORT.md and report.html from cell results; per-cell files."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

from support.factories import result
from support.reports import META

from harness.report.journal import read_results, write_result
from harness.report.markdown import REPORT_VERSION, render_json, render_markdown
from harness.report.writer import render_html, rewrite_report, write_report

REQUIRED_KEYS = {
    "id", "python", "runtime_client", "runtime_client_version", "execution_env", "extension",
    "strategy", "trigger", "backend", "expected_cleanup", "observed_cleanup", "sigterm_sent",
    "killed", "ms_sigterm_to_cleanup", "ms_sigterm_to_exit", "verdict", "event_log",
}  # fmt: skip


RESULTS = [
    result("3.12"),
    result("3.8"),
    result("3.7", trigger="idle"),
    result(
        "3.7",
        verdict="skipped",
        observed_cleanup=None,
        reasons=("no CPython 3.7 found",),
        event_log=None,
    ),
    result(
        "3.8",
        trigger="idle",
        observed_cleanup=True,
        verdict="fail",
        reasons=("expected no cleanup line but the runtime printed it",),
    ),
]


def test_json_is_versioned_and_has_every_required_key() -> None:
    data = render_json(RESULTS, META)
    assert data["reportversion"] == REPORT_VERSION == "1"
    assert data["toolversion"] == "0.1.0" and data["backend"] == "process"
    assert data["start"] == "2023-11-14T22:13:20+00:00" and data["elapsed_s"] == 60.0
    assert data["summary"] == {"pass": 3, "fail": 1, "skipped": 1}
    for cell in data["cells"]:
        assert set(cell) >= REQUIRED_KEYS
    json.dumps(data)  # serialisable as is


def test_markdown_answer_first_one_table_per_trigger() -> None:
    text = render_markdown(RESULTS, META)
    assert text.startswith("# Does the SIGTERM cleanup run")
    stop = text.index("## Trigger `stop`")
    idle = text.index("## Trigger `idle`")
    assert stop < idle < text.index("## Timings")
    stop_table = text[stop:idle]
    assert "| Python 3.7 | Python 3.8 | Python 3.12 |" in stop_table
    assert (
        "| awslambdaric-internal-signal | awslambdaric | unset | internal | signal | skipped |"
        in stop_table
    )
    assert "**cleanup lost** ✓" in stop_table
    idle_table = text[idle : text.index("## Failed")]
    assert "cleanup runs ✗ (expected no cleanup)" in idle_table
    assert "| Python 3.12 |" not in idle_table  # only the Pythons that ran this trigger
    assert (
        "`process/py3.7-awslambdaric-2.2.1-env_unset-internal-signal-stop` (skipped): "
        "no CPython 3.7 found" in text
    )
    assert "**awslambdaric-internal-signal** → no cleanup: native next (FACTS.md:" in text
    assert "SIGTERM→runtime@0" in text
    assert "CPython 3.12: 3.12.1" in text and "Python 3.8: awslambdaric 2.2.1" in text
    assert META.command in text


def test_html_is_the_grid_page() -> None:
    page = render_html([*RESULTS, result("3.13", reasons=("<script>",))], META)
    assert page.startswith("<!doctype html>") and '<table class="grid"' in page
    assert page.count('class="o o-lost"') == 4 and page.count('class="o o-fail"') == 1
    assert "<script>" in page and "&lt;script&gt;" in page  # only the page's own script


def test_results_round_trip_through_cell_files(tmp_path: Path) -> None:
    for r in RESULTS[:3]:
        write_result(tmp_path / "cells", r)
    back = read_results(tmp_path / "cells")
    assert sorted(back, key=lambda r: r.id) == sorted(RESULTS[:3], key=lambda r: r.id)
    written = write_report(tmp_path, back, META)
    assert sorted(p.name for p in written) == ["REPORT.md", "report.html", "results.json"]
    (tmp_path / "bench.json").write_text(json.dumps({"machine": {"cpu": "Test CPU"}}))
    before = (tmp_path / "results.json").read_text()
    rewritten = rewrite_report(tmp_path)
    assert sorted(p.name for p in rewritten) == ["REPORT.md", "report.html"]
    assert "## Benchmarks" in (tmp_path / "REPORT.md").read_text()
    assert "Test CPU" in (tmp_path / "report.html").read_text()
    assert (tmp_path / "results.json").read_text() == before
    assert rewrite_report(tmp_path / "nothing-here") == []
    assert json.loads((tmp_path / "results.json").read_text())["summary"]["pass"] == 3


def test_both_backends_side_by_side_and_a_disagreement_is_a_finding() -> None:
    process = RESULTS[1]
    docker_same = dataclasses.replace(process, backend="docker")
    agree = render_markdown([process, docker_same], META)
    word = "cleanup runs" if process.observed_cleanup else "**cleanup lost**"
    assert f"| docker: {word} ✓<br>process: {word} ✓ |" in agree
    assert "All 1 cells that ran on more than one backend agree" in agree

    docker_differs = dataclasses.replace(
        process, backend="docker", observed_cleanup=not process.observed_cleanup, verdict="fail"
    )
    differ = render_markdown([process, docker_differs], META)
    section = differ[differ.index("## Backends compared") :]
    assert "1 of 1 cells that ran on more than one backend disagree" in section
    assert f"- `{process.id}`: docker: cleanup" in section
    assert f"`docker/{process.id}`" in differ and f"`process/{process.id}`" in differ
