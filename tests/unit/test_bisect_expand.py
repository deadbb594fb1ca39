"""The expansion releases -> cells: unique ids, the CPythons chosen, expectations per range."""

from __future__ import annotations

from collections import Counter

import pytest

from harness.bisect.expand import (
    IMAGE_ENV,
    chosen_pythons,
    expand,
    expectation_for,
    sweep_envs,
    unavailable_pythons,
)
from harness.bisect.releases import RELEASES_FILE, Subset, load_releases
from harness.paths import FUNCTION_DIR

ALL_HERE = ("3.6", "3.7", "3.8", "3.9", "3.10", "3.11", "3.12", "3.13")
BOOK = load_releases(RELEASES_FILE)
MANAGED = (
    "AWS_Lambda_python3.12",
    "AWS_Lambda_python3.13",
    "AWS_Lambda_python3.14",
    "AWS_Lambda_python3.15",
)


def test_the_full_sweep_has_unique_ids_and_every_column_on_every_release() -> None:
    plan = expand(BOOK, BOOK.subset("full"), ALL_HERE)
    assert not [i for i, n in Counter(c.id for c in plan.cells).items() if n > 1]
    # 36 releases x (oldest, newest CPython) x (unset, Image, 4 managed values) x 2 strategies
    assert len(plan.cells) == 36 * 2 * 6 * 2
    assert sweep_envs(BOOK, BOOK.subset("full")) == (None, IMAGE_ENV, *MANAGED)
    cell = plan.cells[0]
    assert (cell.runtime_client, cell.extension, cell.trigger) == (
        "awslambdaric",
        "internal",
        "stop",
    )
    assert (cell.function_dir, cell.handler) == (FUNCTION_DIR, "app.handler")
    assert cell.cleanup_marker == "[runtime] SIGTERM received: cleaning up"


def test_the_oldest_and_newest_runnable_cpython_per_release() -> None:
    full = BOOK.subset("full")
    # 1.0.0 has wheels for 3.6 to 3.9; the sandbox needs 3.7+
    assert chosen_pythons(BOOK.release("1.0.0"), full, ALL_HERE) == ("3.7", "3.9")
    assert chosen_pythons(BOOK.release("2.0.8"), full, ALL_HERE) == ("3.7", "3.12")
    # 3.14 and 3.15 are not here: the newest found is the newest run
    assert chosen_pythons(BOOK.release("4.2.2"), full, ALL_HERE) == ("3.10", "3.13")
    newest = Subset("n", (), "newest", ())
    assert chosen_pythons(BOOK.release("4.2.2"), newest, ALL_HERE) == ("3.13",)
    assert chosen_pythons(BOOK.release("4.2.2"), full, ("3.12",)) == ("3.12",)


def test_what_is_not_run_is_said() -> None:
    assert unavailable_pythons(BOOK, ALL_HERE) == (
        "CPython 3.6: the sandbox needs 3.7+",
        "CPython 3.14: not found here",
        "CPython 3.15: not found here",
    )
    plan = expand(BOOK, Subset("s", ("1.0.0", "4.2.2"), "both", (None,)), ("3.8",))
    assert {c.runtime_client_version for c in plan.cells} == {"1.0.0"}
    assert any(
        note.startswith("awslambdaric 4.2.2: skipped, no runnable CPython")
        for note in plan.left_out
    )


@pytest.mark.parametrize(
    ("version", "env", "strategy", "cleanup"),
    [
        ("1.0.0", None, "signal", False),
        ("1.0.0", None, "wakeup-fd", False),  # next holds the GIL: the watcher cannot run
        ("1.1.0", None, "wakeup-fd", True),
        ("2.0.7", "AWS_Lambda_python3.12", "signal", False),
        ("2.0.8", "AWS_Lambda_python3.12", "signal", True),
        ("2.0.8", IMAGE_ENV, "signal", False),
        ("2.2.1", "AWS_Lambda_python3.13", "signal", False),
        ("3.0.0", "AWS_Lambda_python3.13", "signal", True),
        ("3.1.1", "AWS_Lambda_python3.14", "signal", False),
        ("4.0.0", "AWS_Lambda_python3.14", "signal", True),
        ("4.0.0", "AWS_Lambda_python3.15", "signal", False),
        ("4.0.1", "AWS_Lambda_python3.15", "signal", True),
        ("4.2.2", None, "signal", False),
        ("4.2.2", IMAGE_ENV, "wakeup-fd", True),
    ],
)
def test_expectations_follow_each_releases_facts(
    version: str, env: str, strategy: str, cleanup: bool
) -> None:
    release = BOOK.release(version)
    expected = expectation_for(release, env, strategy)
    assert expected.cleanup is cleanup
    assert version in expected.source and version in expected.reason


def test_the_ci_subset_is_small_and_crosses_every_declared_change_point() -> None:
    plan = expand(BOOK, BOOK.subset("ci"), ALL_HERE)
    assert len(plan.cells) <= 60
    versions = {c.runtime_client_version for c in plan.cells}
    assert {"1.0.0", "1.1.0", "2.0.7", "2.0.8", "2.2.1", "3.0.0"} <= versions
    assert len({(c.runtime_client_version, c.python) for c in plan.cells}) == len(versions)
