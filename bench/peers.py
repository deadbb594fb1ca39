"""The emulators a user would pick instead, run side by side with the sandbox.

AWS's Runtime Interface Emulator (``aws-lambda-rie``) and the Lambda Runtime
API Daemon (``lambda-runtime-api-daemon``), unmodified Go binaries built by
``../shared/peers/build.sh``. Nothing here builds them: they are looked up in
``LAB_PEERS_BIN`` (a folder), then on PATH, and a peer that is not found is
reported as such, never faked.

Each peer runs the same runtime command with the same task root as the
sandbox, on loopback ports chosen here (both listen on 0.0.0.0:8080 unless
told otherwise), and is ready when its Invoke API accepts a connection.
"""

from __future__ import annotations

import os
import shutil
import socket
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Dict, List, Mapping, Optional, Sequence, Type

from harness.sandbox.child import SandboxChild, StopTimeouts

RIE = "aws-lambda-rie"
DAEMON = "lambda-runtime-api-daemon"
PEERS = (RIE, DAEMON)
START_TIMEOUT_S = 20.0
# A peer's stop: SIGTERM, 5 s, then SIGKILL to its group (and 5 s to be reaped).
STOP = StopTimeouts(term_s=5.0, kill_s=5.0)


class PeerError(RuntimeError):
    """A peer was found but did not start; the message has its output's tail."""


def find_peer(name: str, env: Optional[Mapping[str, str]] = None) -> Optional[Path]:
    """The peer's binary: ``$LAB_PEERS_BIN/NAME``, else NAME on PATH, else None."""
    env = os.environ if env is None else env
    folder = env.get("LAB_PEERS_BIN", "").strip()
    if folder:
        candidate = Path(folder) / name
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return candidate
    found = shutil.which(name, path=env.get("PATH"))
    return Path(found) if found else None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def peer_command(
    name: str, binary: Path, runtime_cmd: Sequence[str], invoke_port: int, runtime_port: int
) -> List[str]:
    """How each peer is told its ports (README of ../shared/peers). Pure."""
    if name == RIE:
        return [
            str(binary),
            "--runtime-interface-emulator-address",
            f"127.0.0.1:{invoke_port}",
            "--runtime-api-address",
            f"127.0.0.1:{runtime_port}",
            *runtime_cmd,
        ]
    return [str(binary), *runtime_cmd]


def peer_env(
    name: str, base: Mapping[str, str], task_root: Path, invoke_port: int, runtime_port: int
) -> Dict[str, str]:
    """The peer's environment. Pure."""
    env = dict(base)
    env.update({"LAMBDA_TASK_ROOT": str(task_root), "PYTHONUNBUFFERED": "1"})
    if name == DAEMON:
        env.update(
            {
                "INVOKE_API_HOST": "127.0.0.1",
                "PORT": str(invoke_port),
                "RUNTIME_API_PORT": str(runtime_port),
            }
        )
    return env


@dataclass
class RunningPeer:
    name: str
    binary: Path
    runtime_cmd: Sequence[str]
    task_root: Path
    log: Path
    extra_env: Mapping[str, str] = field(default_factory=dict)  # e.g. the daemon's MAX_CONCURRENCY

    def __post_init__(self) -> None:
        self.invoke_port = free_port()
        self.runtime_port = free_port()
        self.child: Optional[SandboxChild] = None

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.invoke_port}"

    @property
    def pid(self) -> int:
        """The peer's own process (the runtimes it starts are its children)."""
        assert self.child is not None, "the peer is not running"
        return self.child.pid

    def __enter__(self) -> "RunningPeer":
        # The one owner of a child in its own session (harness.sandbox.child):
        # its stop is SIGTERM, then SIGKILL to the group after STOP.term_s.
        with self.log.open("wb") as output:
            self.child = SandboxChild(
                peer_command(
                    self.name, self.binary, self.runtime_cmd, self.invoke_port, self.runtime_port
                ),
                peer_env(
                    self.name,
                    {**os.environ, **self.extra_env},
                    self.task_root,
                    self.invoke_port,
                    self.runtime_port,
                ),
                self.task_root,
                output,
                timeouts=STOP,
            ).__enter__()
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline and self.child.alive():
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", self.invoke_port)) == 0:
                    return self
            time.sleep(0.05)  # polling for the listener; bounded by the deadline
        tail = self.log.read_text(errors="replace")[-1500:]
        self.__exit__(None, None, None)
        raise PeerError(f"{self.name} did not start listening on {self.address}: {tail}")

    def __exit__(
        self,
        exc_type: Optional[Type[BaseException]],
        exc: Optional[BaseException],
        tb: Optional[TracebackType],
    ) -> None:
        if self.child is None:
            return
        self.child.stop()
        # The runtime it started is in its group: whatever is left of it goes too.
        self.child.close(started_groups=[self.child.pid])
