"""The one owner of a sandbox child process on the host, and its one stop sequence.

The sandbox runs in a session of its own (its process group id is its pid);
the runtime and the extensions it starts live in groups of their own, and
every process carries the run's ``LAB_HARNESS_RUN`` label (``sweep``). The
stop sequence is tox's, shortened: SIGTERM to the sandbox (what ``docker
stop`` and Lambda's reaping look like from outside), wait ``term_s``, then
SIGKILL to its group. ``close`` makes sure nothing is left: the sandbox's
group, the groups of the processes its event log says it started, and any
process still carrying the label.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import IO, Iterable, List, Mapping, Optional, Protocol, Sequence, Type

from harness.sandbox import pidfd, sweep
from harness.sandbox.forkserver import ForkServer


class SandboxProcess(Protocol):
    """What SandboxChild needs of its process: Popen's, or a fork server child's."""

    pid: int
    returncode: Optional[int]

    def poll(self) -> Optional[int]: ...

    def wait(self, timeout: Optional[float] = None) -> int: ...

    def send_signal(self, signum: int) -> None: ...


@dataclass(frozen=True)
class StopTimeouts:
    term_s: float = 10.0  # SIGTERM to the sandbox -> SIGKILL to its group (its limit is 2 s)
    kill_s: float = 10.0  # SIGKILL -> reaped


class SandboxChild:
    """``python -m lambda_sandbox -- RUNTIME...`` as a child; a context manager."""

    def __init__(
        self,
        argv: Sequence[str],
        env: Mapping[str, str],
        cwd: Path,
        output: IO[bytes],
        label: Optional[str] = None,
        timeouts: StopTimeouts = StopTimeouts(),
        forkserver: Optional[ForkServer] = None,
        output_path: Optional[Path] = None,
    ) -> None:
        self.argv = list(argv)
        self.env = dict(env)
        if label is not None:
            self.env[sweep.LABEL] = label
        self.label = label
        self.cwd = cwd
        self.output = output
        self.timeouts = timeouts
        # With a fork server (and the output's path, which it opens itself),
        # the sandbox is forked from an interpreter that has it imported.
        self.forkserver = forkserver if output_path is not None else None
        self.output_path = output_path
        self.proc: Optional[SandboxProcess] = None

    def __enter__(self) -> "SandboxChild":
        if self.forkserver is not None and self.output_path is not None:
            argv = self.argv[self.argv.index("lambda_sandbox") + 1 :]
            self.proc = self.forkserver.spawn(argv, self.env, self.cwd, self.output_path)
            return self
        self.proc = subprocess.Popen(
            self.argv,
            cwd=str(self.cwd),
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=self.output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        return self

    def __exit__(
        self,
        exc_type: Optional[Type[BaseException]],
        exc: Optional[BaseException],
        tb: Optional[TracebackType],
    ) -> None:
        self.close()

    @property
    def pid(self) -> int:
        assert self.proc is not None, "the sandbox was not started"
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def returncode(self) -> Optional[int]:
        return None if self.proc is None else self.proc.poll()

    def signal(self, signum: int) -> None:
        if self.alive():
            assert self.proc is not None
            with contextlib.suppress(ProcessLookupError):
                self.proc.send_signal(signum)

    def wait(self, timeout_s: float) -> Optional[int]:
        """The exit code, or None if it is still running after ``timeout_s``.

        Where the kernel offers a pidfd (Linux 5.3+), the wait ends the moment
        the child exits; Popen.wait with a timeout polls with sleeps of up to
        50 ms, which every cell would pay.
        """
        assert self.proc is not None
        if self.proc.poll() is None:
            exited = pidfd.wait_exit(self.proc.pid, timeout_s)
            if exited is not None:
                # Ended: reap it (or take a fork server's report, which follows
                # within moments); still running at the deadline: do not wait again.
                timeout_s = pidfd.REAPED_WITHIN_S if exited else 0.0
        try:
            return self.proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            return None

    def stop(self) -> "StopOutcome":
        """SIGTERM, wait ``term_s``, then SIGKILL to the group and wait ``kill_s``."""
        self.signal(signal.SIGTERM)
        code = self.wait(self.timeouts.term_s)
        if code is not None:
            return StopOutcome(returncode=code, killed=False)
        self._kill_group()
        return StopOutcome(returncode=self.wait(self.timeouts.kill_s), killed=True)

    def close(self, started_groups: Iterable[int] = ()) -> List[int]:
        """Kill whatever is left; the pids still carrying the label (they were killed)."""
        if self.proc is None:
            return []
        if self.alive():
            self._kill_group()
            self.wait(self.timeouts.kill_s)
        for pgid in started_groups:
            # The runtime and the extensions run in groups of their own.
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pgid, signal.SIGKILL)
        return sweep.sweep(self.label, exact=True) if self.label else []

    def _kill_group(self) -> None:
        # Its own session, so the group id is its pid.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.pid, signal.SIGKILL)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(self.pid, signal.SIGKILL)


@dataclass(frozen=True)
class StopOutcome:
    returncode: Optional[int]  # None: not even SIGKILL ended it within kill_s
    killed: bool  # SIGTERM was not enough
