"""The local collectors against the real libraries: what the OpenTelemetry OTLP/HTTP
exporter and sentry-sdk actually send is decoded and counted, record by record, and
a collector asked for a port that is taken says so."""

from __future__ import annotations

import socket
import subprocess
import textwrap

import pytest
from support.skips import unavailable

from harness.model.pins import load_pins
from harness.paths import PROJECT_ROOT
from harness.probes.collector import CollectorUnavailable, endpoint_env, start_collector
from harness.provision.interpreters import find_interpreter, where_searched
from harness.provision.venvs import ensure_venv, venv_python
from harness.sandbox.running import RunningSandbox

pytestmark = [pytest.mark.integration, pytest.mark.slow]

LIBRARIES = ["opentelemetry-sdk", "opentelemetry-exporter-otlp-proto-http", "sentry-sdk"]
SENTRY_FUNCTION = PROJECT_ROOT / "examples" / "sentry-function"

EXPORT = textwrap.dedent(
    """
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor
    import sentry_sdk

    provider = TracerProvider()
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    tracer = provider.get_tracer("test")
    for name in ("lab.invocation 1", "lab.invocation 2", "lab.cleanup"):
        with tracer.start_as_current_span(name):
            with tracer.start_as_current_span("child"):
                pass
    provider.shutdown()

    sentry_sdk.init(dsn=__import__("os").environ["SENTRY_DSN"])
    sentry_sdk.capture_message("lab.invocation a")
    sentry_sdk.add_breadcrumb(message="not an event")
    sentry_sdk.capture_message("lab.cleanup")
    sentry_sdk.flush()
    """
)


@pytest.fixture(scope="module")
def library_python():
    interpreter = find_interpreter("3.12")
    if interpreter is None:
        unavailable(where_searched("3.12"), interpreter=True)
    pins = load_pins()
    wanted = [f"awslambdaric=={pins.awslambdaric_for('3.12')}"]
    wanted += [pins.requirement(name) for name in LIBRARIES]
    return venv_python(ensure_venv(interpreter, wanted, constraints=pins.constraints(wanted)))


def test_the_real_exporters_records_are_counted_by_name(library_python) -> None:
    otlp = start_collector("opentelemetry", 0)
    sentry = start_collector("sentry", 0)
    try:
        env = dict(
            (*endpoint_env("opentelemetry", otlp.server_address[1]),
             *endpoint_env("sentry", sentry.server_address[1]))
        )  # fmt: skip
        done = subprocess.run(
            [str(library_python), "-c", EXPORT], env=env, capture_output=True, text=True, timeout=60
        )
        assert done.returncode == 0, done.stderr
        assert sorted(otlp.names) == sorted(
            ["lab.invocation 1", "child", "lab.invocation 2", "child", "lab.cleanup", "child"]
        )
        assert sentry.names == ["lab.invocation a", "lab.cleanup"]
        assert otlp.rejected == [] and sentry.rejected == []
    finally:
        for server in (otlp, sentry):
            server.shutdown()
            server.server_close()


def test_a_taken_port_is_named_with_what_to_do() -> None:
    holder = socket.socket()
    holder.bind(("127.0.0.1", 0))
    holder.listen(1)
    port = holder.getsockname()[1]
    try:
        with pytest.raises(CollectorUnavailable) as caught:
            start_collector("sentry", port)
        assert f"127.0.0.1:{port}: the port is taken" in str(caught.value)
        assert "port = 0" in str(caught.value)
    finally:
        holder.close()


@pytest.mark.parametrize("start", ["direct", "managed"])
def test_sentrys_lambda_integration_finds_the_runtime_and_flushes_each_invocation(
    library_python, tmp_path, start
) -> None:
    # AwsLambdaIntegration patches the runtime's bootstrap, found through __main__
    # (awslambdaric's own for `python -m awslambdaric`, bootstrap.py's
    # `awslambdaricmain` for the managed runtime); it disables itself without one.
    sentry = start_collector("sentry", 0)
    (tmp_path / "no-extensions").mkdir()
    if start == "managed":
        argv, args = ["integrated.handler"], ["--managed-python", str(library_python)]
    else:
        argv, args = [str(library_python), "-m", "awslambdaric", "integrated.handler"], []
    env = {"LAB_STRATEGY": "none", **dict(endpoint_env("sentry", sentry.server_address[1]))}
    try:
        with RunningSandbox(
            library_python, argv, tmp_path, env=env, task_root=SENTRY_FUNCTION, sandbox_args=args
        ) as sb:
            for _ in range(2):
                assert sb.invoke({}).status == 200
            # Both are in before any stop (the integration flushes before posting a result).
            assert len(sentry.names) == 2
            assert sb.stop() == 0
        lines = [e["line"] for e in sb.of_kind("output") if e["role"] == "runtime"]
        assert "[sentry] AwsLambdaIntegration found the runtime's bootstrap: True" in lines
    finally:
        sentry.shutdown()
        sentry.server_close()
