"""The images and the docker backend against a real engine (marked ``docker``).

Without an engine these skip with the reason; with CI=true they fail instead,
because CI starts one (images/setup-docker.sh).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from pathlib import Path
from typing import Any, Iterator

import pytest
from support.listeners import free_port
from support.skips import unavailable

from harness import probes
from harness.backends.docker import DockerBackend
from harness.images import engine as dockerbuild
from harness.images.base import InterpreterMissing
from harness.images.build import Built, ensure_image
from harness.images.cli import standalone_kwargs
from harness.images.container import labels, network_for, sweep_containers
from harness.images.spec import RUN_LABEL, load_specs
from harness.model.scenarios import load_cells
from harness.paths import PROJECT_ROOT
from harness.runner import run_cell

pytestmark = [pytest.mark.docker, pytest.mark.integration, pytest.mark.slow]

ROOT = PROJECT_ROOT


@pytest.fixture(scope="module")
def engine() -> Iterator[Any]:
    try:
        client = dockerbuild.client()
    except dockerbuild.ImageBuildError as err:
        unavailable(str(err))
    yield client
    client.close()


def image(engine: Any, name: str) -> Built:
    try:
        return ensure_image(engine, load_specs()[name], echo=False)
    except InterpreterMissing as err:
        unavailable(str(err), interpreter=True)


@pytest.mark.timeout(1800)  # cold: debootstrap, three base images, three images
@pytest.mark.parametrize("name", ["py37", "py38", "py312"])
def test_image_builds_offline_and_is_then_reused(engine: Any, name: str) -> None:
    first = image(engine, name)
    again = ensure_image(engine, first.spec, echo=False)
    assert again.cached and again.image.id == first.image.id
    assert first.python_full_version.startswith(first.spec.python + ".")
    assert f"awslambdaric=={first.spec.awslambdaric}" in first.pins.split()


@pytest.mark.timeout(600)
@pytest.mark.parametrize("name", ["py37", "py38", "py312"])
def test_image_contents(engine: Any, name: str) -> None:
    built = image(engine, name)
    script = (
        "import json, os, sys, awslambdaric, requests, pika; "
        "print(json.dumps({'uid': os.getuid(), 'python': sys.version.split()[0], "
        "'extensions': os.listdir('/opt/extensions'), "
        "'lab': os.access('/opt/lab-extensions/lab-external-extension', os.X_OK), "
        "'task': sorted(os.listdir('/var/task')), 'env': {k: os.environ[k] for k in "
        "('LAB_STRATEGY', 'LAB_EXTENSION', 'INVOKE_API_PORT', 'LAMBDA_TASK_ROOT')}}))"
    )
    out = engine.containers.run(
        built.spec.tag,
        entrypoint=["python3", "-c", script],
        command=[],
        remove=True,
        network_mode="none",
        labels=labels("test-image-contents", "image-contents"),
    )
    seen = json.loads(out)
    assert seen["uid"] == 993 and seen["python"] == built.python_full_version
    assert seen["extensions"] == [] and seen["lab"] is True
    assert "app.py" in seen["task"] and "extensions" not in seen["task"]
    assert seen["env"] == {
        "LAB_STRATEGY": "signal",
        "LAB_EXTENSION": "internal",
        "INVOKE_API_PORT": "8080",
        "LAMBDA_TASK_ROOT": "/var/task",
    }


@pytest.mark.timeout(600)
def test_standalone_container_answers_the_seed_invocation(engine: Any) -> None:
    built = image(engine, "py312")
    port = free_port()
    run_id = f"test-{uuid.uuid4().hex[:8]}"
    kwargs = standalone_kwargs(
        built.spec.tag,
        port,
        network_for(engine, os.environ),
        function_name="my-function",
        run_id=run_id,
    )
    container = engine.containers.run(**kwargs)
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 1):
                break
            time.sleep(0.1)  # polling a port, bounded by the deadline
        for name in ("function", "my-function"):
            request = urllib.request.Request(
                f"http://localhost:{port}/2015-03-31/functions/{name}/invocations",
                data=b'{"key": "value"}',
                method="POST",
            )
            with urllib.request.urlopen(request, timeout=30) as response:
                assert response.status == 200
                assert json.loads(response.read()) == {"key": "value"}
        # The seed's own command lines, with this test's port for 8080.
        curl = subprocess.run(
            ["curl", "-sS", "-XPOST",
             f"http://localhost:{port}/2015-03-31/functions/function/invocations",
             "-d", '{"key": "value"}'],
            capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        assert curl.returncode == 0 and json.loads(curl.stdout) == {"key": "value"}, curl.stderr
        aws = shutil.which("aws", path=str(Path(sys.executable).parent)) or shutil.which("aws")
        if aws is None:
            pytest.fail("the AWS CLI (awscli in requirements.txt) is not installed")
        cli = subprocess.run(
            [aws, "lambda", "invoke", "--endpoint-url", f"http://localhost:{port}",
             "--function-name", "function", "--payload", '{"key": "value"}', "/dev/stderr"],
            capture_output=True, text=True, timeout=60,
            env={**os.environ, "AWS_ACCESS_KEY_ID": "AKIDEXAMPLE",
                 "AWS_SECRET_ACCESS_KEY": "example", "AWS_DEFAULT_REGION": "us-east-1"},
        )  # fmt: skip
        assert cli.returncode == 0, cli.stderr
        assert json.loads(cli.stdout)["StatusCode"] == 200
        assert '{"key": "value"}' in cli.stderr, "the payload goes to /dev/stderr"
        container.stop(timeout=10)
        assert container.wait(timeout=15)["StatusCode"] == 0
    finally:
        container.remove(force=True)
    assert sweep_containers(engine, run_id) == []


@pytest.mark.timeout(600)
def test_docker_backend_runs_cells_and_leaves_nothing(engine: Any, tmp_path: Path) -> None:
    image(engine, "py312")
    wanted = {
        "py3.12-awslambdaric-4.2.2-env_unset-internal-signal-stop",  # cleanup never runs
        "py3.12-awslambdaric-4.2.2-env_unset-external-wakeup-fd-idle",  # cleanup runs
        "py3.12-legacy-requests-2.31.0-env_unset-internal-signal-stop",  # cleanup runs
    }
    cells = [
        c
        for c in load_cells(ROOT / "scenarios" / "experiments", probes.check_settings)
        if c.id in wanted
    ]
    assert len(cells) == len(wanted)
    session = f"test-{uuid.uuid4().hex[:8]}"
    backend = DockerBackend(tmp_path / "cells", session)
    for cell in cells:
        result = run_cell(cell, backend, tmp_path)
        assert result.verdict == "pass", (cell.id, result.reasons)
        assert result.backend == "docker"
    assert engine.containers.list(all=True, filters={"label": f"{RUN_LABEL}={session}"}) == []


@pytest.mark.timeout(600)
def test_an_interrupted_run_removes_its_container(
    engine: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    image(engine, "py312")
    (cell,) = [
        c
        for c in load_cells(ROOT / "scenarios" / "experiments", probes.check_settings)
        if c.id == "py3.12-awslambdaric-4.2.2-env_unset-internal-wakeup-fd-stop"
    ]
    session = f"test-{uuid.uuid4().hex[:8]}"
    backend = DockerBackend(tmp_path / "cells", session)

    def interrupted(*args: Any) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr("harness.backends.base.drive", interrupted)
    with pytest.raises(KeyboardInterrupt):
        backend.run(cell)
    assert engine.containers.list(all=True, filters={"label": f"{RUN_LABEL}={session}"}) == []
