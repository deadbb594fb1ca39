"""The floor an invoke through the sandbox is measured against: bare stdlib HTTP on loopback.

Two processes, started with the sandbox's own interpreter so that both paths
pay the same interpreter costs:

``serve``   a ThreadingHTTPServer (HTTP/1.1, keep-alive) with the two
            exchanges of a warm invoke and nothing else: ``POST /invoke``
            queues the body and waits; ``GET /next`` hands it to the runtime;
            ``POST /response/<id>`` answers the waiting invoke. ``POST /echo``
            answers at once (the two-round-trip floor). Prints its port.
``runtime`` the runtime loop over http.client: next, response, repeat.

The server also answers the same exchanges on the Invoke API's and the Runtime
API's own paths (``POST /2015-03-31/functions/function/invocations``,
``GET /2018-06-01/runtime/invocation/next``, ``POST .../{id}/response``), so
that the runtime can instead be the one the sandbox runs (awslambdaric and the
fixture function): then the floor differs from the sandbox only in what the
sandbox does besides relaying.

Both run until killed; ``Floor`` (used by the benchmark) owns the two
processes and kills their process groups on exit. ``Floor(selector=True)``
runs ``bench.selector_floor`` instead: the same paths from one thread and one
``selectors`` loop, the least a CPython server can spend per invoke; and
``runtimes`` starts that many runtimes on it (the throughput benchmark's).

    python -m bench.loopback_floor serve
    python -m bench.loopback_floor runtime 127.0.0.1:PORT
"""

from __future__ import annotations

import contextlib
import http.client
import itertools
import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any, Dict, List, Optional, Sequence, Tuple, Type

from harness.paths import PROJECT_ROOT

INVOKE_PATH = "/2015-03-31/functions/function/invocations"
RUNTIME_INVOCATION = "/2018-06-01/runtime/invocation/"
FUNCTION_ARN = "arn:aws:lambda:us-east-1:000000000000:function:function"


def next_fields(request_id: object) -> str:
    """The header fields of the Runtime API's answer to ``next`` (for both floors)."""
    deadline_ms = int(time.time() * 1000) + 30_000
    return (
        f"Lambda-Runtime-Aws-Request-Id: {request_id}\r\n"
        f"Lambda-Runtime-Deadline-Ms: {deadline_ms}\r\n"
        f"Lambda-Runtime-Invoked-Function-Arn: {FUNCTION_ARN}\r\n"
        "Lambda-Runtime-Trace-Id: Root=1-00000000-000000000000000000000000\r\n"
    )


_pending: "queue.Queue[Tuple[int, bytes]]" = queue.Queue()
_answers: Dict[int, List[Any]] = {}
_ids = itertools.count(1)


class FloorHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # quiet, like a bare server
        pass

    def _reply(self, status: int, body: bytes, extra: str = "") -> None:
        # Status line, headers and body in one write: the floor pays no
        # Nagle/delayed-ACK stall between a header write and a body write.
        head = (
            f"HTTP/1.1 {status} {'OK' if status == 200 else 'Accepted'}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n{extra}\r\n"
        )
        self.wfile.write(head.encode("latin-1") + body)

    def _body(self) -> bytes:
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def do_POST(self) -> None:
        body = self._body()
        if self.path == "/echo":
            self._reply(200, body)
        elif self.path in ("/invoke", INVOKE_PATH):
            request_id = next(_ids)
            slot: List[Any] = [threading.Event(), b""]
            _answers[request_id] = slot
            _pending.put((request_id, body))
            slot[0].wait(30)
            self._reply(200, slot[1])
        elif self.path.startswith(("/response/", RUNTIME_INVOCATION)):
            if self.path.startswith("/response/"):
                answered = self.path.rsplit("/", 1)[1]
            else:  # /2018-06-01/runtime/invocation/{id}/response
                answered = self.path[len(RUNTIME_INVOCATION) :].split("/")[0]
            answer = _answers.pop(int(answered))
            answer[1] = body
            answer[0].set()
            self._reply(202, b"")
        else:
            self._reply(404, b"{}")

    def do_GET(self) -> None:
        request_id, body = _pending.get()
        if self.path == "/next":
            self._reply(200, body, f"Request-Id: {request_id}\r\n")
            return
        self._reply(200, body, next_fields(request_id))


