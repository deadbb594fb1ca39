"""Process supervision: the one module that owns Popen, signals and reaping.

Each runtime or extension process starts in its own session, so its process
group id is its pid and a signal reaches everything it started. One reaper
thread collects every child with ``waitpid(-1)``: inside a container the
sandbox is PID 1 and orphans are reparented to it, so it must reap those too.
Output is pumped line by line, by the sandbox's HTTP loop when the supervisor
is given one (a ``Watcher``: no thread to wake for each printed line), else by
one thread per stream; ``Supervisor.drain`` is the barrier that hands on
everything a process wrote up to now.
"""

from __future__ import annotations

import array
import errno
import fcntl
import logging
import os
import select
import signal
import subprocess
import sys
import termios
import threading
from dataclasses import dataclass, field
from typing import IO, Any, Callable, Dict, List, Mapping, Optional, Sequence

try:
    from typing import Protocol
except ImportError:  # CPython 3.7: the protocol is for the type checker only
    Protocol = object  # type: ignore[assignment]

log = logging.getLogger("lambda_sandbox")

PR_SET_CHILD_SUBREAPER = 36

OutputCallback = Callable[["Child", str, str], None]  # child, stream, line
ExitCallback = Callable[["Child", Optional[int], Optional[str]], None]  # code, signal name


class Watcher(Protocol):
    """What serves output pumps instead of their threads (``http_loop.Loop``)."""

    def watch(self, fd: int, on_ready: Callable[[], bool], on_end: Callable[[], None]) -> None:
        """Call ``on_ready`` whenever ``fd`` is readable, until it returns False;
        then stop watching ``fd`` and call ``on_end`` (which may close it)."""


@dataclass
class Child:
    role: str  # "runtime" | "extension"
    name: str
    pid: int
    argv: List[str]
    owner: Any = None  # whoever spawned it (an execution environment)
    pumps: List[threading.Thread] = field(default_factory=list)  # none when a Watcher pumps
    outputs: List["OutputPump"] = field(default_factory=list)


def signal_name(signum: int) -> str:
    try:
        return signal.Signals(signum).name
    except ValueError:
        return f"signal {signum}"


def describe_exit(returncode: Optional[int], signame: Optional[str]) -> str:
    """Lambda's wording: "exit status 1", "signal: killed"."""
    if signame is not None:
        words = {"SIGKILL": "killed", "SIGTERM": "terminated", "SIGSEGV": "segmentation fault"}
        return f"signal: {words.get(signame, signame)}"
    return f"exit status {returncode}"


def become_subreaper() -> bool:
    """Make orphaned descendants ours to reap, as they are for PID 1 in a container.

    Linux's PR_SET_CHILD_SUBREAPER; on a host this keeps a runtime's
    daemonised grandchild from escaping to the host's init, so the sandbox
    reaps it exactly as it would in a container. Best effort elsewhere.
    """
    if os.getpid() == 1 or not sys.platform.startswith("linux"):
        return os.getpid() == 1
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        return int(libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)) == 0
    except (OSError, AttributeError):
        return False


READ_BYTES = 65536
# The longest line handed on whole; a longer one (a function printing 100 MB
# without a newline) is handed on in pieces of this size, so the sandbox never
# holds more than this of a line (CloudWatch Logs events are at most 256 KB).
MAX_LINE_BYTES = 256 * 1024


def pending_bytes(fd: int) -> Optional[int]:
    """How many bytes wait in a pipe (FIONREAD); None where the ioctl is unsupported."""
    count = array.array("i", [0])
    try:
        fcntl.ioctl(fd, termios.FIONREAD, count, True)
    except OSError:
        return None
    return count[0]


class OutputPump:
    """One stream of a child: read its pipe, hand on each complete line.

    The pump thread (``run``) waits for data and reads one chunk at a time.
    ``drain`` reads, on the caller's thread, whatever sits in the pipe now.
    Both read under one lock and hand lines on before releasing it, so lines
    keep their order and none is handed on twice. It is a barrier: when the
    process has written a line and then done something the caller learned of
    (posted its response over HTTP), the line is in the pipe, so after
    ``drain`` it has been handed on, however late the pump thread would have
    got to it.
    """

    def __init__(self, stream: IO[bytes], on_line: Callable[[str], None]) -> None:
        self._stream = stream
        self._fd = stream.fileno()
        self._on_line = on_line
        self._lock = threading.Lock()
        self._partial = b""
        self._closed = False
        os.set_blocking(self._fd, False)

    @property
    def fd(self) -> int:
        return self._fd

    def run(self) -> None:
        """Pump until end of file (every writer gone), then close the pipe."""
        poller = select.poll()
        poller.register(self._fd, select.POLLIN)
        try:
            while True:
                poller.poll()  # no timeout: data or end of file wakes it
                if not self.pump_once():
                    return
        except (OSError, ValueError) as exc:
            log.debug("output pump ended: %s", exc)
        finally:
            self.close()

    def pump_once(self) -> bool:
        """One read of the pipe (when it is readable), its lines handed on; False at
        end of file (or after the close): then the caller closes it (``close``)."""
        with self._lock:
            if self._closed:
                return False
            try:
                return self._read(READ_BYTES) is not None
            except (OSError, ValueError) as exc:
                log.debug("output pump ended: %s", exc)
                return False

    def drain(self) -> None:
        """Hand on every complete line written to the pipe before this call."""
        with self._lock:
            if self._closed:
                return
            # Only what is there now: a writer that keeps writing cannot hold
            # the caller here. Without FIONREAD, read until the pipe is empty.
            budget = pending_bytes(self._fd)
            while budget is None or budget > 0:
                got = self._read(READ_BYTES if budget is None else min(budget, READ_BYTES))
                if not got:
                    return  # empty (0) or end of file (None): the pump thread closes
                if budget is not None:
                    budget -= got

    def _read(self, size: int) -> Optional[int]:
        """One read: bytes read, 0 if the pipe was empty, None at end of file. Lock held."""
        try:
            chunk = os.read(self._fd, size)
        except BlockingIOError:
            return 0
        if not chunk:
            if self._partial:  # a last line without its newline, as readline gives it
                self._emit(self._partial)
                self._partial = b""
            return None
        *lines, rest = (self._partial + chunk).split(b"\n")
        for raw in lines:
            self._emit(raw)
        # A line that never ends is handed on in pieces: memory stays bounded.
        while len(rest) >= MAX_LINE_BYTES:
            self._emit(rest[:MAX_LINE_BYTES])
            rest = rest[MAX_LINE_BYTES:]
        self._partial = rest
        return len(chunk)

    def _emit(self, raw: bytes) -> None:
        self._on_line(raw.decode("utf-8", "replace").rstrip("\r\n"))

    def close(self) -> None:
        with self._lock:
            self._closed = True
            self._stream.close()


