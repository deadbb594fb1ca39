"""Run the sandbox as a child process, for the tests and the benchmarks.

A context manager: it starts ``python -m lambda_sandbox`` in its own process
group with ephemeral ports, waits for the ``sandbox.ready`` event (no fixed
sleeps), and on exit kills the whole group if it is still there, so a failing
test leaves nothing running.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, Dict, List, Mapping, Optional, Sequence, Type

from harness.paths import PROJECT_ROOT, TEST_FIXTURES

ROOT = PROJECT_ROOT
FIXTURES = TEST_FIXTURES


@dataclass
class Reply:
    status: int
    headers: Dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


class SandboxFailed(AssertionError):
    pass


class RunningSandbox:
    def __init__(
        self,
        python: Path,
        runtime_cmd: Sequence[str],
        workdir: Path,
        env: Optional[Mapping[str, str]] = None,
        task_root: Path = FIXTURES / "fn",
        extensions_dir: Optional[Path] = None,
    ) -> None:
        self.python = python
        self.event_log = workdir / "events.jsonl"
        self.output_path = workdir / "output.log"
        self.env = {
            **os.environ,
            "PYTHONPATH": str(ROOT),
            "INVOKE_API_PORT": "0",
            "RUNTIME_API_PORT": "0",
            "LAMBDA_TASK_ROOT": str(task_root),
            "LAMBDA_EXTENSIONS_DIR": str(extensions_dir or workdir / "no-extensions"),
            "LAMBDA_SANDBOX_EVENT_LOG": str(self.event_log),
            **(env or {}),
        }
        self.argv = [str(python), "-m", "lambda_sandbox", "--", *runtime_cmd]
        self.proc: Optional[subprocess.Popen[bytes]] = None
        self.invoke_api = ""

    def __enter__(self) -> RunningSandbox:
        self.output = open(self.output_path, "wb")
        self.proc = subprocess.Popen(
            self.argv,
            env=self.env,
            cwd=str(ROOT),
            stdout=self.output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            ready = self.wait_for(lambda e: e["kind"] == "sandbox.ready", timeout=20)
            self.invoke_api = ready["invoke_api"]
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
        assert self.proc is not None
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)
        # Anything the sandbox started lives in its own group: kill those too.
        for event in self.events():
            if event["kind"] == "process.start":
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(event["pid"], signal.SIGKILL)
        self.output.close()

    # ------------------------------------------------------------ queries

    def events(self) -> List[Dict[str, Any]]:
        if not self.event_log.exists():
            return []
        lines = self.event_log.read_text().splitlines()
        return [json.loads(line) for line in lines if line.strip()]

    def of_kind(self, kind: str) -> List[Dict[str, Any]]:
        return [e for e in self.events() if e["kind"] == kind]

    def console(self) -> str:
        return self.output_path.read_text(errors="replace")

    def wait_for(self, predicate: Any, timeout: float) -> Dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for event in self.events():
                if predicate(event):
                    return event
            if self.proc is not None and self.proc.poll() is not None:
                for event in self.events():
                    if predicate(event):
                        return event
                raise SandboxFailed(
                    f"sandbox exited with {self.proc.returncode} before the awaited event\n"
                    + self.console()[-4000:]
                )
            time.sleep(0.02)  # polling a file; the wait itself is bounded by the timeout
        raise SandboxFailed(
            f"no matching event within {timeout} s\n--- console ---\n{self.console()[-4000:]}"
        )

    # ------------------------------------------------------------ actions

    def invoke(
        self,
        payload: Any = None,
        function: str = "function",
        headers: Optional[Dict[str, str]] = None,
        raw: Optional[bytes] = None,
        timeout: float = 30,
    ) -> Reply:
        body = raw if raw is not None else json.dumps(payload or {}).encode()
        request = urllib.request.Request(
            f"http://{self.invoke_api}/2015-03-31/functions/{function}/invocations",
            data=body,
            method="POST",
            headers=headers or {},
        )
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                return Reply(response.status, dict(response.headers), response.read())
        except urllib.error.HTTPError as error:
            with error:
                return Reply(error.code, dict(error.headers), error.read())

    def signal(self, signum: int = signal.SIGTERM) -> None:
        assert self.proc is not None
        self.proc.send_signal(signum)

    def stop(self, timeout: float = 15) -> int:
        """SIGTERM the sandbox (what `docker stop` does) and wait for it to exit."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout=timeout)

    def pids(self) -> List[int]:
        return [e["pid"] for e in self.of_kind("process.start")]
