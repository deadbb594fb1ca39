"""Configuration: defaults, and one clear line for every bad value."""

from __future__ import annotations

import subprocess
import sys

import pytest

from harness.paths import PROJECT_ROOT
from lambda_sandbox.config import ConfigError, load_config

ROOT = PROJECT_ROOT


def test_defaults_match_the_runtime_api_daemons(tmp_path):
    config = load_config({}, cwd=str(tmp_path))
    assert config.function_name == "function"
    assert config.function_version == "$LATEST"
    assert config.timeout_s == 3.0
    assert config.idle_timeout_s is None
    assert (config.invoke_api_host, config.invoke_api_port) == ("127.0.0.1", 8080)
    assert (config.runtime_api_host, config.runtime_api_port) == ("127.0.0.1", 9001)
    assert config.extensions_dir == "/opt/extensions"
    assert config.task_root == str(tmp_path)
    assert config.event_log is None


def test_task_root_keeps_the_callers_value(tmp_path):
    assert load_config({"LAMBDA_TASK_ROOT": str(tmp_path)}, cwd="/").task_root == str(tmp_path)


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("AWS_LAMBDA_FUNCTION_TIMEOUT", "soon"),
        ("AWS_LAMBDA_FUNCTION_TIMEOUT", "-1"),
        ("AWS_LAMBDA_FUNCTION_TIMEOUT", "nan"),
        ("AWS_LAMBDA_FUNCTION_IDLETIMEOUT", "0"),
        ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "64"),
        ("AWS_LAMBDA_FUNCTION_NAME", "has space"),
        ("INVOKE_API_PORT", "eighty"),
        ("RUNTIME_API_PORT", "70000"),
        ("INVOKE_API_HOST", "http://x"),
        ("LOG_LEVEL", "chatty"),
        ("LAMBDA_TASK_ROOT", "/no/such/dir"),
        ("LAMBDA_SANDBOX_OPT_DIR", "/no/such/opt"),
        ("LAMBDA_SANDBOX_EVENT_RETRY_DELAYS", "soon"),
        ("LAMBDA_SANDBOX_EVENT_RETRY_DELAYS", "1,2,3"),
        ("LAMBDA_SANDBOX_EVENT_RETRY_DELAYS", "-1"),
    ],
)
def test_a_bad_value_names_its_variable(variable, value, tmp_path):
    with pytest.raises(ConfigError) as error:
        load_config({variable: value}, cwd=str(tmp_path))
    assert str(error.value).startswith(f"{variable}=")


def test_opt_dir_defaults_to_opt_and_extensions_follow_it(tmp_path):
    assert load_config({}, cwd=str(tmp_path)).opt_dir == "/opt"
    config = load_config({"LAMBDA_SANDBOX_OPT_DIR": str(tmp_path)}, cwd="/")
    assert config.opt_dir == str(tmp_path)
    assert config.extensions_dir == str(tmp_path / "extensions")
    assert config.describe()["opt_dir"] == str(tmp_path)


def test_extensions_dir_still_overrides_the_opt_dirs(tmp_path):
    env = {"LAMBDA_SANDBOX_OPT_DIR": str(tmp_path), "LAMBDA_EXTENSIONS_DIR": "/elsewhere"}
    config = load_config(env, cwd="/")
    assert (config.opt_dir, config.extensions_dir) == (str(tmp_path), "/elsewhere")


def test_relative_opt_dir_is_made_absolute(tmp_path, monkeypatch):
    (tmp_path / "layers").mkdir()
    monkeypatch.chdir(tmp_path)
    config = load_config({"LAMBDA_SANDBOX_OPT_DIR": "layers"}, cwd=str(tmp_path))
    assert config.opt_dir == str(tmp_path / "layers")


def test_opt_dir_that_is_not_a_directory_says_what_it_is(tmp_path):
    with pytest.raises(ConfigError) as error:
        load_config({"LAMBDA_SANDBOX_OPT_DIR": "/no/such/opt"}, cwd=str(tmp_path))
    assert str(error.value) == (
        "LAMBDA_SANDBOX_OPT_DIR='/no/such/opt': no such directory (it plays /opt, where layers are)"
    )


def run_cli(env_extra, *args):
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT), **env_extra}
    return subprocess.run(
        [sys.executable, "-m", "lambda_sandbox", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
        cwd=str(ROOT),
    )


def test_cli_bad_value_is_one_line_and_exit_2():
    result = run_cli({"INVOKE_API_PORT": "eighty"}, "--", "true")
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "lambda_sandbox: error: INVOKE_API_PORT='eighty': expected a port number from 0 to 65535"
    ]
    assert "Traceback" not in result.stderr


def test_cli_without_runtime_command_prints_usage():
    result = run_cli({})
    assert result.returncode == 2
    assert "no runtime command given" in result.stderr and "usage:" in result.stderr


def test_cli_managed_python_without_handler_prints_usage():
    result = run_cli({}, "--managed-python", "python3")
    assert result.returncode == 2
    assert "no handler given" in result.stderr and "--managed-python PYTHON" in result.stderr


def test_cli_port_in_use_is_named(unused_tcp_port_holder):
    port = unused_tcp_port_holder
    result = run_cli({"INVOKE_API_PORT": str(port), "RUNTIME_API_PORT": "0"}, "true")
    assert result.returncode == 2
    assert f"INVOKE_API_PORT={port}: the port is already in use" in result.stderr


@pytest.fixture
def unused_tcp_port_holder():
    import socket

    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        held.listen(1)
        yield held.getsockname()[1]


@pytest.mark.parametrize(
    ("value", "delays"),
    [(None, (60.0, 120.0)), ("0.5,1", (0.5, 1.0)), ("30", (30.0,)), ("none", ()), ("", ())],
)
def test_event_retries_default_to_lambdas_two(value, delays, tmp_path):
    env = {} if value is None else {"LAMBDA_SANDBOX_EVENT_RETRY_DELAYS": value}
    assert load_config(env, cwd=str(tmp_path)).event_retry_delays_s == delays
