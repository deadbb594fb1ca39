"""The bisect end to end on its smallest piece of the ci subset: 2.0.7 and 2.0.8 on
CPython 3.12 with AWS_EXECUTION_ENV=AWS_Lambda_python3.12, the release where thread
polling starts, through ``python -m harness.bisect``'s own entry point."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from support.skips import unavailable

from harness.bisect.cli import main
from harness.bisect.releases import RELEASES_FILE
from harness.provision.interpreters import find_interpreter, where_searched

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(600)]

SMOKE = """
[subset.smoke]
releases = ["2.0.7", "2.0.8"]
python = "newest"
execution_env = ["AWS_Lambda_python3.12"]
"""


def test_the_thread_polling_change_point_is_observed_where_declared(tmp_path: Path) -> None:
    if find_interpreter("3.12") is None:
        unavailable(where_searched("3.12"), interpreter=True)
    releases = tmp_path / "releases.toml"
    releases.write_text(RELEASES_FILE.read_text(encoding="utf-8") + SMOKE, encoding="utf-8")
    results = tmp_path / "bisect"

    assert main(["--releases", str(releases), "--subset", "smoke", "--results", str(results)]) == 0

    data = json.loads((results / "results.json").read_text(encoding="utf-8"))
    assert data["reportversion"] == "2"
    cells = {c["id"]: c for c in data["cells"]}
    assert sorted(cells) == [
        f"py3.12-awslambdaric-{v}-env_AWS_Lambda_python3.12-internal-{s}-stop"
        for v in ("2.0.7", "2.0.8")
        for s in ("signal", "wakeup-fd")
    ]
    assert [c["verdict"] for c in cells.values()] == ["pass"] * 4, [
        c["reasons"] for c in cells.values()
    ]
    for cell in cells.values():
        assert (results / cell["event_log"]).is_file()
    text = (results / "BISECT.md").read_text(encoding="utf-8")
    assert (
        "| AWS_Lambda_python3.12 / signal / one CPython | 2.0.7 → 2.0.8 "
        "| lost → cleanup | lost → cleanup | agree |"
    ) in text


def test_a_bad_subset_is_one_line_and_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--subset", "nope"]) == 2
    assert (
        capsys.readouterr().err
        == "bisect: error: unknown subset 'nope': expected one of full, ci\n"
    )
