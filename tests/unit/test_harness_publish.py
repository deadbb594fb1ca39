"""Publishing: the latest run becomes the repository's results/, whole, and only on request."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.report.publish import NothingToPublish, main, plan, publish


def test_the_plan_copies_one_runs_files_and_drops_the_rest() -> None:
    copy, remove = plan(
        ["results.json", "REPORT.md", "report.html", "cells", "telemetry"],
        ["results.json", "REPORT.md", "bench.json", "BENCH.md", "cells", "latest"],
    )
    assert copy == ["REPORT.md", "results.json", "report.html", "cells"]
    # No benchmark in this run: the published one would mix two runs.
    assert remove == ["bench.json", "BENCH.md"]
    with pytest.raises(NothingToPublish, match="run the matrix first"):
        plan(["REPORT.md"], [])


def test_publish_replaces_the_published_set(tmp_path: Path) -> None:
    latest, published = tmp_path / "results" / "latest", tmp_path / "results"
    (latest / "cells" / "process" / "c1").mkdir(parents=True)
    (latest / "cells" / "process" / "c1" / "events.jsonl").write_text("new\n")
    (latest / "results.json").write_text("{}")
    (latest / "REPORT.md").write_text("# new")
    (published / "cells" / "docker" / "old").mkdir(parents=True)
    (published / "BENCH.md").write_text("old bench")
    (published / "README.keep").write_text("not a result")
    publish(latest, published)
    assert (published / "REPORT.md").read_text() == "# new"
    assert (published / "cells" / "process" / "c1" / "events.jsonl").read_text() == "new\n"
    assert not (published / "cells" / "docker").exists(), "evidence of one run only"
    assert not (published / "BENCH.md").exists()
    assert (published / "README.keep").exists() and (latest / "REPORT.md").exists()


def test_nothing_to_publish_is_one_line_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--from", str(tmp_path / "none"), "--to", str(tmp_path)]) == 2
    assert capsys.readouterr().err.strip() == (
        "publish: error: no results/latest/results.json: run the matrix first (./lab matrix)"
    )
