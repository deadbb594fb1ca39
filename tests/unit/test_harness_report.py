"""Rendering results.json, REPORT.md and report.html from cell results; per-cell files."""

from __future__ import annotations

import dataclasses
import json
from html.parser import HTMLParser
from pathlib import Path
from typing import Dict, List, Optional, Tuple

from support.factories import result
from support.reports import META

from harness.paths import TEST_DATA
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
    assert data["reportversion"] == REPORT_VERSION == "2"
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


class Element:
    """One element of a parsed page: its attributes, children, and all the text inside it."""

    def __init__(self, tag: str, attrs: Dict[str, str]) -> None:
        self.tag, self.attrs = tag, attrs
        self.children: List[Element] = []
        self.text = ""

    def find(self, tag: str, cls: str = "") -> List[Element]:
        found = []
        for child in self.children:
            if child.tag == tag and (not cls or cls in child.attrs.get("class", "").split()):
                found.append(child)
            found.extend(child.find(tag, cls))
        return found


class PageParser(HTMLParser):
    VOID = {"meta", "br", "hr", "img", "input", "link"}

    def __init__(self) -> None:
        super().__init__()
        self.open = [Element("#document", {})]

    def handle_starttag(self, tag: str, attrs: List[Tuple[str, Optional[str]]]) -> None:
        element = Element(tag, {k: v or "" for k, v in attrs})
        self.open[-1].children.append(element)
        if tag not in self.VOID:
            self.open.append(element)

    def handle_startendtag(self, tag: str, attrs: List[Tuple[str, Optional[str]]]) -> None:
        self.open[-1].children.append(Element(tag, {k: v or "" for k, v in attrs}))

    def handle_endtag(self, tag: str) -> None:
        while len(self.open) > 1 and self.open.pop().tag != tag:
            pass

    def handle_data(self, data: str) -> None:
        for element in self.open:
            element.text += data


def parse_page(text: str) -> Element:
    parser = PageParser()
    parser.feed(text)
    parser.close()
    return parser.open[0]


def test_html_page_shows_each_cell_in_its_grid_with_its_outcome_and_timeline() -> None:
    hostile = result("3.13", reasons=("<script>",))
    results = [*RESULTS, hostile]
    stop_312, idle_38 = RESULTS[0], RESULTS[4]
    log = (TEST_DATA / "harness" / "awslambdaric-internal-signal-stop-killed.jsonl").read_text()
    logs = {r.key: log.splitlines() for r in (stop_312, idle_38)}
    page = parse_page(render_html(results, META, logs))

    summary = next(p for p in page.find("p") if p.attrs.get("id") == "summary")
    assert summary.text.startswith("6 cells: 4 pass, 1 fail, 1 skipped")

    # (trigger, Python column) -> (outcome class, headline, exp/obs line with the verdict mark)
    expected = {
        ("stop", "3.7"): ("skipped", "skipped", "exp no cleanup · obs —"),
        ("stop", "3.8"): ("lost", "cleanup lost", "exp no cleanup · obs no cleanup ✓"),
        ("stop", "3.12"): ("lost", "cleanup lost", "exp no cleanup · obs no cleanup ✓"),
        ("stop", "3.13"): ("lost", "cleanup lost", "exp no cleanup · obs no cleanup ✓"),
        ("idle", "3.7"): ("lost", "cleanup lost", "exp no cleanup · obs no cleanup ✓"),
        ("idle", "3.8"): ("fail", "FAIL: cleanup ran", "exp no cleanup · obs cleanup ✗"),
    }
    grids = page.find("table", "grid")
    assert [(g.attrs["data-backend"], g.attrs["data-trigger"]) for g in grids] == [
        ("process", "stop"),
        ("process", "idle"),
    ]
    shown: Dict[Tuple[str, str], Tuple[str, str, str]] = {}
    links: Dict[Tuple[str, str], str] = {}
    for grid in grids:
        trigger = grid.attrs["data-trigger"]
        columns = [th.text for th in grid.find("thead")[0].find("th")]
        for row in grid.find("tbody")[0].find("tr"):
            for column, td in zip(columns[5:], row.find("td")):
                if "o" not in td.attrs.get("class", "").split():
                    continue
                python = column.removeprefix("Python ")
                kind = next(c[2:] for c in td.attrs["class"].split() if c.startswith("o-"))
                headline = td.find("b")[0].text
                shown[(trigger, python)] = (kind, headline, td.find("span", "ev")[0].text.strip())
                links[(trigger, python)] = td.find("a")[0].attrs["href"]
    assert shown == expected

    sections = {s.attrs["id"]: s for s in page.find("section", "cell")}
    assert len(sections) == len(results)
    for r in results:
        # The cell's square links to the cell's own section, which says why it ended so.
        section = sections[links[(r.trigger, r.python)].removeprefix("#")]
        assert r.id in section.find("h3")[0].text
        assert section.attrs["data-outcome"] == expected[(r.trigger, r.python)][0]
        for reason in r.reasons:
            assert reason in section.text
        assert not section.find("script")  # a reason is shown as text, never as markup
        timelines = section.find("svg", "tl")
        if r.key in logs:
            # One timeline, its marks linking into the cell's raw log shown with it.
            assert len(timelines) == 1 and "no event log" not in section.text
            lines = {li.attrs["id"] for li in section.find("li")}
            assert len(lines) == len(logs[r.key])
            marks = {a.attrs["href"].removeprefix("#") for a in timelines[0].find("a")}
            assert marks and marks <= lines
        else:
            assert timelines == [] and "no event log" in section.text


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
