"""A cell in a container: the docker-py arguments, built by pure functions (no daemon)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Dict

import pytest
from support.factories import cell

from harness.images.cli import standalone_kwargs
from harness.images.container import (
    EMPTY_EXTENSIONS_DIR,
    LAB_EXTENSIONS_DIR,
    PROJECT_MOUNT,
    RUN_DIR,
    TASK_ROOT,
    container_env,
    invoke_address,
    run_kwargs,
    runtime_argv,
)
from harness.images.spec import CELL_LABEL, PROJECT_LABEL, RUN_LABEL
from harness.model.cells import Cell
from harness.paths import FUNCTION_DIR, PROJECT_ROOT
from harness.sandbox import sweep

FUNCTION = FUNCTION_DIR


def project_cell(**changes: Any) -> Cell:
    """A cell of the project's own function (the one baked into the images)."""
    base: Dict[str, Any] = {"function_dir": FUNCTION, "extensions_dir": FUNCTION / "extensions"}
    base.update(changes)
    return cell(**base)


# ---------------------------------------------------------------- containers


def test_run_kwargs_host_network() -> None:
    c = project_cell(python="3.12", runtime_client_version="4.2.2")
    kwargs = run_kwargs(c, "lambda-sigterm-lab:py312", Path("/results/cells/x"), "s1", "host")
    assert kwargs["image"] == "lambda-sigterm-lab:py312" and kwargs["detach"] is True
    assert kwargs["network_mode"] == "host" and "ports" not in kwargs
    assert kwargs["command"] == ["python3", "-m", "awslambdaric", "app.handler"]
    assert kwargs["volumes"] == {"/results/cells/x": {"bind": RUN_DIR, "mode": "rw"}}
    assert kwargs["labels"] == {
        PROJECT_LABEL: "lambda-sigterm-lab",
        RUN_LABEL: "s1",
        CELL_LABEL: c.id,
    }
    env = kwargs["environment"]
    assert env["INVOKE_API_HOST"] == env["RUNTIME_API_HOST"] == "127.0.0.1"
    assert env["INVOKE_API_PORT"] == env["RUNTIME_API_PORT"] == "0"
    assert env["LAMBDA_TASK_ROOT"] == TASK_ROOT
    assert env["LAMBDA_EXTENSIONS_DIR"] == EMPTY_EXTENSIONS_DIR
    assert env["LAMBDA_SANDBOX_EVENT_LOG"] == f"{RUN_DIR}/events.jsonl"
    assert env["LAB_STRATEGY"] == "signal" and env["LAB_EXTENSION"] == "internal"
    assert env[sweep.LABEL] == f"s1/{c.id}"
    assert "AWS_EXECUTION_ENV" not in env and "AWS_LAMBDA_FUNCTION_IDLETIMEOUT" not in env


def test_run_kwargs_bridge_publishes_the_invoke_api_on_loopback() -> None:
    kwargs = run_kwargs(project_cell(), "img", Path("/d"), "s", "bridge")
    assert "network_mode" not in kwargs
    assert kwargs["ports"] == {"8080/tcp": ("127.0.0.1", None)}
    env = kwargs["environment"]
    assert env["INVOKE_API_HOST"] == "0.0.0.0" and env["INVOKE_API_PORT"] == "8080"
    with pytest.raises(ValueError, match="network"):
        run_kwargs(project_cell(), "img", Path("/d"), "s", "overlay")


def test_the_cells_dimensions_reach_the_container() -> None:
    c = project_cell(
        extension="external",
        strategy="wakeup-fd",
        trigger="idle",
        execution_env="AWS_Lambda_python3.12",
        env=(("LAB_OUTBOX_QUEUE", "q"),),
    )
    env = container_env(c, "s/c", "host")
    assert env["LAMBDA_EXTENSIONS_DIR"] == LAB_EXTENSIONS_DIR and env["LAB_EXTENSION"] == "none"
    assert env["LAB_STRATEGY"] == "wakeup-fd"
    assert env["AWS_LAMBDA_FUNCTION_IDLETIMEOUT"] == "1"
    assert env["AWS_EXECUTION_ENV"] == "AWS_Lambda_python3.12"
    assert env["LAB_OUTBOX_QUEUE"] == "q"
    assert container_env(project_cell(extension="none"), "s/c", "host")["LAB_EXTENSION"] == "none"
    legacy = project_cell(runtime_client="legacy")
    assert runtime_argv(legacy) == ["python3", "/opt/lab/legacy_runtime.py", "app.handler"]


def test_a_cells_own_function_is_mounted_read_only(tmp_path: Path) -> None:
    inside = PROJECT_ROOT / "examples" / "telemetry-function"
    kwargs = run_kwargs(project_cell(function_dir=inside), "img", Path("/d"), "s", "host")
    # Inside the project: the project is mounted, so relative symlinks still resolve.
    assert (
        kwargs["environment"]["LAMBDA_TASK_ROOT"] == f"{PROJECT_MOUNT}/examples/telemetry-function"
    )
    assert kwargs["volumes"][str(PROJECT_ROOT)] == {"bind": PROJECT_MOUNT, "mode": "ro"}
    outside = project_cell(
        function_dir=tmp_path, extension="external", extensions_dir=tmp_path / "e"
    )
    kwargs = run_kwargs(outside, "img", Path("/d"), "s", "host")
    assert kwargs["environment"]["LAMBDA_TASK_ROOT"] == TASK_ROOT
    assert kwargs["volumes"][str(tmp_path)] == {"bind": TASK_ROOT, "mode": "ro"}
    assert kwargs["volumes"][str(tmp_path / "e")] == {"bind": LAB_EXTENSIONS_DIR, "mode": "ro"}
    assert str(PROJECT_ROOT) not in kwargs["volumes"]


def test_invoke_address() -> None:
    assert invoke_address({"invoke_api": "127.0.0.1:4321"}, "host", {}) == "127.0.0.1:4321"
    assert invoke_address({"invoke_api": "0.0.0.0:4321"}, "host", {}) == "127.0.0.1:4321"
    published = {"8080/tcp": [{"HostIp": "127.0.0.1", "HostPort": "49153"}]}
    assert invoke_address({"invoke_api": "0.0.0.0:8080"}, "bridge", published) == "127.0.0.1:49153"
    with pytest.raises(RuntimeError, match="not published"):
        invoke_address({"invoke_api": "0.0.0.0:8080"}, "bridge", {})


def test_standalone_kwargs() -> None:
    host = standalone_kwargs("lambda-sigterm-lab:py312", 8080, "host")
    assert host["network_mode"] == "host" and "command" not in host  # the image's CMD
    assert host["environment"]["INVOKE_API_PORT"] == "8080"
    assert host["environment"]["RUNTIME_API_PORT"] == "0"
    assert host["environment"]["LAMBDA_EXTENSIONS_DIR"] == EMPTY_EXTENSIONS_DIR
    assert host["labels"][PROJECT_LABEL] == "lambda-sigterm-lab"
    bridge = standalone_kwargs(
        "t", 9000, "bridge", "external", "wakeup-fd", "legacy", "my-fn", {"LOG_LEVEL": "debug"}
    )
    assert bridge["ports"] == {"8080/tcp": 9000} and "network_mode" not in bridge
    env = bridge["environment"]
    assert env["LAMBDA_EXTENSIONS_DIR"] == LAB_EXTENSIONS_DIR and env["LAB_EXTENSION"] == "none"
    assert env["AWS_LAMBDA_FUNCTION_NAME"] == "my-fn" and env["LOG_LEVEL"] == "debug"
    assert bridge["command"][1] == "/opt/lab/legacy_runtime.py"
