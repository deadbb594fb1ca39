"""report.html from recorded event logs: grids by outcome, a timeline per cell, nothing fetched."""

from __future__ import annotations

import dataclasses
import re
from html.parser import HTMLParser
from typing import Dict, List, Tuple

from support.reports import META, recorded_results

from harness.report.html import (
    OUTCOME_COLOURS,
    outcome,
    render_report_html,
    slug,
    timing_text,
)

BENCH = {
    "benchversion": "1",
    "machine": {"cpu": "Test CPU", "cpus": 2, "memory_gb": 4, "platform": "Linux"},
    "start": "2026-01-01T00:00:00+00:00",
    "invoke_overhead": {
        "python": "3.12.1",
        "client": "awslambdaric 4.2.2",
        "rounds": 2,
        "warmup": 5,
        "paths": {
            "sandbox": {"n": 10, "p50": 2.0, "p99": 8.0},
            "floor_relay": {"n": 10, "p50": 1.0, "p99": 4.0},
        },
    },
}


class Tags(HTMLParser):
    """Every start tag with its attributes; fails the test on unbalanced nesting of key tags."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: List[Tuple[str, Dict[str, str]]] = []

    def handle_starttag(self, tag: str, attrs: List[Tuple[str, str | None]]) -> None:
        self.tags.append((tag, {k: v or "" for k, v in attrs}))


def page() -> str:
    results, logs = recorded_results()
    return render_report_html(results, META, logs, BENCH)


def parsed(text: str) -> Tags:
    tags = Tags()
    tags.feed(text)
    return tags


def test_grid_per_trigger_with_outcome_colours_and_timings() -> None:
    results, _ = recorded_results()
    text = page()
    tags = parsed(text)
    grids = [a for t, a in tags.tags if t == "table" and "grid" in a.get("class", "")]
    assert [(g["data-backend"], g["data-trigger"]) for g in grids] == [
        ("process", "stop"),
        ("process", "idle"),
    ]
    squares = [a for t, a in tags.tags if t == "td" and "o" in a.get("class", "").split()]
    assert len(squares) == len(results)
    assert {outcome(r) for r in results} == {"ran", "lost", "skipped"}
    for kind in ("ran", "lost", "skipped"):
        assert f"background:{OUTCOME_COLOURS[kind]}" in text
    killed = next(r for r in results if r.extension == "external" and not r.observed_cleanup)
    assert timing_text(killed).startswith("SIGKILL +20")  # 2,000 ms from SIGTERM
    ran = next(r for r in results if r.observed_cleanup)
    assert timing_text(ran).startswith("cleanup +")
    no_ext = next(r for r in results if r.extension == "none")
    assert timing_text(no_ext) == "SIGKILL at 0 ms, no SIGTERM"
    assert "exp no cleanup · obs no cleanup ✓" in text


def test_a_timeline_per_cell_with_hover_and_links_to_raw_lines() -> None:
    results, logs = recorded_results()
    text = page()
    tags = parsed(text)
    ids = {a.get("id") for _, a in tags.tags}
    svgs = [a for t, a in tags.tags if t == "svg"]
    assert len(svgs) == len(logs)
    for r in results:
        assert slug(r.key) in ids
        if r.key in logs:
            assert f"{slug(r.key)}-L1" in ids and f"{slug(r.key)}-L{len(logs[r.key])}" in ids
    links = [a["href"] for t, a in tags.tags if t == "a" and a.get("href", "").startswith("#")]
    assert all(href[1:] in ids for href in links)  # every click lands somewhere
    assert text.count("<title>") > 100
    assert "SIGKILL sent to runtime" in text and "SHUTDOWN event (spindown)" in text
    assert "&quot;kind&quot;: &quot;signal.sent&quot;" in text  # raw log lines in the hovers


def test_versions_platform_and_bench() -> None:
    text = page()
    assert "Versions and platform" in text and META.platform in text
    assert "CPython 3.12" in text and "legacy requests-2.31.0" in text
    assert "Invoke overhead" in text and "2.00x" in text and "Test CPU, 2 CPUs" in text


def test_self_contained_and_escaped() -> None:
    results, logs = recorded_results()
    evil = dataclasses.replace(results[0], reasons=("<script>alert(1)</script>",), verdict="fail")
    text = render_report_html([evil, *results[1:]], META, logs)
    assert "<script>alert(1)" not in text and "&lt;script&gt;alert(1)" in text
    assert text.count("<script>") == 1  # the page's own, inline
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", text)
    assert "@import" not in text and "url(" not in text
    assert "<link" not in text and "<img" not in text and "<iframe" not in text


def test_cells_without_logs_and_unknown_triggers_still_render() -> None:
    results, _ = recorded_results()
    odd = dataclasses.replace(results[0], trigger="timeout", id="odd-cell")
    text = render_report_html([*results, odd], META, {})
    assert "trigger timeout" in text and "no event log" in text and "<svg" not in text
