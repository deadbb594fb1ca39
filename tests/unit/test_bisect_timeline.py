"""The release timeline and its change points, on made-up results; BISECT.md from them."""

from __future__ import annotations

from typing import Optional

from support.factories import result
from support.reports import META

from harness.bisect.markdown import render_bisect
from harness.bisect.releases import RELEASES_FILE, load_releases
from harness.bisect.timeline import Column, change_points, release_pythons, timeline
from harness.evidence.result import CellResult

BOOK = load_releases(RELEASES_FILE)


def made_up(
    version: str,
    python: str,
    declared: bool,
    observed: Optional[bool],
    env: Optional[str] = None,
    strategy: str = "signal",
    verdict: Optional[str] = None,
) -> CellResult:
    cell_id = f"py{python}-awslambdaric-{version}-env_{env or 'unset'}-internal-{strategy}-stop"
    if verdict is None:
        verdict = "skipped" if observed is None else ("pass" if observed == declared else "fail")
    return result(
        python,
        id=cell_id,
        scenario="bisect",
        runtime_client_version=version,
        execution_env=env,
        strategy=strategy,
        expected_cleanup=declared,
        observed_cleanup=observed,
        verdict=verdict,
    )


def test_points_go_in_release_order_with_the_oldest_and_newest_cpython_per_release() -> None:
    results = [
        made_up("2.0.10", "3.12", False, False),
        made_up("2.0.9", "3.7", False, False),
        made_up("2.0.9", "3.12", False, False),
        made_up("2.0.10", "3.7", False, False),
        made_up("3.0.0", "3.9", False, False),  # one CPython only: it is oldest and newest
    ]
    assert release_pythons(results)["2.0.9"] == ("3.7", "3.12")
    table = timeline(results)
    oldest, newest = Column(None, "signal", "oldest"), Column(None, "signal", "newest")
    assert [(p.version, p.python) for p in table[oldest]] == [
        ("2.0.9", "3.7"),
        ("2.0.10", "3.7"),
        ("3.0.0", "3.9"),
    ]
    assert [p.python for p in table[newest]] == ["3.12", "3.12", "3.9"]


def test_change_points_declared_and_observed_side_by_side() -> None:
    py312 = "AWS_Lambda_python3.12"
    results = [
        made_up("2.0.7", "3.12", False, False, env=py312),
        made_up("2.0.8", "3.12", True, True, env=py312),  # both change here: agree
        made_up("2.0.9", "3.12", True, True, env=py312),
        made_up("1.0.0", "3.9", False, True, strategy="wakeup-fd"),  # observed differs
        made_up("1.1.0", "3.9", True, True, strategy="wakeup-fd"),
        made_up("1.2.0", "3.9", True, None, strategy="wakeup-fd"),  # skipped: no point
        made_up("2.0.0", "3.9", True, False, strategy="wakeup-fd"),
    ]
    changes = {
        (c.column.execution_env, c.column.strategy, c.column.role, c.version): c
        for c in change_points(timeline(results))
    }
    agree = changes[(py312, "signal", "one", "2.0.8")]
    assert (agree.previous, agree.declared, agree.observed, agree.status) == (
        "2.0.7",
        (False, True),
        (False, True),
        "agree",
    )
    declared_only = changes[(None, "wakeup-fd", "one", "1.1.0")]
    assert declared_only.status == "declared only" and declared_only.observed is None
    observed_only = changes[(None, "wakeup-fd", "one", "2.0.0")]
    # the skipped 1.2.0 is stepped over: the change is from 1.1.0
    assert (observed_only.previous, observed_only.observed, observed_only.status) == (
        "1.1.0",
        (True, False),
        "observed only",
    )
    assert not any(v == "1.2.0" for (_, _, _, v) in changes)


def test_opposite_changes_at_the_same_release_disagree() -> None:
    results = [
        made_up("2.0.7", "3.12", False, True),
        made_up("2.0.8", "3.12", True, False),
    ]
    (change,) = change_points(timeline(results))
    assert change.status == "disagree"


def test_bisect_md_marks_change_points_and_findings() -> None:
    py312 = "AWS_Lambda_python3.12"
    results = [
        made_up("1.0.0", "3.9", False, False, strategy="wakeup-fd", verdict="fail"),
        made_up("1.1.0", "3.10", True, True, strategy="wakeup-fd"),
        made_up("2.0.7", "3.12", False, False, env=py312),
        made_up("2.0.8", "3.12", True, False, env=py312),  # a finding: no observed change
    ]
    text = render_bisect(BOOK, results, META, "test", ["CPython 3.6: the sandbox needs 3.7+"])
    assert "## Change points" in text.split("## Release timeline")[0]
    assert "| 2.0.7 → 2.0.8 | lost → cleanup | — | declared only **finding** |" in text
    assert "| 1.0.0 → 1.1.0 | lost → cleanup | lost → cleanup | agree |" in text
    row_208 = next(line for line in text.splitlines() if line.startswith("| 2.0.8 |"))
    assert "◇ · ≠" in row_208
    row_110 = next(line for line in text.splitlines() if line.startswith("| 1.1.0 |"))
    assert "◆ ✓" in row_110
    row_100 = next(line for line in text.splitlines() if line.startswith("| 1.0.0 |"))
    assert "**no**" in row_100 and "· !" in row_100
    assert "## Releases whose `next` holds the GIL (1.0.0)" in text
    assert "- CPython 3.6: the sandbox needs 3.7+" in text


def test_one_cpython_per_release_makes_one_column_not_two() -> None:
    results = [made_up("2.0.7", "3.12", False, False), made_up("3.0.0", "3.13", False, False)]
    assert list(timeline(results)) == [Column(None, "signal", "one")]
    text = render_bisect(BOOK, results, META, "ci")
    assert "| unset |" in text.splitlines()[text.splitlines().index("### Strategy `signal`") + 2]
