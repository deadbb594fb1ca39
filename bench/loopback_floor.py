"""The floor an invoke through the sandbox is measured against: bare stdlib HTTP on loopback.

Two processes, started with the sandbox's own interpreter so that both paths
pay the same interpreter costs:

``serve``   a ThreadingHTTPServer (HTTP/1.1, keep-alive) with the two
            exchanges of a warm invoke and nothing else: ``POST /invoke``
            queues the body and waits; ``GET /next`` hands it to the runtime;
            ``POST /response/<id>`` answers the waiting invoke. ``POST /echo``
            answers at once (the two-round-trip floor). Prints its port.
``runtime`` the runtime loop over http.client: next, response, repeat.

Both run until killed; ``Floor`` (used by the benchmark) owns the two
processes and kills their process groups on exit.

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
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any, Dict, List, Optional, Tuple, Type

from harness.paths import PROJECT_ROOT

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
        elif self.path == "/invoke":
            request_id = next(_ids)
            slot: List[Any] = [threading.Event(), b""]
            _answers[request_id] = slot
            _pending.put((request_id, body))
            slot[0].wait(30)
            self._reply(200, slot[1])
        elif self.path.startswith("/response/"):
            answer = _answers.pop(int(self.path.rsplit("/", 1)[1]))
            answer[1] = body
            answer[0].set()
            self._reply(202, b"")
        else:
            self._reply(404, b"{}")

    def do_GET(self) -> None:
        request_id, body = _pending.get()
        self._reply(200, body, f"Request-Id: {request_id}\r\n")


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
    """The floor server and runtime as child processes, killed (by group) on exit."""

    def __init__(self, python: Path) -> None:
        self.python = python
        self.procs: List["subprocess.Popen[bytes]"] = []
        self.address = ""

    def _start(self, *args: str, stdout: Optional[int] = None) -> "subprocess.Popen[bytes]":
        proc = subprocess.Popen(
            [str(self.python), "-m", "bench.loopback_floor", *args],
            cwd=str(PROJECT_ROOT),
            env={**os.environ, "PYTHONPATH": str(PROJECT_ROOT)},
            stdin=subprocess.DEVNULL,
            stdout=stdout,
            start_new_session=True,
        )
        self.procs.append(proc)
        return proc

    def __enter__(self) -> "Floor":
        try:
            server = self._start("serve", stdout=subprocess.PIPE)
            assert server.stdout is not None
            line = server.stdout.readline().strip()  # the port, or EOF if it died
            if not line:
                raise RuntimeError(f"the floor server exited ({server.wait(5)}) without a port")
            self.address = f"127.0.0.1:{int(line)}"
            self._start("runtime", self.address)
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
