"""Backend choice, the process backend's pure argument builders, clients, log tail and sweep."""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path

import pytest
from support.factories import cell

from harness.backends import BackendUnavailable, choose
from harness.backends.process import sandbox_argv, sandbox_env
from harness.model.clients import (
    UnknownClient,
    parse_client,
    requirements,
    resolve_version,
    runtime_command,
)
from harness.sandbox import sweep
from harness.sandbox.tail import EventLogTail


def event(kind: str, **fields: object) -> str:
    """One line of an event log, as the sandbox writes it."""
    return json.dumps({"v": 1, "ts": 1.7e9, "mono": 1.0, "kind": kind, **fields}) + "\n"


def never() -> bool:
    raise AssertionError("the engine must not be asked")


def test_choose_resolves_backend_option_to_backends() -> None:
    assert choose("process", never) == (("process",), "requested with --backend")
    assert choose("docker", never)[0] == ("docker",), "an explicit docker is tried, not guessed"
    with pytest.raises(BackendUnavailable, match="expected one of"):
        choose("podman", never)
    assert choose("auto", lambda: True) == (("docker",), "auto: a Docker engine answers")
    assert choose("auto", lambda: False) == (
        ("process",),
        "auto: no Docker engine answers, so process only",
    )
    assert choose("all", lambda: True) == (
        ("process", "docker"),
        "all: both backends, side by side",
    )
    assert choose("all", lambda: False)[0] == ("process",)


def test_sandbox_env_is_built_from_the_cell_only(tmp_path: Path) -> None:
    host = {
        "PATH": "/bin",
        "HOME": "/root",
        "AWS_EXECUTION_ENV": "leak",
        "LAB_STRATEGY": "leak",
        "PYTHONPATH": "x",
    }
    env = sandbox_env(cell(), tmp_path, "s/c", host)
    assert env["PATH"] == "/bin" and "AWS_EXECUTION_ENV" not in env
    assert env["LAB_STRATEGY"] == "signal" and env["LAB_EXTENSION"] == "internal"
    assert env["INVOKE_API_PORT"] == env["RUNTIME_API_PORT"] == "0"
    assert env["LAMBDA_EXTENSIONS_DIR"] == str(tmp_path / "no-extensions")
    assert env["LAMBDA_SANDBOX_EVENT_LOG"] == str(tmp_path / "events.jsonl")
    assert env["LAMBDA_TASK_ROOT"] == "/fn" and env[sweep.LABEL] == "s/c"
    assert "AWS_LAMBDA_FUNCTION_IDLETIMEOUT" not in env
    assert Path(env["PYTHONPATH"], "harness").is_dir()

    idle_ext = cell(
        trigger="idle",
        extension="external",
        execution_env="AWS_Lambda_python3.12",
        env=(("X", "1"),),
    )
    env = sandbox_env(idle_ext, tmp_path, "s/c", host)
    assert env["AWS_LAMBDA_FUNCTION_IDLETIMEOUT"] == "1"
    assert env["AWS_EXECUTION_ENV"] == "AWS_Lambda_python3.12"
    assert env["LAMBDA_EXTENSIONS_DIR"] == "/fn/extensions" and env["LAB_EXTENSION"] == "none"
    assert env["X"] == "1"


def test_sandbox_argv() -> None:
    py = Path("/v/bin/python")
    assert sandbox_argv(py, cell()) == [
        str(py),
        "-m",
        "lambda_sandbox",
        "--",
        str(py),
        "-m",
        "awslambdaric",
        "app.handler",
    ]
    legacy = sandbox_argv(py, cell(runtime_client="legacy"))
    assert (
        legacy[4:5] == [str(py)]
        and legacy[5].endswith("function/legacy_runtime.py")
        and legacy[6] == "app.handler"
    )


def test_clients() -> None:
    assert resolve_version(parse_client("awslambdaric"), "3.8") == "2.2.1"
    assert resolve_version(parse_client("awslambdaric"), "3.12") == "4.2.2"
    assert resolve_version(parse_client("awslambdaric"), "3.6") is None
    assert resolve_version(parse_client("awslambdaric==2.0.8"), "3.6") == "2.0.8"
    assert resolve_version(parse_client("legacy"), "3.7") == "requests-2.31.0"
    assert requirements("legacy", "requests-2.31.0") == ("requests==2.31.0",)
    assert requirements("awslambdaric", "2.2.1") == ("awslambdaric==2.2.1",)
    assert runtime_command("awslambdaric", Path("/p"), "app.h") == [
        "/p",
        "-m",
        "awslambdaric",
        "app.h",
    ]
    for bad in ("ric", "legacy==1", "awslambdaric=="):
        with pytest.raises(UnknownClient):
            parse_client(bad)


def test_log_tail_waits_for_complete_lines(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    tail = EventLogTail(path)
    assert tail.poll() == []  # not there yet
    with path.open("w") as handle:
        handle.write(event("sandbox.start") + '{"v": 1, "mono": 2.0, "kind": "sandbox.re')
    assert [e["kind"] for e in tail.poll()] == ["sandbox.start"]
    assert tail.wait_for("sandbox.ready", 0.05, lambda: True) is None  # deadline, half a line
    with path.open("a") as handle:
        handle.write('ady", "invoke_api": "127.0.0.1:1"}\n')
    found = tail.wait_for("sandbox.ready", 5, lambda: True)
    assert found is not None and found["invoke_api"] == "127.0.0.1:1"
    assert tail.wait_for("shutdown.end", 60, lambda: False) is None  # the writer is gone: no wait


def test_labelled_reads_environments(tmp_path: Path) -> None:
    for pid, environ in {
        "101": b"A=1\0LAB_HARNESS_RUN=s1/c1\0",
        "102": b"LAB_HARNESS_RUN=s1/c10\0",
        "103": b"B=2\0",
    }.items():
        (tmp_path / pid).mkdir()
        (tmp_path / pid / "environ").write_bytes(environ)
    (tmp_path / "self").mkdir()
    (tmp_path / str(os.getpid())).mkdir()
    (tmp_path / str(os.getpid()) / "environ").write_bytes(b"LAB_HARNESS_RUN=s1/c1\0")
    assert sweep.labelled("s1/", tmp_path) == [101, 102]
    assert sweep.labelled("s1/c1", tmp_path, exact=True) == [101]
    assert sweep.labelled("s2/", tmp_path) == []


def test_cells_are_frozen_values() -> None:
    c = cell()
    with pytest.raises(dataclasses.FrozenInstanceError):
        c.python = "3.12"  # type: ignore[misc]
    assert c.id == "py3.8-awslambdaric-2.2.1-env_unset-internal-signal-stop"
    assert cell(execution_env="AWS_Lambda_python3.12").id.endswith(
        "env_AWS_Lambda_python3.12-internal-signal-stop"
    )
    assert (c.shutdown_rule.rule, c.shutdown_rule.limit_ms) == ("internal-only", 500)
    assert c.variant == ("demo", "awslambdaric", "", "internal", "signal")


def test_log_tail_nth_event(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    path.write_text("".join(event("invoke.end", n=n) for n in (1, 2)))
    tail = EventLogTail(path)
    second = tail.wait_for("invoke.end", 1, lambda: True, nth=2)
    assert second is not None and second["n"] == 2
    assert tail.wait_for("invoke.end", 0.05, lambda: True, nth=3) is None
