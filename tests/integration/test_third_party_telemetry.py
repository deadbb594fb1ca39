"""Third-party extension code, unmodified, against the sandbox's Logs API: AWS's
sample (examples/aws-logs-api-extension, aws-samples/aws-lambda-extensions at
5c47980) subscribes during init, listens on sandbox:4243 and prints every batch
it receives. The lab gives it only what Lambda's environment has: a `python` on
PATH, and the names sandbox / sandbox.localdomain (scripts/sandbox-hosts.sh).
"""

from __future__ import annotations

import ast
import http.client
import os
import shutil
import socket
import subprocess
import uuid
from pathlib import Path
from typing import Any, Dict, List

import pytest
from support.interpreters import awslambdaric_python
from support.listeners import JsonCollector
from support.skips import unavailable

from harness.model.pins import load_pins
from harness.paths import PROJECT_ROOT
from harness.sandbox.running import RunningSandbox

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]

LOGS_SAMPLE = PROJECT_ROOT / "examples" / "aws-logs-api-extension"
SAMPLE_PORT = 4243


def require_sandbox_names() -> None:
    for name in ("sandbox", "sandbox.localdomain"):
        try:
            socket.getaddrinfo(name, None)
        except OSError:
            unavailable(f"{name} does not resolve here: run scripts/sandbox-hosts.sh")


def batches(output: List[Dict[str, Any]]) -> List[Dict[str, Any]]:
    """The events of every 'BATCH RECEIVED: [...]' line the sample printed."""
    found: List[Dict[str, Any]] = []
    for event in output:
        line = event["line"]
        if line.startswith("BATCH RECEIVED: "):
            found.extend(ast.literal_eval(line[len("BATCH RECEIVED: ") :]))
    return found


def test_aws_logs_api_sample_receives_the_invocation_unmodified(tmp_path: Path) -> None:
    require_sandbox_names()
    python = awslambdaric_python("3.12")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (tmp_path / "run").mkdir()
    (bin_dir / "python").symlink_to(python)  # the sample runs `exec python`
    runtime = [str(python), "-m", "awslambdaric", "lambda_function.lambda_handler"]
    env = {"PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"}
    with RunningSandbox(
        python,
        runtime,
        tmp_path / "run",
        env=env,
        task_root=LOGS_SAMPLE / "hello-world",
        extensions_dir=LOGS_SAMPLE / "extensions",
    ) as sb:
        first = sb.invoke({})
        second = sb.invoke({})
        assert first.status == second.status == 200, first.body
        request_ids = [r.headers["X-Amzn-RequestId"] for r in (first, second)]
        assert sb.stop() == 0
    (subscribed,) = [e for e in sb.events() if e["kind"] == "telemetry.subscribe"]
    assert subscribed["name"] == "logs_api_http_extension.py" and subscribed["api"] == "logs"
    printed = [e for e in sb.events() if e["kind"] == "output" and e["role"] == "extension"]
    received = batches(printed)
    # The first invocation's records reached the sample during the second one,
    # and the second's before SHUTDOWN: the sample printed both.
    for request_id in request_ids:
        shapes = [e["type"] for e in received if e["record"] == {"requestId": request_id}
                  or (isinstance(e["record"], dict) and e["record"].get("requestId") == request_id)]  # fmt: skip
        assert shapes == ["platform.start", "platform.end", "platform.report"], (request_id, shapes)
    lines = [e["record"] for e in received if e["type"] == "function"]
    assert lines.count("Inside Lambda function handler") == 2
    assert "platform.logsSubscription" in [e["type"] for e in received]


TELEMETRY_SAMPLE = PROJECT_ROOT / "examples" / "aws-telemetry-api-extension"
SAMPLE_NAME = "python_example_telemetry_api_extension"


def sample_with_requests(tmp_path: Path) -> Path:
    """The sample's folder as its README deploys it: `requests` installed beside it
    (pip install -r requirements.txt -t ...), with the image's Python (3.12)."""
    folder = tmp_path / SAMPLE_NAME
    shutil.copytree(TELEMETRY_SAMPLE / SAMPLE_NAME, folder)
    python = awslambdaric_python("3.12")
    # Its requirements.txt names requests unpinned; the lab's pin keeps runs alike.
    constraints = tmp_path / "constraints.txt"
    constraints.write_text(f"requests=={load_pins().version('requests')}\n")
    subprocess.run(
        [str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check",
         "-r", str(folder / "requirements.txt"), "-c", str(constraints), "-t", str(folder)],
        check=True, timeout=300,
    )  # fmt: skip
    return folder


