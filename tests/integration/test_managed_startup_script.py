"""The managed profile's startup script on its own (no sandbox): what it hands the
wrapper or the interpreter, and how it fails. A recording wrapper runs the
interpreter it was given and prints what it sees, so each test reads one JSON line."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional

import pytest

from lambda_sandbox import managed

pytestmark = [pytest.mark.integration, pytest.mark.timeout(30)]

BOOTSTRAP_PY = os.path.join(os.path.dirname(managed.startup_script()), "bootstrap.py")
VERSION = "{}.{}".format(*sys.version_info[:2])
RECORDER = """#!/bin/sh
exec "$1" -c 'import json, os, sys
json.dump({"args": sys.argv[1:], "pid": os.getpid(),
           "env": {k: os.environ.get(k) for k in ("AWS_EXECUTION_ENV", "_HANDLER")}}, sys.stdout)' "$@"
"""


@dataclass
class Ran:
    returncode: int
    stdout: str
    stderr: str
    pid: int


def start(args: List[str], env: Mapping[str, str], path: Optional[str] = None) -> Ran:
    unset = ("_HANDLER", "AWS_EXECUTION_ENV", "AWS_LAMBDA_EXEC_WRAPPER", "PYTHONPATH")
    base = {k: v for k, v in os.environ.items() if k not in unset}
    base["PATH"] = path or base.get("PATH", "/usr/bin:/bin")
    proc = subprocess.Popen(
        ["sh", managed.startup_script(), *args],
        env={**base, **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    out, err = proc.communicate(timeout=20)
    return Ran(proc.returncode, out, err, proc.pid)


def recorded(result: Ran) -> Dict[str, Any]:
    assert result.returncode == 0, result.stderr
    return dict(json.loads(result.stdout))


@pytest.fixture
def recorder(tmp_path: Path) -> Path:
    wrapper = tmp_path / "recorder"
    wrapper.write_text(RECORDER)
    wrapper.chmod(0o755)
    return wrapper


def test_wrapper_gets_the_interpreters_path_and_all_the_arguments(recorder):
    result = start(
        ["--python", sys.executable, "--opt-dir", "/tmp/layers", "app.handler"],
        {"AWS_LAMBDA_EXEC_WRAPPER": str(recorder)},
    )
    seen = recorded(result)
    assert seen["args"] == [sys.executable, BOOTSTRAP_PY, "--opt-dir", "/tmp/layers"]
    assert seen["env"] == {
        "AWS_EXECUTION_ENV": f"AWS_Lambda_python{VERSION}",
        "_HANDLER": "app.handler",
    }
    assert seen["pid"] == result.pid, "exec all the way: the runtime keeps the script's pid"


def test_python_named_on_path_reaches_the_wrapper_as_a_path(recorder, tmp_path):
    bindir = tmp_path / "bin"
    bindir.mkdir()
    (bindir / "lab-python").symlink_to(sys.executable)
    path = f"{bindir}{os.pathsep}/usr/bin{os.pathsep}/bin"
    seen = recorded(
        start(["--python", "lab-python"], {"AWS_LAMBDA_EXEC_WRAPPER": str(recorder)}, path)
    )
    assert seen["args"] == [str(bindir / "lab-python"), BOOTSTRAP_PY, "--opt-dir", "/opt"]


def test_a_callers_handler_wins_over_the_argument(recorder):
    env = {"AWS_LAMBDA_EXEC_WRAPPER": str(recorder), "_HANDLER": "mine.handler"}
    seen = recorded(start(["--python", sys.executable, "app.handler"], env))
    assert seen["env"]["_HANDLER"] == "mine.handler"


STUB_AWSLAMBDARIC = """import json, os, sys
def main(args):
    json.dump({"args": args, "sys_path": sys.path[:4], "pth": os.environ.get("STUB_PTH"),
               "pid": os.getpid(), "client": "{client}"}, sys.stdout)
"""


def with_stub_awslambdaric(site: Path, client: str) -> None:
    (site / "awslambdaric").mkdir(parents=True)
    (site / "awslambdaric" / "__init__.py").write_text("")
    (site / "awslambdaric" / "__main__.py").write_text(
        STUB_AWSLAMBDARIC.replace("{client}", client)
    )


def test_without_a_wrapper_bootstrap_py_sets_the_path_and_hands_over(tmp_path):
    # The runtime's own awslambdaric is a stub in a venv's site-packages; bootstrap.py
    # imports it first, as the real one does, so a copy in the task root (which
    # comes first on sys.path afterwards) is not the one that runs.
    runtime = tmp_path / "runtime"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(runtime)], check=True)
    python = runtime / "bin" / "python"
    site_packages = runtime / "lib" / f"python{VERSION}" / "site-packages"
    with_stub_awslambdaric(site_packages, "the runtime's")
    task = tmp_path / "task"
    with_stub_awslambdaric(task, "the task root's")
    (task / "stub.pth").write_text("import os; os.environ['STUB_PTH'] = 'ran'\n")
    opt = tmp_path / "opt"
    result = start(
        ["--python", str(python), "--opt-dir", str(opt), "app.handler"],
        {"LAMBDA_TASK_ROOT": str(task)},
    )
    seen = recorded(result)
    assert seen["client"] == "the runtime's"
    assert seen["args"] == [BOOTSTRAP_PY, "app.handler"]
    assert seen["sys_path"] == [
        str(task),
        str(opt / "python" / "lib" / f"python{VERSION}" / "site-packages"),
        str(opt / "python"),
        os.path.dirname(BOOTSTRAP_PY),
    ]
    assert seen["pth"] == "ran"
    assert seen["pid"] == result.pid


def test_missing_wrapper_exits_127(tmp_path):
    missing = tmp_path / "no-such-wrapper"
    result = start(["--python", sys.executable], {"AWS_LAMBDA_EXEC_WRAPPER": str(missing)})
    assert result.returncode == 127
    assert str(missing) in result.stderr


def test_wrapper_that_is_not_executable_exits_126(tmp_path, recorder):
    recorder.chmod(0o644)
    result = start(["--python", sys.executable], {"AWS_LAMBDA_EXEC_WRAPPER": str(recorder)})
    assert result.returncode == 126
    assert str(recorder) in result.stderr


def test_missing_interpreter_exits_127_and_says_so():
    result = start(["--python", "no-such-python-3.99"], {})
    assert result.returncode == 127
    assert "bootstrap: no-such-python-3.99: not found" in result.stderr


@pytest.mark.parametrize("args", [["--bogus"], ["--python"], ["a.handler", "b.handler"]])
def test_bad_arguments_exit_2(args):
    result = start(args, {})
    assert result.returncode == 2
    assert "bootstrap" in result.stderr
