"""Test doubles for the function/ tests: a fake Lambda API and a child-process wrapper.

``FakeLambdaApi`` is the smallest Runtime + Extensions API that drives the
function's own code (it is *not* the sandbox: no lifecycle, no shutdown rules).
``ChildProcess`` owns one ``Popen``: its output is read by a thread into a list
so tests can wait for a line with a deadline, and it is always SIGKILLed by PID
on exit. tests/integration/test_support_fakes.py checks the doubles themselves.
"""

from __future__ import annotations

import contextlib
import functools
import importlib.util
import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import ModuleType
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence

import pytest

from harness.paths import FUNCTION_DIR
from harness.provision.interpreters import find_interpreter, where_searched
from support.skips import unavailable

EXTENSION_SCRIPT = FUNCTION_DIR / "extensions" / "lab-external-extension"
CHILD_VERSIONS = ("3.7", "3.8", "3.12")

CLEANUP_STARTED = "[runtime] SIGTERM received: cleaning up"
CLEANUP_FINISHED = "[runtime] cleanup finished: connection closed"


# --- interpreters and modules ---------------------------------------------


@functools.lru_cache(maxsize=None)
def _interpreter_path(version: str) -> Optional[str]:
    found = find_interpreter(version)
    return str(found.path) if found else None


def python_for(version: str) -> str:
    """The interpreter for ``version``, or skip the test saying how to provide one.

    In CI a missing interpreter fails instead (as tests/conftest.py does), unless
    LAB_ALLOW_MISSING_PYTHON=1.
    """
    path = _interpreter_path(version)
    if path is None:
        unavailable(where_searched(version), interpreter=True)
    return path


def load_function_module(name: str) -> ModuleType:
    """A fresh copy of function/<name>.py under a private name (no sys.path change)."""
    spec = importlib.util.spec_from_file_location(
        "lab_function_" + name.replace("-", "_"), FUNCTION_DIR / (name + ".py")
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    dont_write = sys.dont_write_bytecode
    sys.dont_write_bytecode = True  # keep function/ free of __pycache__
    try:
        spec.loader.exec_module(module)
    finally:
        sys.dont_write_bytecode = dont_write
    return module


def child_env(**extra: str) -> Dict[str, str]:
    """A clean environment for a child interpreter running the function's code."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("AWS_", "LAMBDA_", "LAB_", "PYTHON", "_HANDLER"))
    }
    env.update(
        PYTHONPATH=str(FUNCTION_DIR),
        PYTHONDONTWRITEBYTECODE="1",
        PYTHONUNBUFFERED="1",
        PYENV_VERSION="",
    )
    env.update(extra)
    return env


# --- child processes ---------------------------------------------------------


class ChildProcess:
    """One child process with stdout+stderr captured line by line."""

    def __init__(self, argv: Sequence[str], env: Mapping[str, str], cwd: Optional[Path] = None):
        self.argv = list(argv)
        self.proc = subprocess.Popen(
            self.argv,
            env=dict(env),
            cwd=str(cwd) if cwd else None,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        self.pid = self.proc.pid
        self._lines: List[str] = []
        self._changed = threading.Condition()
        self._eof = False
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            with self._changed:
                self._lines.append(line.rstrip("\n"))
                self._changed.notify_all()
        with self._changed:
            self._eof = True
            self._changed.notify_all()

    @property
    def lines(self) -> List[str]:
        with self._changed:
            return list(self._lines)

    def output(self) -> str:
        return "\n".join(self.lines)

    def count(self, text: str) -> int:
        return sum(1 for line in self.lines if text in line)

    def saw(self, text: str, timeout: float, count: int = 1) -> bool:
        """Whether ``count`` lines containing ``text`` appear within ``timeout`` s."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while sum(1 for line in self._lines if text in line) < count:
                remaining = deadline - time.monotonic()
                if remaining <= 0 or self._eof:
                    return sum(1 for line in self._lines if text in line) >= count
                self._changed.wait(remaining)
            return True

    def wait_for(self, text: str, timeout: float = 10.0, count: int = 1) -> str:
        """The first line containing ``text``; fails with the output attached."""
        if not self.saw(text, timeout, count):
            pytest.fail(
                f"no {count} line(s) containing {text!r} within {timeout}s "
                f"(exit {self.proc.poll()}); output:\n{self.output()}"
            )
        return next(line for line in self.lines if text in line)

    def wait_exit(self, timeout: float = 10.0) -> int:
        try:
            code = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            pytest.fail(
                f"child {self.pid} still running after {timeout}s; output:\n{self.output()}"
            )
        self._reader.join(5)
        return code

    def alive(self) -> bool:
        return self.proc.poll() is None

    def signal(self, signum: int) -> None:
        os.kill(self.pid, signum)

    def kill(self) -> None:
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signal.SIGKILL)
        self.proc.wait(10)
        self._reader.join(5)
        if self.proc.stdout is not None:
            self.proc.stdout.close()

    def __enter__(self) -> ChildProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.kill()


