"""./lab check's pure parts: finding the handler, the cells, the answers and the table."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from support.factories import cell

from harness.check.handler import handler_problem
from harness.check.plan import COLUMNS, CheckRequest, check_cells, column
from harness.check.table import answer, fix_fails, grid, terminal
from harness.evidence.result import CellResult, not_observed
from harness.evidence.verdicts import Verdict, skipped
from harness.paths import FUNCTION_DIR

DEMO = Path(__file__).resolve().parents[2] / "examples" / "aws-graceful-shutdown" / "hello_world"


@pytest.mark.parametrize(
    ("files", "handler", "problem"),
    [
        ({"app.py": "def lambda_handler(e, c): pass\n"}, "app.lambda_handler", None),
        ({"app.py": "async def h(e, c): pass\n"}, "app.h", None),
        ({"app.py": "from impl import h\n"}, "app.h", None),
        ({"app.py": "h = make()\n"}, "app.h", None),
        ({"pkg/__init__.py": "", "pkg/mod.py": "def h(e, c): pass\n"}, "pkg.mod.h", None),
        ({"app.py": "def other(e, c): pass\n"}, "app.h", "app.py defines no 'h'"),
        ({}, "app.h", "no app.py or app/__init__.py in"),
        ({"app.py": "def h(:\n"}, "app.h", "does not parse"),
        ({"app.py": ""}, "handler", "expected module.function"),
    ],
)
def test_the_handler_is_found_without_importing_the_function(
    tmp_path: Path, files: dict, handler: str, problem: "str | None"
) -> None:
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    found = handler_problem(tmp_path, handler)
    if problem is None:
        assert found is None
    else:
        assert found is not None and problem in found


def test_each_target_runs_as_written_and_with_the_fix_that_fits_it() -> None:
    cells = check_cells(
        CheckRequest(
            DEMO, "app.lambda_handler", "[runtime] cleaning up", FUNCTION_DIR / "extensions"
        )
    )
    by_target: dict = {}
    for c in cells:
        by_target.setdefault(c.target, set()).add((c.extension, c.strategy))
    assert by_target["python3.8"] == {
        ("none", "signal"),
        ("none", "layer"),
        ("external", "signal"),
        ("external", "layer"),
    }
    assert by_target["custom image 3.12 (lambda)"] == {
        ("none", "signal"),
        ("none", "package"),
        ("external", "signal"),
        ("external", "package"),
    }
    assert {column(c.strategy, c.extension) for c in cells} == set(COLUMNS)


def _result(**changes: object) -> CellResult:
    base = not_observed(cell(target="python3.8"), "process", Verdict("pass", ()), (0.0, 1.0))
    return dataclasses.replace(base, **{"sigterm_sent": True, "killed": False, **changes})


@pytest.mark.parametrize(
    ("changes", "marker", "word"),
    [
        ({"observed_cleanup": True, "ms_sigterm_to_cleanup": 1.2}, True, "runs"),
        ({"observed_cleanup": False, "killed": True}, True, "lost"),
        ({"sigterm_sent": False}, True, "no SIGTERM"),
        ({"killed": False, "ms_sigterm_to_exit": 30.0}, False, "runs"),  # no marker: it exited
        ({"killed": True}, False, "lost"),
        ({"sigterm_sent": None}, True, "failed"),
        ({"reasons": ("invocation 1 of 1: the function failed (Unhandled)",)}, True, "failed"),
        ({"verdict": "skipped", "reasons": ("no CPython 3.14 found",)}, True, "not run"),
    ],
)
def test_each_cell_answers_in_one_word(changes: dict, marker: bool, word: str) -> None:
    assert answer(_result(**changes), marker).word == word


def test_the_table_and_the_exit_status_follow_the_fix_columns() -> None:
    results = [
        _result(strategy="signal", extension="none", sigterm_sent=False),
        _result(
            strategy="layer", extension="none", observed_cleanup=True, ms_sigterm_to_cleanup=1.0
        ),
        _result(strategy="signal", extension="external", observed_cleanup=False, killed=True),
        _result(strategy="layer", extension="external", observed_cleanup=False, killed=True),
    ]
    rows, cells = grid(results, True)
    text = terminal(rows, cells)
    assert text.splitlines()[0].split()[:3] == ["target", "no", "extension"]
    assert "python3.8" in text and "no SIGTERM" in text and "runs (1 ms)" in text
    assert fix_fails(rows, cells) == ["python3.8 (external ext. + fix: lost)"]


def test_a_skipped_target_is_not_a_failure_of_the_fix() -> None:
    skipped_result = not_observed(
        cell(target="python3.14", strategy="layer"), "process", skipped("no CPython"), (0.0, 1.0)
    )
    rows, cells = grid([skipped_result], True)
    assert fix_fails(rows, cells) == []
