"""The managed Python runtime profile through the sandbox, with the real awslambdaric
on CPython 3.8 and 3.12: ``python -m lambda_sandbox --managed-python PYTHON -- HANDLER``.

Each test builds a task root (tests/fixtures/managed/app.py, which reports what
the runtime set up) and a directory that plays /opt in tmp_path.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any, Dict, Mapping, Optional, Sequence, Tuple

import pytest

from harness.paths import TEST_FIXTURES
from harness.sandbox.running import RunningSandbox

pytestmark = [pytest.mark.integration, pytest.mark.timeout(90)]

MANAGED_APP = TEST_FIXTURES / "managed" / "app.py"
EXTERNAL_EXTENSION = TEST_FIXTURES / "extensions" / "fixture-external"
WRAPPER = """#!/bin/sh
echo "wrapper: $*"
export WRAPPED_BY=test-wrapper
exec "$@"
"""


@pytest.fixture
def task_root(tmp_path: Path) -> Path:
    root = tmp_path / "task"
    root.mkdir()
    shutil.copy(MANAGED_APP, root / "app.py")
    return root


@pytest.fixture
def opt_dir(tmp_path: Path) -> Path:
    opt = tmp_path / "opt"
    opt.mkdir()
    return opt


def managed_sandbox(
    ric_python: Tuple[str, Path],
    workdir: Path,
    task_root: Path,
    opt_dir: Path,
    env: Optional[Mapping[str, str]] = None,
    unset: Sequence[str] = ("PYTHONPATH",),
) -> RunningSandbox:
    """The sandbox in the managed profile. By default PYTHONPATH is unset, as it is
    for a function on Lambda that does not set it."""
    _, python = ric_python
    return RunningSandbox(
        python,
        ["app.handler"],
        workdir / "sandbox",
        env=dict(env or {}),
        task_root=task_root,
        opt_dir=opt_dir,
        sandbox_args=["--managed-python", str(python)],
        unset=unset,
    )


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    (tmp_path / "sandbox").mkdir()
    return tmp_path


def answer(sb: RunningSandbox, event: Optional[Dict[str, Any]] = None) -> Dict[str, Any]:
    reply = sb.invoke(event or {})
    assert reply.status == 200, reply.body
    assert "X-Amz-Function-Error" not in reply.headers, reply.body
    return dict(reply.json())


def runtime_exit(sb: RunningSandbox) -> Dict[str, Any]:
    exits = [e for e in sb.of_kind("process.exit") if e["role"] == "runtime"]
    assert exits, "the runtime did not exit"
    return exits[0]


# ------------------------------------------------------------ the profile


def test_managed_profile_runs_the_handler_as_aws_lambda_python_x_y(
    ric_python, workdir, task_root, opt_dir
):
    version, python = ric_python
    with managed_sandbox(ric_python, workdir, task_root, opt_dir) as sb:
        seen = answer(sb)
        assert sb.stop() == 0
    assert seen["execution_env"] == f"AWS_Lambda_python{version}"
    assert seen["executable"] == str(python)
    assert seen["sys_path"][:3] == [
        str(task_root),
        str(opt_dir / "python" / "lib" / f"python{version}" / "site-packages"),
        str(opt_dir / "python"),
    ]
    started = [e for e in sb.of_kind("process.start") if e["role"] == "runtime"]
    assert started[0]["argv"][0] == "sh" and started[0]["argv"][-1] == "app.handler"
    # The script execs the interpreter: the runtime the sandbox signals is the
    # function's own process, not a shell in front of it.
    assert seen["pid"] == started[0]["pid"]
    # As on Lambda, __main__ (bootstrap.py) holds awslambdaric's main as a global.
    assert seen["main_has_awslambdaricmain_bootstrap"] is True


# ------------------------------------------------------------ wrapper scripts


def test_wrapper_script_that_sets_a_variable_and_execs_takes_effect(
    ric_python, workdir, task_root, opt_dir, tmp_path
):
    version, python = ric_python
    wrapper = tmp_path / "wrapper"
    wrapper.write_text(WRAPPER)
    wrapper.chmod(0o755)
    with managed_sandbox(
        ric_python, workdir, task_root, opt_dir, {"AWS_LAMBDA_EXEC_WRAPPER": str(wrapper)}
    ) as sb:
        seen = answer(sb)
        assert sb.stop() == 0
    assert seen["wrapped_by"] == "test-wrapper"
    assert seen["execution_env"] == f"AWS_Lambda_python{version}"
    lines = [e["line"] for e in sb.of_kind("output") if e["line"].startswith("wrapper: ")]
    assert lines == [f"wrapper: {python} {seen['argv'][0]} --opt-dir {opt_dir}"]


@pytest.mark.parametrize(
    ("make", "code"),
    [("missing", 127), ("not-executable", 126)],
)
def test_wrapper_that_cannot_run_fails_init_with_the_shells_exit_code(
    ric_python, workdir, task_root, opt_dir, tmp_path, make, code
):
    wrapper = tmp_path / "wrapper"
    if make == "not-executable":
        wrapper.write_text(WRAPPER)
        wrapper.chmod(0o644)
    env = {"AWS_LAMBDA_EXEC_WRAPPER": str(wrapper)}
    with managed_sandbox(ric_python, workdir, task_root, opt_dir, env) as sb:
        reply = sb.invoke({})
        assert sb.stop() == 0
    assert reply.status == 200
    assert reply.headers["X-Amz-Function-Error"] == "Unhandled"
    assert reply.json()["errorType"] == "Runtime.ExitError"
    assert f"exit status {code}" in reply.json()["errorMessage"]
    assert (runtime_exit(sb)["returncode"], runtime_exit(sb)["signal"]) == (code, None)
    init_end = sb.of_kind("init.end")[0]
    assert (init_end["status"], init_end["error_type"]) == ("error", "Runtime.ExitError")


# ------------------------------------------------------------ task root and layers


def test_pth_file_in_the_task_root_runs(ric_python, workdir, task_root, opt_dir):
    (task_root / "mark.pth").write_text("import os; os.environ['MANAGED_FIXTURE_PTH'] = 'ran'\n")
    with managed_sandbox(ric_python, workdir, task_root, opt_dir) as sb:
        seen = answer(sb)
        assert sb.stop() == 0
    assert seen["pth_ran"] == "ran"


def write_layer_modules(opt_dir: Path, version: str) -> Dict[str, Path]:
    site_packages = opt_dir / "python" / "lib" / f"python{version}" / "site-packages"
    site_packages.mkdir(parents=True)
    modules = {
        "layer_top": opt_dir / "python" / "layer_top.py",
        "layer_site": site_packages / "layer_site.py",
    }
    for path in modules.values():
        path.write_text("")
    return modules


def test_layer_modules_import_when_pythonpath_is_unset(ric_python, workdir, task_root, opt_dir):
    version, _ = ric_python
    modules = write_layer_modules(opt_dir, version)
    with managed_sandbox(ric_python, workdir, task_root, opt_dir) as sb:
        seen = answer(sb, {"import": sorted(modules)})
        assert sb.stop() == 0
    assert seen["imports"] == {name: str(path) for name, path in modules.items()}


def test_layer_modules_do_not_import_when_pythonpath_is_set(
    ric_python, workdir, task_root, opt_dir, tmp_path
):
    version, _ = ric_python
    modules = write_layer_modules(opt_dir, version)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {"PYTHONPATH": str(elsewhere)}
    with managed_sandbox(ric_python, workdir, task_root, opt_dir, env, unset=()) as sb:
        seen = answer(sb, {"import": sorted(modules)})
        assert sb.stop() == 0
    assert seen["imports"] == {name: None for name in modules}
    assert str(opt_dir / "python") not in seen["sys_path"]


def test_external_extension_in_opt_extensions_starts(ric_python, workdir, task_root, opt_dir):
    (opt_dir / "extensions").mkdir()
    shutil.copy(EXTERNAL_EXTENSION, opt_dir / "extensions" / "fixture-external")
    with managed_sandbox(ric_python, workdir, task_root, opt_dir) as sb:
        answer(sb)
        assert sb.stop() == 0
    registered = [(e["name"], e["type"]) for e in sb.of_kind("extension.register")]
    assert registered == [("fixture-external", "external")]
    shutdown = sb.of_kind("shutdown.start")[0]
    assert shutdown["rule"] == "external"
