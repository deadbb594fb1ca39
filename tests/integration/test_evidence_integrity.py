"""The function cannot write the evidence it is judged by, nor read the sandbox's secrets.

A function (tests/fixtures/fn/forger_app.py) running as the sandbox's own user
(root here, in CI and in the images) appends a cleanup record to the event log
and tries every ancestor's /proc/<pid>/environ, fd/ and mem. On both backends:
the forged line fails its seal, so the run has a problem instead of a cleanup;
the sandbox (and, on a host, the fork server and the harness, which hold the
key) refuse fd/ and mem, and their environ shows no secret's value.
"""

from __future__ import annotations

import json
import os
import uuid
from pathlib import Path
from typing import Any, Dict

import pytest
from support.factories import cell
from support.interpreters import awslambdaric_python
from support.skips import unavailable

from harness.backends.base import BackendBase
from harness.backends.process import ProcessBackend
from harness.evidence.judge import judge
from harness.paths import TEST_FIXTURES
from harness.sandbox.running import RunningSandbox
from lambda_sandbox.eventlog import verify_seals

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(600)]

CLOSED = {"environ": ("refused", "no"), "fd": ("refused",), "mem": ("refused",)}


def forger_cell(forge_into: str, report: str) -> Any:
    return cell(
        python="3.12",
        runtime_client_version="4.2.2",
        function_dir=TEST_FIXTURES / "fn",
        handler="forger_app.handler",
        cleanup_marker="[runtime] cleaning up",
        env=(("FORGE_INTO", forge_into), ("FORGER_REPORT", report)),
    )


def docker_backend(cells_dir: Path, session: str) -> BackendBase:
    from harness.backends.docker import DockerBackend
    from harness.images import engine as dockerbuild

    try:
        dockerbuild.client().close()
    except dockerbuild.ImageBuildError as err:
        unavailable(str(err))
    return DockerBackend(cells_dir, session)


@pytest.mark.parametrize("backend_name", ["process", "docker"])
def test_a_forged_record_is_a_problem_and_the_sandbox_is_closed_to_the_function(
    tmp_path: Path, backend_name: str
) -> None:
    session = f"test-{uuid.uuid4().hex[:8]}"
    cells_dir = tmp_path / "cells"
    if backend_name == "process":
        backend: BackendBase = ProcessBackend(cells_dir, session)
        probe = forger_cell("", "")
        workdir = cells_dir / probe.id
        the_cell = forger_cell(str(workdir / "events.jsonl"), str(workdir / "forger.json"))
    else:
        from harness.images.container import RUN_DIR

        backend = docker_backend(cells_dir, session)
        the_cell = forger_cell(f"{RUN_DIR}/events.jsonl", f"{RUN_DIR}/forger.json")
        workdir = cells_dir / the_cell.id

    run = backend.run(the_cell)

    # The forgery happened, and alone it would have been believed...
    forged = [line for line in run.event_lines if "cleaning up" in line and '"mac"' not in line]
    assert len(forged) == 1, run.event_lines
    unsealed = [line for line in run.event_lines if line != forged[0]]
    assert judge(run.event_lines, the_cell.cleanup_marker).cleanup_seen
    assert not judge(unsealed, the_cell.cleanup_marker).cleanup_seen
    # ...but it fails its seal, and the run says so instead of judging it.
    assert run.problem is not None and "not the sandbox's alone" in run.problem, run.problem
    # Every other line is the sandbox's: the chain holds around the forgery.
    assert verify_seals(run.event_lines, b"wrong key" * 4) != []

    # The sandbox and the fork server (the lab's processes) show no secret at all;
    # the harness (this process) never holds the key in its environment, which
    # is otherwise the user's own (an AMQP_URI exported to it is theirs to
    # keep from a host-backend function). Above it, the user's shell.
    report: Dict[str, Dict[str, str]] = json.loads((workdir / "forger.json").read_text())
    pids = [int(pid) for pid in report]
    ours = pids[: pids.index(os.getpid()) + 1] if os.getpid() in pids else pids
    assert ours, "the function saw no ancestor"
    for pid in ours:
        tried = report[str(pid)]
        for what, closed in CLOSED.items():
            if pid == os.getpid() and what == "environ":
                assert "LAMBDA_SANDBOX_EVIDENCE_KEY" not in tried[what], tried
                continue
            assert tried[what].split(" ")[0] in closed, f"ancestor {pid} is open: {tried}"


def test_the_sandbox_s_secrets_are_scrubbed_from_what_its_environ_shows(tmp_path: Path) -> None:
    python = awslambdaric_python("3.12")
    runtime = [str(python), "-m", "awslambdaric", "app.handler"]
    key = "ab" * 32
    env = {"AMQP_PASSWORD": "hunter2", "LAMBDA_SANDBOX_EVIDENCE_KEY": key}
    with RunningSandbox(python, runtime, tmp_path, env=env) as sb:
        assert sb.proc is not None
        with open(f"/proc/{sb.proc.pid}/environ", "rb") as f:  # root here: we may read it
            shown = f.read()
        (start,) = sb.of_kind("sandbox.start")
        assert sb.invoke({}).status == 200  # the sandbox still has what it needs
        assert sb.stop() == 0
    assert b"hunter2" not in shown and key.encode() not in shown
    assert b"AMQP_PASSWORD=*******" in shown
    assert start["sealed"] is True
    assert {"not-dumpable", "environ-scrubbed"} <= set(start["hardening"])
    assert (
        verify_seals((tmp_path / "events.jsonl").read_text().splitlines(), bytes.fromhex(key)) == []
    )
