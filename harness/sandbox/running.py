"""Run the sandbox as a child process, for the tests and the benchmarks.

A context manager around ``SandboxChild`` (the one owner of the sandbox's
process): it starts ``python -m lambda_sandbox`` with ephemeral ports, waits
for the ``sandbox.ready`` event (no fixed sleeps), and on exit kills the
sandbox's group and every group it started, so a failing test leaves nothing
running. Events are read with the contract's reader.
"""

from __future__ import annotations

import json
import os
import signal
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, Dict, List, Mapping, Optional, Sequence, Type

from harness.errors import LabError
from harness.paths import PROJECT_ROOT, TEST_FIXTURES
from harness.sandbox.child import SandboxChild, SandboxProcess
from lambda_sandbox.eventlog import Kind, read_event_log


@dataclass
class Reply:
    status: int
    headers: Dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


class SandboxFailed(LabError, AssertionError):
    """The sandbox exited, or an awaited event never came; the console's tail is attached."""


class RunningSandbox:
    def __init__(
        self,
        python: Path,
        runtime_cmd: Sequence[str],
        workdir: Path,
        env: Optional[Mapping[str, str]] = None,
        task_root: Path = TEST_FIXTURES / "fn",
        extensions_dir: Optional[Path] = None,
        opt_dir: Optional[Path] = None,
        sandbox_args: Sequence[str] = (),
        unset: Sequence[str] = (),
    ) -> None:
        """``opt_dir`` plays /opt (LAMBDA_SANDBOX_OPT_DIR); external extensions then
        come from ``<opt_dir>/extensions`` unless ``extensions_dir`` is given, and
        from an empty directory when neither is. ``sandbox_args`` go before the
        ``--`` (``--managed-python PYTHON`` with the handler as ``runtime_cmd``);
        ``unset`` names variables removed from the sandbox's environment (the
        sandbox's cwd is the project root, so it needs no PYTHONPATH itself)."""
        self.python = python
        self.event_log = workdir / "events.jsonl"
        self.output_path = workdir / "output.log"
        self.env = {
            **os.environ,
            "PYTHONPATH": str(PROJECT_ROOT),
            "INVOKE_API_PORT": "0",
            "RUNTIME_API_PORT": "0",
            "LAMBDA_TASK_ROOT": str(task_root),
            "LAMBDA_SANDBOX_EVENT_LOG": str(self.event_log),
        }
        self.env.pop("LAMBDA_EXTENSIONS_DIR", None)
        if opt_dir is not None:
            self.env["LAMBDA_SANDBOX_OPT_DIR"] = str(opt_dir)
        if extensions_dir is not None or opt_dir is None:
            self.env["LAMBDA_EXTENSIONS_DIR"] = str(extensions_dir or workdir / "no-extensions")
        self.env.update(env or {})
        for name in unset:
            self.env.pop(name, None)
        self.argv = [str(python), "-m", "lambda_sandbox", *sandbox_args, "--", *runtime_cmd]
        self.child: Optional[SandboxChild] = None
        self.invoke_api = ""

    @property
    def proc(self) -> Optional[SandboxProcess]:
        return None if self.child is None else self.child.proc

    def __enter__(self) -> RunningSandbox:
        self.output = open(self.output_path, "wb")
        self.child = SandboxChild(self.argv, self.env, PROJECT_ROOT, self.output)
        self.child.__enter__()
        try:
            ready = self.wait_for(lambda e: e["kind"] == Kind.SANDBOX_READY, timeout=20)
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
        assert self.child is not None
        # Anything the sandbox started lives in its own group: those go too.
        self.child.close(started_groups=self.pids())
        self.output.close()

    # ------------------------------------------------------------ queries

    def events(self) -> List[Dict[str, Any]]:
        """Every event so far, as the records the sandbox wrote."""
        return [dict(e.record) for e in read_event_log(str(self.event_log)).events]

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
            if self.child is not None and not self.child.alive():
                for event in self.events():
                    if predicate(event):
                        return event
                raise SandboxFailed(
                    f"sandbox exited with {self.child.returncode()} before the awaited event\n"
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
        assert self.child is not None
        self.child.signal(signum)

    def stop(self, timeout: float = 15) -> int:
        """SIGTERM the sandbox (what `docker stop` does) and wait for it to exit."""
        assert self.child is not None
        self.child.signal(signal.SIGTERM)
        code = self.child.wait(timeout)
        if code is None:
            raise SandboxFailed(f"the sandbox did not exit within {timeout} s of SIGTERM")
        return code

    def pids(self) -> List[int]:
        return [int(e["pid"]) for e in self.of_kind(Kind.PROCESS_START)]
