"""function/app.py: configuration, handlers, and the SIGTERM cleanup end to end.

Every test imports app in a child interpreter: importing it is the function's
init (it reads the environment, opens SQLite, installs signal handling).
"""

from __future__ import annotations

import signal
import sqlite3

import pytest
from support.fakes import (
    CHILD_VERSIONS,
    CLEANUP_FINISHED,
    CLEANUP_STARTED,
    ChildProcess,
    FakeLambdaApi,
    child_env,
    main_thread_syscall,
    python_for,
    require_proc_syscall,
    wait_main_thread_in_read,
)

HANDLERS = r"""
import app

class Context:
    aws_request_id = "req-1"

print("[child] handler ->", app.handler({"k": 1}, Context()), flush=True)
print("[child] sleep_handler ->", app.sleep_handler({"seconds": 0}, Context()), flush=True)
try:
    app.error_handler({}, Context())
except ValueError as exc:
    print("[child] error_handler raised ValueError(%r)" % str(exc), flush=True)
"""

NATIVE_FD = 100

# Import app (init), then park the main thread in native code like awslambdaric.
IDLE_IN_NATIVE_CODE = r"""
import ctypes, os, signal
import app
print("[child] db " + app.RESOURCE.path, flush=True)
signal.siginterrupt(signal.SIGTERM, False)
r, w = os.pipe()
os.dup2(r, NATIVE_FD)
print("[child] entering native read", flush=True)
ctypes.CDLL(None).read(NATIVE_FD, ctypes.create_string_buffer(1), 1)
print("[child] native read returned", flush=True)
""".replace("NATIVE_FD", str(NATIVE_FD))


@pytest.mark.integration
@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        (
            "LAB_STRATEGY",
            "sigterm",
            "LAB_STRATEGY='sigterm' is not allowed; use one of: signal, wakeup-fd, none",
        ),
        (
            "LAB_EXTENSION",
            "external",
            "LAB_EXTENSION='external' is not allowed; use one of: internal, none",
        ),
        (
            "LAB_INTERNAL_EXTENSION_EVENTS",
            "INVOKE,shutdown",
            "LAB_INTERNAL_EXTENSION_EVENTS "
            "contains 'shutdown'; use a comma-separated subset of: INVOKE, SHUTDOWN",
        ),
    ],
)
def test_bad_configuration_fails_init_naming_the_variable(
    variable: str, value: str, message: str
) -> None:
    env = child_env(**{"LAB_EXTENSION": "none", variable: value})
    with ChildProcess([python_for("3.12"), "-c", "import app"], env) as child:
        assert child.wait_exit(timeout=20) == 1
        assert "ValueError: " + message in child.output()


@pytest.mark.integration
@pytest.mark.parametrize("version", CHILD_VERSIONS)
def test_init_line_and_handlers(version: str) -> None:
    env = child_env(LAB_STRATEGY="none", LAB_EXTENSION="none")
    with ChildProcess([python_for(version), "-c", HANDLERS], env) as child:
        assert child.wait_exit(timeout=20) == 0, child.output()
        full = child.lines[0].rsplit("=", 1)[1]
        assert full.startswith(version + ".")
        assert child.lines[0] == f"[runtime] init: strategy=none extension=none python={full}"
        assert "[handler] invoked request_id=req-1" in child.lines
        assert "[child] handler -> {'k': 1}" in child.lines
        assert "[child] sleep_handler -> {'slept': 0.0}" in child.lines
        assert "[child] error_handler raised ValueError('boom')" in child.lines


@pytest.mark.integration
def test_internal_extension_refused_for_shutdown_fails_init() -> None:
    with FakeLambdaApi() as api:
        env = child_env(
            AWS_LAMBDA_RUNTIME_API=api.address, LAB_INTERNAL_EXTENSION_EVENTS="SHUTDOWN"
        )
        with ChildProcess([python_for("3.12"), "-c", "import app"], env) as child:
            assert child.wait_exit(timeout=20) == 1
            assert (
                "403 Extension.InvalidEventType: ShutdownEventNotSupportedForInternalExtension: "
                in child.output()
            )


@pytest.mark.integration
@pytest.mark.parametrize("version", CHILD_VERSIONS)
@pytest.mark.parametrize("strategy", ["signal", "wakeup-fd"])
def test_sigterm_while_idle_in_native_code(version: str, strategy: str) -> None:
    """The whole function: extension registered, runtime idle in native code, SIGTERM."""
    require_proc_syscall()
    with FakeLambdaApi() as api:
        env = child_env(AWS_LAMBDA_RUNTIME_API=api.address, LAB_STRATEGY=strategy)
        with ChildProcess([python_for(version), "-c", IDLE_IN_NATIVE_CODE], env) as child:
            db = child.wait_for("[child] db ").split(" ", 2)[2]
            registered = api.wait_call("register")
            assert registered.headers["Lambda-Extension-Name"] == "lab-internal-extension"
            assert registered.json() == {"events": []}
            api.wait_call("extension-next")
            wait_main_thread_in_read(child, NATIVE_FD)
            child.signal(signal.SIGTERM)
            if strategy == "signal":
                assert not child.saw(CLEANUP_STARTED, timeout=1.0), child.output()
                fields = main_thread_syscall(child.pid)
                assert fields is not None and int(fields[1], 16) == NATIVE_FD
                child.kill()  # what Lambda does at the deadline
            else:
                child.wait_for(CLEANUP_STARTED, timeout=1.0)
                child.wait_for(CLEANUP_FINISHED, timeout=5.0)
                assert child.wait_exit(timeout=10) == 0
                lines = child.lines
                assert lines.index(CLEANUP_STARTED) < lines.index(CLEANUP_FINISHED)
                with sqlite3.connect(db) as conn:
                    rows = [r[0] for r in conn.execute("SELECT what FROM events")]
                assert rows[0].startswith("init pid=") and rows[-1] == "shutdown"
            assert "native read returned" not in child.output()