def serve() -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), FloorHandler)
    server.daemon_threads = True
    print(server.server_address[1], flush=True)
    server.serve_forever()


def runtime(address: str) -> None:
    # The loop ends when the server goes away: the benchmark is over.
    with contextlib.suppress(OSError, http.client.HTTPException):
        _runtime_loop(address)


def _runtime_loop(address: str) -> None:
    conn = http.client.HTTPConnection(address)
    while True:
        conn.request("GET", "/next")
        reply = conn.getresponse()
        event = json.loads(reply.read())
        request_id = reply.getheader("Request-Id")
        result = json.dumps({"echo": event, "request_id": request_id, "pid": os.getpid()})
        conn.request(
            "POST",
            f"/response/{request_id}",
            body=result.encode(),
            headers={"Content-Type": "application/json"},
        )
        conn.getresponse().read()


class Floor:
    """The floor server and runtime as child processes, killed (by group) on exit.

    The runtime is the floor's own loop, or ``runtime_cmd`` run in ``task_root``
    (e.g. awslambdaric and the fixture function) against the server's Runtime API
    paths; its output is dropped, as nothing but relaying is the floor's work."""

    def __init__(
        self,
        python: Path,
        runtime_cmd: Optional[Sequence[str]] = None,
        task_root: Optional[Path] = None,
        selector: bool = False,
        runtimes: int = 1,
    ) -> None:
        self.python = python
        self.runtime_cmd = list(runtime_cmd or [])
        self.task_root = task_root or PROJECT_ROOT
        self.selector = selector
        self.runtimes = runtimes
        self.procs: List["subprocess.Popen[bytes]"] = []
        self.address = ""
        self.server_pid = 0

    def _start(self, *args: str, stdout: Optional[int] = None) -> "subprocess.Popen[bytes]":
        return self._spawn(
            [str(self.python), "-m", *args],
            {**os.environ, "PYTHONPATH": str(PROJECT_ROOT)},
            PROJECT_ROOT,
            stdout,
        )

    def _spawn(
        self, argv: Sequence[str], env: Dict[str, str], cwd: Path, stdout: Optional[int]
    ) -> "subprocess.Popen[bytes]":
        proc = subprocess.Popen(
            list(argv),
            cwd=str(cwd),
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=stdout,
            start_new_session=True,
        )
        self.procs.append(proc)
        return proc

    def _start_runtime(self) -> None:
        if not self.runtime_cmd:
            self._start("bench.loopback_floor", "runtime", self.address)
            return
        env = {
            **os.environ,
            "AWS_LAMBDA_RUNTIME_API": self.address,
            "LAMBDA_TASK_ROOT": str(self.task_root),
            "_HANDLER": self.runtime_cmd[-1],
            "AWS_LAMBDA_FUNCTION_NAME": "function",
        }
        self._spawn(self.runtime_cmd, env, self.task_root, subprocess.DEVNULL)

    def __enter__(self) -> "Floor":
        try:
            serve = (
                ("bench.selector_floor",) if self.selector else ("bench.loopback_floor", "serve")
            )
            server = self._start(*serve, stdout=subprocess.PIPE)
            self.server_pid = server.pid
            assert server.stdout is not None
            line = server.stdout.readline().strip()  # the port, or EOF if it died
            if not line:
                raise RuntimeError(f"the floor server exited ({server.wait(5)}) without a port")
            self.address = f"127.0.0.1:{int(line)}"
            for _ in range(self.runtimes):
                self._start_runtime()
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def __exit__(
        self,
        exc_type: Optional[Type[BaseException]],
        exc: Optional[BaseException],
        tb: Optional[TracebackType],
    ) -> None:
        for proc in reversed(self.procs):  # the runtime first, then its server
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
            if proc.stdout is not None:
                proc.stdout.close()


if __name__ == "__main__":
    if sys.argv[1:2] == ["serve"]:
        serve()
    elif sys.argv[1:2] == ["runtime"] and len(sys.argv) == 3:
        runtime(sys.argv[2])
    else:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
