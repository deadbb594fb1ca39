"""The environment a runtime or external extension starts with."""

from __future__ import annotations

from typing import Dict

from lambda_sandbox.child_env import child_environment, log_stream_name
from lambda_sandbox.config import Config

CONFIG = Config(
    function_name="orders",
    function_version="7",
    memory_size_mb=512,
    region="eu-west-1",
    task_root="/var/task",
)
RUNTIME_CMD = ["python3", "-m", "awslambdaric", "app.handler"]
STREAM = "2024/01/02/[7]0123456789abcdef0123456789abcdef"


def build(inherited: Dict[str, str]) -> Dict[str, str]:
    return child_environment(CONFIG, inherited, "127.0.0.1:9001", RUNTIME_CMD, STREAM)


def test_lambda_variables_are_set_from_the_config() -> None:
    env = build({})
    assert env == {
        "AWS_LAMBDA_RUNTIME_API": "127.0.0.1:9001",
        "AWS_LAMBDA_FUNCTION_NAME": "orders",
        "AWS_LAMBDA_FUNCTION_VERSION": "7",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "512",
        "AWS_LAMBDA_LOG_GROUP_NAME": "/aws/lambda/orders",
        "AWS_LAMBDA_LOG_STREAM_NAME": STREAM,
        "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
        "AWS_REGION": "eu-west-1",
        "AWS_DEFAULT_REGION": "eu-west-1",
        "LAMBDA_TASK_ROOT": "/var/task",
        "_HANDLER": "app.handler",
    }


def test_the_sandbox_environment_is_inherited() -> None:
    env = build({"AWS_EXECUTION_ENV": "AWS_Lambda_python3.12", "PATH": "/usr/bin"})
    assert env["AWS_EXECUTION_ENV"] == "AWS_Lambda_python3.12"
    assert env["PATH"] == "/usr/bin"


def test_lambda_variables_win_over_inherited_ones() -> None:
    env = build({"AWS_REGION": "us-east-1", "AWS_LAMBDA_RUNTIME_API": "elsewhere:1"})
    assert env["AWS_REGION"] == "eu-west-1"
    assert env["AWS_LAMBDA_RUNTIME_API"] == "127.0.0.1:9001"


def test_an_inherited_handler_is_kept() -> None:
    assert build({"_HANDLER": "other.handler"})["_HANDLER"] == "other.handler"


def test_without_a_runtime_command_there_is_no_handler() -> None:
    env = child_environment(CONFIG, {}, "127.0.0.1:9001", [], STREAM)
    assert "_HANDLER" not in env


def test_the_inherited_mapping_is_not_changed() -> None:
    inherited = {"PATH": "/usr/bin"}
    build(inherited)
    assert inherited == {"PATH": "/usr/bin"}


def test_log_stream_name_is_utc_date_version_and_id() -> None:
    # 1704239999 is 2024-01-02T23:59:59Z: the date is UTC, not local time.
    assert log_stream_name("$LATEST", 1704239999.5, "ab" * 16) == (
        "2024/01/02/[$LATEST]" + "ab" * 16
    )
