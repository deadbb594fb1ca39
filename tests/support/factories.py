"""Factories for the harness's values: a cell, an observation, a cell result, a scenario file.

Each returns a plausible default that a test changes only where it matters
(``cell(extension="external")``), so a test reads as the one fact it checks.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any, Optional

from harness.evidence.judge import Observation, ProcessExit, SignalSent
from harness.evidence.result import CellResult
from harness.model.cells import Cell, Expectation


def cell(**changes: Any) -> Cell:
    base = Cell(
        scenario="demo",
        python="3.8",
        runtime_client="awslambdaric",
        runtime_client_version="2.2.1",
        execution_env=None,
        extension="internal",
        strategy="signal",
        trigger="stop",
        invocations=1,
        function_dir=Path("/fn"),
        handler="app.handler",
        cleanup_marker="cleaning up",
        extensions_dir=Path("/fn/extensions"),
        idle_timeout_s=1.0,
        env=(),
        expectation=Expectation(cleanup=True, reason="wakeup fd", source="FACTS.md"),
        scenario_file=Path("/s/demo.toml"),
    )
    return dataclasses.replace(base, **changes)


def sig(name: str, ms: float, role: str = "runtime", who: str = "runtime") -> SignalSent:
    return SignalSent(signal=name, role=role, name=who, ms_after_shutdown_start=ms)


def exit_at(
    ms: Optional[float], signal: Any = None, role: str = "runtime", name: str = "runtime"
) -> ProcessExit:
    return ProcessExit(
        role=role,
        name=name,
        pid=11,
        returncode=None if signal else 0,
        signal=signal,
        ms_after_shutdown_start=ms,
    )


def seen(**changes: Any) -> Observation:
    """An internal-only shutdown in which the cleanup ran and the runtime exited at 40 ms."""
    base = Observation(
        cleanup_seen=True,
        sigterm_sent=True,
        sigkill_sent=False,
        killed=False,
        ms_sigterm_to_cleanup=10.0,
        ms_sigterm_to_exit=40.0,
        shutdown_seen=True,
        shutdown_reason="spindown",
        shutdown_rule="internal-only",
        shutdown_limit_ms=500,
        shutdown_ended=True,
        signals=(sig("SIGTERM", 0.5),),
        shutdown_events=(),
        exits=(exit_at(40.0),),
        registrations=(("internal", "internal", ()),),
        refusals=(),
        init_status="ok",
        invoke_statuses=("success",),
        sandbox_signal_before_shutdown=True,
        sandbox_exit_code=0,
        shutdown_runtime_limit_ms=500,
    )
    return dataclasses.replace(base, **changes)


def result(python: str = "3.8", trigger: str = "stop", **changes: Any) -> CellResult:
    cell_id = f"py{python}-awslambdaric-2.2.1-env_unset-internal-signal-{trigger}"
    base = CellResult(
        id=cell_id,
        scenario="awslambdaric-internal-signal",
        python=python,
        python_full_version=python + ".1",
        runtime_client="awslambdaric",
        runtime_client_version="2.2.1",
        execution_env=None,
        extension="internal",
        strategy="signal",
        trigger=trigger,
        backend="process",
        expected_cleanup=False,
        expected_reason="native next",
        expected_source="FACTS.md: The quirk being demonstrated",
        observed_cleanup=False,
        sigterm_sent=True,
        killed=True,
        ms_sigterm_to_cleanup=None,
        ms_sigterm_to_exit=501.2,
        shutdown_rule="internal-only",
        shutdown_limit_ms=500,
        signals=({"signal": "SIGTERM", "role": "runtime", "name": "runtime", "ms": 0.3},),
        verdict="pass",
        reasons=(),
        event_log=f"cells/{cell_id}/events.jsonl",
        output_log=f"cells/{cell_id}/output.log",
        started=1_700_000_001.0,
        ended=1_700_000_002.5,
    )
    return dataclasses.replace(base, **changes)


GOOD = """
name = "demo"
description = "a demo"
function_dir = "{fn}"
handler = "app.handler"
cleanup_marker = "cleaning up"
invocations = 2

[matrix]
python = ["3.7", "3.12"]
runtime_client = ["awslambdaric", "legacy"]
execution_env = ["", "AWS_Lambda_python3.12"]
extension = ["internal"]
strategy = ["signal"]
trigger = ["stop", "idle"]

[expect]
cleanup = false
reason = "native next"
source = "FACTS.md: The quirk being demonstrated"

[[override]]
when = {{ execution_env = "AWS_Lambda_python3.12" }}
cleanup = true
reason = "thread polling"
source = "FACTS.md"

[[override]]
when = {{ runtime_client = "legacy" }}
cleanup = true
reason = "pure Python recv"
source = "FACTS.md"
"""


def make_function_dir(tmp_path: Path) -> Path:
    """A function folder with app.handler and an empty extensions/."""
    fn = tmp_path / "fn"
    (fn / "extensions").mkdir(parents=True)
    (fn / "app.py").write_text("def handler(event, context):\n    return event\n")
    return fn


def write(tmp_path: Path, text: str, name: str = "demo.toml") -> Path:
    folder = tmp_path / "scenarios"
    folder.mkdir(exist_ok=True)
    path = folder / name
    path.write_text(text)
    return path


def good(function_dir: Path) -> str:
    return GOOD.format(fn=function_dir)