def main_thread_syscall(pid: int) -> Optional[List[str]]:
    """``/proc/PID/task/PID/syscall`` split: [nr, arg0, ...] or ["running"]; None if absent."""
    try:
        with open(f"/proc/{pid}/task/{pid}/syscall") as f:
            return f.read().split()
    except OSError:
        return None


def require_proc_syscall() -> None:
    if main_thread_syscall(os.getpid()) is None:
        pytest.skip("needs /proc/PID/syscall (Linux) to see a thread blocked in a native call")


def wait_main_thread_in_read(child: ChildProcess, fd: int, timeout: float = 10.0) -> None:
    """Wait until the child's main thread is blocked in a system call on ``fd``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        fields = main_thread_syscall(child.pid)
        if fields and fields[0] != "running" and len(fields) > 1 and int(fields[1], 16) == fd:
            return
        if not child.alive():
            break
        time.sleep(0.01)  # polling /proc: nothing to wait on
    pytest.fail(f"main thread of {child.pid} never blocked on fd {fd}; output:\n{child.output()}")


# --- a fake Lambda API -----------------------------------------------------------


@dataclass
class ApiCall:
    kind: str  # register, extension-next, runtime-next, response, error, init-error, exit-error
    path: str
    headers: Dict[str, str]
    body: bytes
    key: str = ""  # extension id or request id

    def json(self) -> Any:
        return json.loads(self.body.decode("utf-8"))


@dataclass
class _State:
    refuse_shutdown_for: Sequence[str]
    calls: List[ApiCall] = field(default_factory=list)
    changed: threading.Condition = field(default_factory=threading.Condition)
    invocations: "queue.Queue[Dict[str, Any]]" = field(default_factory=queue.Queue)
    extension_events: Dict[str, "queue.Queue[Dict[str, Any]]"] = field(default_factory=dict)
    closed: threading.Event = field(default_factory=threading.Event)

    def record(self, call: ApiCall) -> None:
        with self.changed:
            self.calls.append(call)
            self.changed.notify_all()


def _make_handler(state: _State) -> type:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def _reply(
            self, status: int, body: Any = None, headers: Optional[Dict[str, str]] = None
        ) -> None:
            data = b"" if body is None else json.dumps(body).encode("utf-8")
            self.send_response(status)
            for key, value in (headers or {}).items():
                self.send_header(key, value)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _wait(self, q: "queue.Queue[Dict[str, Any]]") -> Optional[Dict[str, Any]]:
            while not state.closed.is_set():
                try:
                    return q.get(timeout=0.05)
                except queue.Empty:
                    continue
            return None

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            headers = dict(self.headers.items())
            path = self.path
            if path == "/2020-01-01/extension/register":
                name = self.headers.get("Lambda-Extension-Name", "")
                state.record(ApiCall("register", path, headers, body, name))
                events = json.loads(body or b"{}").get("events", [])
                if not name:
                    self._reply(
                        403,
                        {
                            "errorType": "Extension.InvalidExtensionName",
                            "errorMessage": "missing Lambda-Extension-Name",
                        },
                    )
                elif "SHUTDOWN" in events and name in state.refuse_shutdown_for:
                    self._reply(
                        403,
                        {
                            # As AWS's emulator and the sandbox answer it.
                            "errorType": "Extension.InvalidEventType",
                            "errorMessage": "ShutdownEventNotSupportedForInternalExtension: "
                            "internal extensions cannot register for SHUTDOWN",
                        },
                    )
                else:
                    ident = str(uuid.uuid4())
                    state.extension_events[ident] = queue.Queue()
                    self._reply(
                        200,
                        {"functionName": "fn", "functionVersion": "$LATEST", "handler": "app"},
                        {"Lambda-Extension-Identifier": ident},
                    )
            elif path.startswith("/2018-06-01/runtime/invocation/"):
                request_id, _, what = path[len("/2018-06-01/runtime/invocation/") :].partition("/")
                state.record(ApiCall(what, path, headers, body, request_id))
                self._reply(202, {"status": "OK"})
            elif path == "/2018-06-01/runtime/init/error":
                state.record(ApiCall("init-error", path, headers, body))
                self._reply(202, {"status": "OK"})
            elif path.startswith("/2020-01-01/extension/"):
                state.record(ApiCall(path.rsplit("/", 2)[-2] + "-error", path, headers, body))
                self._reply(202, {"status": "OK"})
            else:
                self._reply(404, {"errorType": "NotFound", "errorMessage": path})

        def do_GET(self) -> None:
            headers = dict(self.headers.items())
            if self.path == "/2020-01-01/extension/event/next":
                ident = self.headers.get("Lambda-Extension-Identifier", "")
                state.record(ApiCall("extension-next", self.path, headers, b"", ident))
                q = state.extension_events.get(ident)
                if q is None:
                    self._reply(
                        403,
                        {
                            "errorType": "Extension.UnknownExtensionIdentifier",
                            "errorMessage": ident,
                        },
                    )
                    return
                event = self._wait(q)
                if event is not None:
                    self._reply(200, event, {"Lambda-Extension-Event-Identifier": "e"})
            elif self.path == "/2018-06-01/runtime/invocation/next":
                state.record(ApiCall("runtime-next", self.path, headers, b""))
                invocation = self._wait(state.invocations)
                if invocation is not None:
                    self._reply(200, invocation["event"], invocation["headers"])
            else:
                self._reply(404, {"errorType": "NotFound", "errorMessage": self.path})

    return Handler


class FakeLambdaApi:
    """Runtime + Extensions API on 127.0.0.1:<free port>, recording every call."""

    def __init__(self, refuse_shutdown_for: Sequence[str] = ("lab-internal-extension",)):
        self._state = _State(refuse_shutdown_for)
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _make_handler(self._state))
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self._server.server_port}"

    def invoke(self, event: Any, request_id: Optional[str] = None) -> str:
        """Queue an invocation for the runtime's next ``next``; returns its request id."""
        request_id = request_id or str(uuid.uuid4())
        deadline_ms = int(time.time() * 1000) + 30_000
        self._state.invocations.put(
            {
                "event": event,
                "headers": {
                    "Lambda-Runtime-Aws-Request-Id": request_id,
                    "Lambda-Runtime-Deadline-Ms": str(deadline_ms),
                    "Lambda-Runtime-Invoked-Function-Arn": "arn:aws:lambda:us-east-1:0:function:fn",
                    "Lambda-Runtime-Trace-Id": "Root=1-00000000-000000000000000000000000",
                },
            }
        )
        return request_id

    def send_event(self, extension_id: str, event: Dict[str, Any]) -> None:
        self._state.extension_events[extension_id].put(event)

    def calls(self, kind: Optional[str] = None) -> List[ApiCall]:
        with self._state.changed:
            return [c for c in self._state.calls if kind is None or c.kind == kind]

    def wait_call(
        self, kind: str, timeout: float = 10.0, where: Callable[[ApiCall], bool] = lambda c: True
    ) -> ApiCall:
        deadline = time.monotonic() + timeout
        with self._state.changed:
            while True:
                for call in self._state.calls:
                    if call.kind == kind and where(call):
                        return call
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    kinds = [c.kind for c in self._state.calls]
                    pytest.fail(f"no {kind!r} call within {timeout}s; calls so far: {kinds}")
                self._state.changed.wait(remaining)

    def wait_count(self, kind: str, count: int, timeout: float = 10.0) -> List[ApiCall]:
        """Wait until ``count`` calls of ``kind`` were made; return them."""
        deadline = time.monotonic() + timeout
        with self._state.changed:
            while True:
                calls = [c for c in self._state.calls if c.kind == kind]
                if len(calls) >= count:
                    return calls
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    pytest.fail(f"{len(calls)} of {count} {kind!r} calls within {timeout}s")
                self._state.changed.wait(remaining)

    def close(self) -> None:
        self._state.closed.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)

    def __enter__(self) -> FakeLambdaApi:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