@pytest.mark.docker
@pytest.mark.slow
@pytest.mark.timeout(600)
def test_aws_telemetry_api_sample_ships_the_invocation_unmodified(tmp_path: Path) -> None:
    from harness.images import engine as dockerbuild
    from harness.images.build import ensure_image
    from harness.images.container import RUN_DIR, TASK_ROOT, labels
    from harness.images.spec import load_specs
    from harness.sandbox.tail import EventLogTail

    try:
        engine = dockerbuild.client()
    except dockerbuild.ImageBuildError as err:
        unavailable(str(err))
    built = ensure_image(engine, load_specs()["py312"], echo=False)
    folder = sample_with_requests(tmp_path)
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    run_dir.chmod(0o777)
    sink = JsonCollector().start()
    session = f"test-{uuid.uuid4().hex[:8]}"
    container = engine.containers.run(
        image=built.spec.tag,
        command=["python3", "-m", "awslambdaric", "lambda_function.lambda_handler"],
        environment={
            "PYTHONUNBUFFERED": "1",
            "INVOKE_API_HOST": "127.0.0.1",
            "INVOKE_API_PORT": "0",
            "RUNTIME_API_HOST": "127.0.0.1",
            "RUNTIME_API_PORT": "0",
            "LAMBDA_TASK_ROOT": TASK_ROOT,
            "LAMBDA_EXTENSIONS_DIR": "/opt/extensions",
            "LAMBDA_SANDBOX_EVENT_LOG": f"{RUN_DIR}/events.jsonl",
            # The sample's own settings (its README): ship every batch, here.
            "DISPATCH_MIN_BATCH_SIZE": "1",
            "DISPATCH_POST_URI": f"http://127.0.0.1:{sink.port}/",
        },
        volumes={
            str(run_dir): {"bind": RUN_DIR, "mode": "rw"},
            str(TELEMETRY_SAMPLE / "function"): {"bind": TASK_ROOT, "mode": "ro"},
            str(TELEMETRY_SAMPLE / "extensions"): {"bind": "/opt/extensions", "mode": "ro"},
            str(folder): {"bind": f"/opt/{SAMPLE_NAME}", "mode": "ro"},
        },
        labels=labels(session, "telemetry-sample"),
        network_mode="host",
        extra_hosts={"sandbox.localdomain": "127.0.0.1", "sandbox": "127.0.0.1"},
        detach=True,
        stop_signal="SIGTERM",
    )
    try:
        tail = EventLogTail(run_dir / "events.jsonl")
        ready = tail.wait_for("sandbox.ready", 60, lambda: True)
        assert ready is not None, container.logs()[-2000:]
        host, port = ready["invoke_api"].rsplit(":", 1)
        request_ids = []
        for _ in range(2):
            connection = http.client.HTTPConnection(host, int(port), timeout=60)
            connection.request("POST", "/2015-03-31/functions/function/invocations", b"{}")
            response = connection.getresponse()
            assert response.status == 200, response.read()
            response.read()
            request_ids.append(response.getheader("X-Amzn-RequestId"))
            connection.close()
        container.stop(timeout=10)
        assert container.wait(timeout=30)["StatusCode"] == 0
    finally:
        logs = container.logs().decode(errors="replace")
        container.remove(force=True)
        sink.stop()
    received = [event for batch in sink.batches for event in batch]
    types = [e["type"] for e in received]
    assert "platform.initStart" in types and "platform.telemetrySubscription" in types, logs[-3000:]
    for request_id in request_ids:
        for kind in ("platform.start", "platform.runtimeDone", "platform.report"):
            assert [e for e in received if e["type"] == kind
                    and e["record"]["requestId"] == request_id], (kind, request_id, types)  # fmt: skip
    lines = [e["record"] for e in received if e["type"] == "function"]
    assert lines.count("inside the handler") == 2, lines
