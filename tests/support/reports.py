"""Cell results made from the recorded event logs in tests/data/harness, for report tests.

Each recorded log is judged for real; the cell fields around it (Python,
client, expectation) are declared here, so the report tests run on true
logs without starting a process.
"""

from __future__ import annotations

import dataclasses
from typing import Dict, List, Tuple

from harness.evidence.judge import DEFAULT_MARKER, judge
from harness.evidence.result import CellResult, observation_fields
from harness.paths import TEST_DATA
from harness.report.meta import RunMeta

DATA = TEST_DATA / "harness"

META = RunMeta(
    tool="lab",
    tool_version="0.1.0",
    platform="Linux-x86_64",
    host_python="CPython 3.11.7",
    backend="process",
    backend_note="requested with --backend",
    started=1_700_000_000.0,
    ended=1_700_000_060.0,
    command="python3 -m pytest harness/ --backend process",
)

# log file stem -> (python, client, version, extension, strategy, trigger, expected cleanup)
RECORDED: Dict[str, Tuple[str, str, str, str, str, str, bool]] = {
    "awslambdaric-external-signal-stop-killed": (
        "3.12", "awslambdaric", "4.2.2", "external", "signal", "stop", False,
    ),
    "awslambdaric-external-wakeup-fd-stop-cleanup": (
        "3.7", "awslambdaric", "2.2.1", "external", "wakeup-fd", "stop", True,
    ),
    "awslambdaric-internal-signal-stop-killed": (
        "3.8", "awslambdaric", "2.2.1", "internal", "signal", "stop", False,
    ),
    "awslambdaric-internal-wakeup-fd-idle-cleanup": (
        "3.12", "awslambdaric", "4.2.2", "internal", "wakeup-fd", "idle", True,
    ),
    "awslambdaric-strategy-none-idle": (
        "3.8", "awslambdaric", "2.2.1", "internal", "none", "idle", False,
    ),
    "legacy-internal-signal-stop-cleanup": (
        "3.7", "legacy", "requests-2.31.0", "internal", "signal", "stop", True,
    ),
    "legacy-no-extension-stop-killed": (
        "3.7", "legacy", "requests-2.31.0", "none", "wakeup-fd", "stop", False,
    ),
}  # fmt: skip


def recorded_results() -> Tuple[List[CellResult], Dict[str, List[str]]]:
    """One passing CellResult per recorded log, and the logs by cell id."""
    results: List[CellResult] = []
    logs: Dict[str, List[str]] = {}
    for stem, (python, client, version, ext, strategy, trigger, cleanup) in RECORDED.items():
        lines = (DATA / f"{stem}.jsonl").read_text(encoding="utf-8").splitlines()
        seen = judge(lines, DEFAULT_MARKER)
        cell_id = f"py{python}-{client}-{version}-env_unset-{ext}-{strategy}-{trigger}"
        results.append(
            CellResult(
                id=cell_id,
                scenario=stem.rsplit("-", 1)[0] if stem.endswith(("-killed", "-cleanup")) else stem,
                python=python,
                python_full_version=python + ".1",
                runtime_client=client,
                runtime_client_version=version,
                execution_env=None,
                extension=ext,
                strategy=strategy,
                trigger=trigger,
                backend="process",
                expected_cleanup=cleanup,
                expected_reason="recorded",
                expected_source="FACTS.md",
                **observation_fields(seen),
                verdict="pass" if seen.cleanup_seen == cleanup else "fail",
                reasons=(),
                event_log=f"cells/{cell_id}/events.jsonl",
                output_log=None,
                started=1_700_000_001.0,
                ended=1_700_000_003.0,
            )
        )
        logs[results[-1].key] = lines
    skipped = dataclasses.replace(
        results[0],
        id="py3.13-awslambdaric-4.2.2-env_unset-external-signal-stop",
        python="3.13",
        python_full_version=None,
        verdict="skipped",
        observed_cleanup=None,
        reasons=("no CPython 3.13 found",),
        event_log=None,
    )
    return [*results, skipped], logs
