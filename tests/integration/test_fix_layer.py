"""The fix's layer on the managed runtime, through the real sandbox and awslambdaric:
the bootstrap runs the layer's .pth (from /opt/python) only while PYTHONPATH is unset,
and the layer's AWS_LAMBDA_EXEC_WRAPPER script switches the hook on either way.

The layer is the one ``harness.provision.fix`` builds from fix/ and extracts as
Lambda extracts layers into /opt (modes kept: the wrapper stays executable).
"""

from __future__ import annotations

from pathlib import Path
from typing import Dict, List, Optional, Sequence

import pytest
from support.interpreters import awslambdaric_python

from harness.paths import FUNCTION_DIR
from harness.provision.fix import ensure_fix
from harness.sandbox.running import RunningSandbox

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]

ACTIVE = "[lambda-shutdown-hook] active (via {})"


@pytest.fixture(scope="module")
def layer(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return ensure_fix(root=tmp_path_factory.mktemp("fix")).layer_dir


def run_managed(
    version: str,
    layer: Path,
    workdir: Path,
    env: Dict[str, str],
    unset: Sequence[str],
    replies: Optional[List[bytes]] = None,
) -> str:
    python = awslambdaric_python(version)
    settings = {"LAB_STRATEGY": "signal", "LAB_EXTENSION": "none", **env}
    workdir.mkdir()
    with RunningSandbox(
        python,
        ["app.handler"],
        workdir,
        env=settings,
        task_root=FUNCTION_DIR,
        opt_dir=layer,
        sandbox_args=["--managed-python", str(python)],
        unset=unset,
    ) as sb:
        reply = sb.invoke({"word": "na\u00efve", "n": [1, 2.5, None]})
        assert reply.status == 200, reply.body
        if replies is not None:
            replies.append(reply.body)
        assert sb.stop() == 0
    return sb.output_path.read_text(encoding="utf-8", errors="replace")


@pytest.mark.parametrize("version", ["3.8", "3.12"])
def test_the_layer_switches_the_hook_on_and_the_cleanup_runs(
    version: str, layer: Path, tmp_path: Path
) -> None:
    out = run_managed(version, layer, tmp_path / "run", {}, unset=("PYTHONPATH",))
    assert ACTIVE.format("site") in out, out
    assert "[runtime] SIGTERM received: cleaning up" in out, out


def test_with_pythonpath_set_the_layers_pth_does_not_run(layer: Path, tmp_path: Path) -> None:
    out = run_managed("3.8", layer, tmp_path / "run", {"PYTHONPATH": str(tmp_path)}, unset=())
    assert "[lambda-shutdown-hook] active" not in out, out
    assert "[runtime] SIGTERM received: cleaning up" not in out, out


def test_the_wrapper_switches_it_on_even_with_pythonpath_set(layer: Path, tmp_path: Path) -> None:
    env = {
        "PYTHONPATH": str(tmp_path),
        "AWS_LAMBDA_EXEC_WRAPPER": str(layer / "lambda-shutdown-hook"),
    }
    out = run_managed("3.8", layer, tmp_path / "run", env, unset=())
    assert ACTIVE.format("wrapper") in out, out
    assert "[runtime] SIGTERM received: cleaning up" in out, out


def test_the_functions_json_response_is_byte_for_byte_the_same(layer: Path, tmp_path: Path) -> None:
    # The hook neither writes to stdout nor sets AWS_EXECUTION_ENV (which changes
    # awslambdaric's JSON encoding): the invoker gets the same bytes.
    bodies: List[bytes] = []
    plain = tmp_path / "empty-opt"
    plain.mkdir()
    run_managed("3.8", plain, tmp_path / "without", {}, ("PYTHONPATH",), bodies)
    out = run_managed("3.8", layer, tmp_path / "with", {}, ("PYTHONPATH",), bodies)
    assert ACTIVE.format("site") in out, out
    assert bodies[0] == bodies[1], bodies
    assert b'"na\\u00efve"' in bodies[0]
