"""The environment a runtime or external extension starts with."""

from __future__ import annotations

import ast
import re
from types import ModuleType
from typing import Dict, Set

from harness.paths import PROJECT_ROOT
from lambda_sandbox import amqp_protocol, config
from lambda_sandbox.child_env import (
    SANDBOX_ROOT,
    child_environment,
    log_stream_name,
    without_path_entry,
)
from lambda_sandbox.config import LAMBDA_VARIABLES, SANDBOX_VARIABLES, Config

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
        "LAMBDA_RUNTIME_DIR": "/var/runtime",
        "LANG": "en_US.UTF-8",
        "TZ": ":UTC",
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


# ------------------------------------------------ the function's variables only

ROOT = "/srv/lab"  # stands for the folder holding lambda_sandbox/


def build_from(inherited: Dict[str, str]) -> Dict[str, str]:
    return child_environment(
        CONFIG, inherited, "127.0.0.1:9001", RUNTIME_CMD, STREAM, sandbox_root=ROOT
    )


def test_the_sandboxs_settings_do_not_reach_the_function() -> None:
    inherited = {name: "sandbox's" for name in SANDBOX_VARIABLES}
    inherited["LAMBDA_SANDBOX_SOMETHING_NEW"] = "sandbox's too"
    env = build_from(inherited)
    assert not [name for name in env if name in inherited], env


def test_the_functions_own_variables_are_kept() -> None:
    mine = {
        "LAB_STRATEGY": "signal",
        "LAB_HARNESS_RUN": "run-1",
        "AWS_EXECUTION_ENV": "AWS_Lambda_python3.12",
        "PATH": "/usr/bin:/bin",
        "HOME": "/tmp",
        "PYTHONUNBUFFERED": "1",
    }
    env = build_from({**mine, "LOG_LEVEL": "debug", "AMQP_PASSWORD": "secret"})
    assert {name: env[name] for name in mine} == mine
    assert "LOG_LEVEL" not in env and "AMQP_PASSWORD" not in env


def test_the_sandboxs_folder_leaves_pythonpath_and_the_rest_stays() -> None:
    env = build_from({"PYTHONPATH": f"/opt/deps:{ROOT}/:/opt/more"})
    assert env["PYTHONPATH"] == "/opt/deps:/opt/more"


def test_pythonpath_naming_only_the_sandbox_is_unset() -> None:
    # A managed runtime's bootstrap adds /opt/python only when PYTHONPATH is unset.
    assert "PYTHONPATH" not in build_from({"PYTHONPATH": ROOT})
    assert "PYTHONPATH" not in build_from({})


def test_without_path_entry_keeps_order_and_other_folders() -> None:
    assert without_path_entry("/a:/lab:/b:/lab/../lab", "/lab") == "/a:/b"
    assert without_path_entry("/lab/sub:/labx", "/lab") == "/lab/sub:/labx"
    assert without_path_entry("", "/lab") == ""


def test_the_default_sandbox_root_holds_the_package() -> None:
    assert (PROJECT_ROOT / "lambda_sandbox" / "__init__.py").samefile(
        f"{SANDBOX_ROOT}/lambda_sandbox/__init__.py"
    )


def test_tz_is_reserved_lang_and_runtime_dir_are_defaults() -> None:
    env = build_from({"TZ": "Europe/Berlin", "LANG": "C.UTF-8", "LAMBDA_RUNTIME_DIR": "/rt"})
    assert env["TZ"] == ":UTC"
    assert env["LANG"] == "C.UTF-8"
    assert env["LAMBDA_RUNTIME_DIR"] == "/rt"


def test_a_trace_id_is_never_inherited() -> None:
    # The runtime client sets it per invocation from Lambda-Runtime-Trace-Id.
    assert "_X_AMZN_TRACE_ID" not in build_from({"_X_AMZN_TRACE_ID": "Root=1-stale"})


# ------------------------------- one list of the sandbox's settings, kept whole


def variables_read_by(module: ModuleType) -> Set[str]:
    """Every environment variable name a module reads: the string literals that are
    the name argument of env.get(NAME) or of any of config.py's readers ``_x(env, NAME, ...)``."""
    assert module.__file__ is not None
    with open(module.__file__, encoding="utf-8") as source:
        tree = ast.parse(source.read())
    names = set()
    readers = {"get", "_number", "_port", "_host", "_count"}
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        called = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
        reads_env = (
            called.startswith("_")
            and bool(node.args)
            and isinstance(node.args[0], ast.Name)
            and node.args[0].id == "env"
        )
        if called not in readers and not reads_env:
            continue
        for arg in node.args[:2]:
            if (
                isinstance(arg, ast.Constant)
                and isinstance(arg.value, str)
                and re.fullmatch(r"[A-Z][A-Z0-9_]+", arg.value)
            ):
                names.add(arg.value)
    return names


def test_every_variable_the_sandbox_reads_is_its_own_or_lambdas() -> None:
    read = variables_read_by(config) | variables_read_by(amqp_protocol)
    assert {"LOG_LEVEL", "AMQP_URI", "AWS_LAMBDA_FUNCTION_NAME"} <= read  # the scan works
    assert not set(SANDBOX_VARIABLES) & set(LAMBDA_VARIABLES)
    assert read == set(SANDBOX_VARIABLES) | set(LAMBDA_VARIABLES)


def test_lambdas_variables_get_lambdas_values() -> None:
    inherited = {name: "the caller's" for name in LAMBDA_VARIABLES}
    env = build_from(inherited)
    assert all(env[name] != "the caller's" for name in LAMBDA_VARIABLES)


def test_the_readmes_configuration_table_and_the_two_lists_agree() -> None:
    text = (PROJECT_ROOT / "README.md").read_text(encoding="utf-8")
    table = text.split("### Configuration", 1)[1].split("\n\n", 2)[1]
    first_cells = [row.split("|")[1] for row in table.splitlines() if row.startswith("| `")]
    documented = set(re.findall(r"`([A-Z][A-Z0-9_]+)`", " ".join(first_cells)))
    assert set(SANDBOX_VARIABLES) <= documented, "a setting of the sandbox's is undocumented"
    assert documented <= set(SANDBOX_VARIABLES) | set(LAMBDA_VARIABLES)
