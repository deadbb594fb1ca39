"""Start sandbox children through ``python -m lambda_sandbox.forkserver`` (one per interpreter).

The server has the sandbox imported; each child costs a fork instead of an
interpreter start and its imports. ``ForkedProcess`` stands in for the
``Popen`` of a child the server started: its pid, ``poll``, ``wait`` (on a
pidfd, then the exit code the server reports) and ``send_signal``. The server
carries the run's label, so the session's sweep removes it like any other
process of the run; it ends by itself when its stdin closes (the harness's
worker exits).
"""

from __future__ import annotations

import atexit
import json
import os
import signal
import subprocess
import threading
from pathlib import Path
from typing import Dict, List, Mapping, Optional, Sequence

from harness.errors import LabError
from harness.paths import PROJECT_ROOT
from harness.sandbox import pidfd, sweep

# The server's own environment: enough to import the sandbox, nothing of a cell's.
SERVER_ENV_PASSED = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR")
START_TIMEOUT_S = 30.0


class ForkServerError(LabError):
    """The fork server could not start a sandbox; the message says why."""


class ForkServer:
    def __init__(self, python: Path, label: str) -> None:
        env = {k: os.environ[k] for k in SERVER_ENV_PASSED if k in os.environ}
        env.update({"PYTHONPATH": str(PROJECT_ROOT), "PYTHONUNBUFFERED": "1", sweep.LABEL: label})
        self.proc = subprocess.Popen(
            [str(python), "-m", "lambda_sandbox.forkserver"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            cwd=str(PROJECT_ROOT),
            env=env,
            start_new_session=True,
        )
        self._lock = threading.Lock()  # one request at a time: answers come in order
        self._changed = threading.Condition()
        self._started: List[Dict[str, object]] = []
        self._exited: Dict[int, int] = {}
        self._reader = threading.Thread(target=self._read, name="forkserver", daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for raw in self.proc.stdout:
            try:
                message = json.loads(raw)
            except ValueError:
                continue
            with self._changed:
                if "exited" in message:
                    self._exited[int(message["exited"])] = int(message["code"])
                else:
                    self._started.append(message)
                self._changed.notify_all()
        with self._changed:
            self._started.append({"error": "the fork server exited"})
            self._changed.notify_all()

    def spawn(
        self, argv: Sequence[str], env: Mapping[str, str], cwd: Path, output: Path
    ) -> "ForkedProcess":
        request = {"argv": list(argv), "env": dict(env), "cwd": str(cwd), "output": str(output)}
        with self._lock:
            assert self.proc.stdin is not None
            try:
                self.proc.stdin.write((json.dumps(request) + "\n").encode())
                self.proc.stdin.flush()
            except OSError as err:
                raise ForkServerError(f"the fork server does not take requests: {err}") from None
            with self._changed:
                if not self._changed.wait_for(lambda: bool(self._started), START_TIMEOUT_S):
                    raise ForkServerError("the fork server did not answer")
                answer = self._started.pop(0)
        if "started" not in answer:
            raise ForkServerError(f"the fork server could not start a sandbox: {answer}")
        return ForkedProcess(self, int(str(answer["started"])))

    def exit_code(self, pid: int, timeout_s: float) -> Optional[int]:
        with self._changed:
            self._changed.wait_for(lambda: pid in self._exited, timeout_s)
            return self._exited.get(pid)

    def close(self) -> None:
        if self.proc.stdin is not None:
            self.proc.stdin.close()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self._reader.join(timeout=10)  # reads to the end of the server's output
        if self.proc.stdout is not None:
            self.proc.stdout.close()


class ForkedProcess:
    """The part of Popen's interface SandboxChild uses, for a child of the fork server."""

    def __init__(self, server: ForkServer, pid: int) -> None:
        self.server = server
        self.pid = pid
        self.returncode: Optional[int] = None

    def poll(self) -> Optional[int]:
        if self.returncode is None:
            self.returncode = self.server.exit_code(self.pid, 0)
        return self.returncode

    def wait(self, timeout: Optional[float] = None) -> int:
        if self.poll() is None:
            exited = pidfd.wait_exit(self.pid, timeout)
            # Ended: the server reaps it and reports within moments. Without a
            # pidfd, the server's report is what is waited for.
            report_s = pidfd.REAPED_WITHIN_S if exited else 0.0
            if exited is None:
                report_s = pidfd.REAPED_WITHIN_S if timeout is None else timeout
            self.returncode = self.server.exit_code(self.pid, report_s)
        if self.returncode is None:
            raise subprocess.TimeoutExpired([str(self.pid)], timeout or 0)
        return self.returncode

    def send_signal(self, signum: int) -> None:
        if self.poll() is None:
            os.kill(self.pid, signum)


_SERVERS: Dict[str, ForkServer] = {}
_SERVERS_LOCK = threading.Lock()


def server_for(python: Path, label: str) -> ForkServer:
    """This process's fork server for ``python``, started on first use."""
    with _SERVERS_LOCK:
        server = _SERVERS.get(str(python))
        if server is None or server.proc.poll() is not None:
            server = _SERVERS[str(python)] = ForkServer(python, label)
        return server


@atexit.register
def close_all() -> None:
    """End this process's fork servers (before a sweep, so they do not count as leftovers)."""
    with _SERVERS_LOCK:
        servers = list(_SERVERS.values())
        _SERVERS.clear()
    for server in servers:
        server.close()


def enabled(env: Optional[Mapping[str, str]] = None) -> bool:
    """``LAB_FORKSERVER=0`` starts every sandbox as its own interpreter instead."""
    value = (os.environ if env is None else env).get("LAB_FORKSERVER", "1").strip()
    return value not in ("0", "false", "off") and hasattr(os, "fork") and hasattr(signal, "SIGCHLD")