class Supervisor:
    def __init__(
        self, on_output: OutputCallback, on_exit: ExitCallback, watcher: Optional[Watcher] = None
    ) -> None:
        self._on_output = on_output
        self._on_exit = on_exit
        # Serves the output pumps when given (one pump thread per stream when not).
        self._watcher = watcher
        self._children: Dict[int, Child] = {}
        self._lock = threading.Lock()
        self._has_children = threading.Condition(self._lock)
        become_subreaper()
        self._reaper = threading.Thread(target=self._reap_forever, name="reaper", daemon=True)
        self._reaper.start()

    def spawn(
        self,
        role: str,
        name: str,
        argv: Sequence[str],
        env: Mapping[str, str],
        cwd: str,
        owner: Any = None,
    ) -> Child:
        """Start a process in a new session; raises OSError when it cannot start."""
        with self._lock:
            # Spawning under the reaper's lock: a child that dies at once is not
            # reaped before it is in the table.
            proc = subprocess.Popen(
                list(argv),
                env=dict(env),
                cwd=cwd,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                start_new_session=True,
                close_fds=True,
            )
            # The reaper, not Popen, collects the exit status; stop Popen from
            # trying (and racing it) when the object is collected.
            proc.returncode = 0
            child = Child(role=role, name=name, pid=proc.pid, argv=list(argv), owner=owner)
            for stream_name, stream in (("stdout", proc.stdout), ("stderr", proc.stderr)):
                assert stream is not None
                output = OutputPump(stream, self._line_handler(child, stream_name))
                child.outputs.append(output)
                if self._watcher is not None:
                    self._watcher.watch(output.fd, output.pump_once, output.close)
                    continue
                pump = threading.Thread(
                    target=output.run, name=f"pump-{name}-{stream_name}", daemon=True
                )
                child.pumps.append(pump)
                pump.start()
            self._children[proc.pid] = child
            self._has_children.notify_all()
        return child

    def signal(self, child: Child, signame: str) -> bool:
        """Signal the child's process group; False when it is already gone."""
        try:
            os.killpg(child.pid, getattr(signal, signame))
        except ProcessLookupError:
            return False
        except PermissionError:
            return False
        return True

    def alive(self) -> List[Child]:
        with self._lock:
            return list(self._children.values())

    def drain(self, child: Child) -> None:
        """Hand on every line ``child`` wrote to stdout and stderr before this call."""
        for output in child.outputs:
            output.drain()

    def _line_handler(self, child: Child, stream_name: str) -> Callable[[str], None]:
        def on_line(line: str) -> None:
            self._on_output(child, stream_name, line)

        return on_line

    def _reap_forever(self) -> None:
        while True:
            with self._lock:
                if not self._children:
                    # As PID 1 orphans may need reaping even with no child of
                    # ours alive, so look again now and then.
                    self._has_children.wait(timeout=1.0)
            try:
                pid, status = os.waitpid(-1, 0)
            except ChildProcessError:
                with self._lock:
                    self._has_children.wait(timeout=1.0)
                continue
            except OSError as exc:  # pragma: no cover - EINTR is retried by Python
                if exc.errno != errno.EINTR:
                    log.error("waitpid failed: %s", exc)
                continue
            with self._lock:
                child = self._children.pop(pid, None)
            if child is None:
                continue  # an orphan reparented to us (PID 1): reaped, nothing more
            # Everything the process wrote before it died is in its pipes now:
            # hand it on (the drain barrier), so its last lines land before its
            # exit in the event log. No waiting for end of file: a grandchild
            # holding the pipe open must not delay the exit (the pumps go on
            # with whatever it writes, until the group is killed).
            for output in child.outputs:
                output.drain()
            if os.WIFSIGNALED(status):
                self._on_exit(child, None, signal_name(os.WTERMSIG(status)))
            else:
                self._on_exit(child, os.WEXITSTATUS(status), None)
