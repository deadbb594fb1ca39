"""The managed Python runtime profile's pure parts: the search path bootstrap.py
builds, its arguments, the runtime command, and how the command line selects it."""

from __future__ import annotations

import os

import pytest

from lambda_sandbox import managed
from lambda_sandbox.cli import Arguments, UsageError, parse_arguments
from lambda_sandbox.managed import bootstrap

# ------------------------------------------------------------ sys.path


def test_task_root_then_layer_site_packages_then_layer_python_without_pythonpath():
    prefix = bootstrap.search_path_prefix("/var/task", "/opt", None, "3.12")
    assert prefix == ["/var/task", "/opt/python/lib/python3.12/site-packages", "/opt/python"]


@pytest.mark.parametrize("pythonpath", ["/somewhere", ""])
def test_a_set_pythonpath_even_empty_leaves_the_layers_out(pythonpath):
    assert bootstrap.search_path_prefix("/var/task", "/opt", pythonpath, "3.8") == ["/var/task"]


def test_layer_paths_follow_the_opt_dir_and_the_interpreters_version():
    assert bootstrap.layer_paths("/tmp/layers", "3.8") == [
        "/tmp/layers/python/lib/python3.8/site-packages",
        "/tmp/layers/python",
    ]


def test_opt_dir_argument_defaults_to_opt():
    assert bootstrap.parse_opt_dir([]) == "/opt"
    assert bootstrap.parse_opt_dir(["--opt-dir", "/tmp/o"]) == "/tmp/o"
    assert bootstrap.parse_opt_dir(["--opt-dir=/tmp/o"]) == "/tmp/o"


@pytest.mark.parametrize("argv", [["--opt"], ["--opt-dir"], ["extra"]])
def test_bad_bootstrap_arguments_exit_2(argv, capsys):
    with pytest.raises(SystemExit) as exited:
        bootstrap.parse_opt_dir(argv)
    assert exited.value.code == 2
    assert "usage: bootstrap.py" in capsys.readouterr().err


def test_awslambdaric_gets_the_handler_as_its_first_argument():
    assert bootstrap.awslambdaric_args("bootstrap.py", "app.handler") == [
        "bootstrap.py",
        "app.handler",
    ]
    assert bootstrap.awslambdaric_args("bootstrap.py", None) == ["bootstrap.py"]
    assert bootstrap.awslambdaric_args("bootstrap.py", "") == ["bootstrap.py"]


# ------------------------------------------------------------ runtime command


def test_startup_script_ships_in_the_package_next_to_bootstrap_py():
    script = managed.startup_script()
    assert os.path.dirname(script) == os.path.dirname(bootstrap.__file__)
    with open(script, encoding="utf-8") as source:
        assert source.readline() == "#!/bin/sh\n"


def test_runtime_command_runs_the_script_with_sh_and_ends_with_the_handler():
    command = managed.runtime_command("python3.12", "app.handler", "/tmp/opt")
    assert command == [
        "sh",
        managed.startup_script(),
        "--python",
        "python3.12",
        "--opt-dir",
        "/tmp/opt",
        "app.handler",
    ]


# ------------------------------------------------------------ command line


def test_a_plain_runtime_command_is_run_as_given():
    arguments = parse_arguments(["--", "python", "-m", "awslambdaric", "app.handler"])
    assert arguments == Arguments(["python", "-m", "awslambdaric", "app.handler"])
    assert arguments.runtime_command("/opt") == ["python", "-m", "awslambdaric", "app.handler"]


@pytest.mark.parametrize(
    "argv",
    [
        ["--managed-python", "/venv/bin/python", "--", "app.handler"],
        ["--managed-python", "/venv/bin/python", "app.handler"],
        ["--managed-python=/venv/bin/python", "app.handler"],
    ],
)
def test_managed_python_selects_the_managed_profile(argv):
    arguments = parse_arguments(argv)
    assert arguments == Arguments(["app.handler"], "/venv/bin/python")
    assert arguments.runtime_command("/tmp/opt") == managed.runtime_command(
        "/venv/bin/python", "app.handler", "/tmp/opt"
    )


def test_managed_python_after_the_separator_is_part_of_the_runtime_command():
    arguments = parse_arguments(["--", "--managed-python", "x", "y"])
    assert arguments.managed_python is None


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        ([], "no runtime command given"),
        (["--"], "no runtime command given"),
        (["--managed-python"], "needs an interpreter"),
        (["--managed-python=", "app.handler"], "needs an interpreter"),
        (["--managed-python", "python3"], "no handler given"),
        (["--managed-python", "python3", "a.h", "b.h"], "takes one HANDLER"),
    ],
)
def test_bad_command_lines_say_what_is_wrong(argv, message):
    with pytest.raises(UsageError, match=message):
        parse_arguments(argv)


def test_bootstrap_runs_pth_files_of_the_task_root_and_the_layers() -> None:
    # The real bootstrap.py's add_default_site_directories: a layer's .pth runs too.
    assert bootstrap.site_directories("/var/task", "/opt", None, "3.12") == [
        "/var/task",
        "/opt/python/lib/python3.12/site-packages",
        "/opt/python",
    ]


def test_bootstrap_runs_only_the_task_roots_pth_files_when_pythonpath_is_set() -> None:
    assert bootstrap.site_directories("/var/task", "/opt", "/mine", "3.12") == ["/var/task"]
