"""Run a cleanup callback when AWS Lambda shuts the execution environment down.

Copy this file (and ``internal_extension.py``, unless you pass ``extension=False``)
into your function and call ``install(cleanup)`` at import time, from the main
thread::

    import graceful_shutdown
    graceful_shutdown.install(lambda: db.close())

Why a module is needed at all:

* Lambda sends SIGTERM to the runtime at shutdown **only if at least one
  extension is registered**; with none the runtime is SIGKILLed at once. An
  internal extension (a thread registering with ``{"events": []}``) is enough,
  and then the runtime gets 500 ms before SIGKILL (only 300 ms with an external
  extension, which gets the rest of a 2,000 ms window after the runtime is
  gone). ``extension=True`` registers such an extension.
* A Python-level handler (``signal.signal``) runs only on the main thread, when
  the interpreter next executes bytecode. The C-level handler merely sets a flag
  and writes the signal number to the ``signal.set_wakeup_fd`` descriptor.
* awslambdaric waits for the next invocation in native code (aws-lambda-cpp over
  libcurl) with the GIL released; libcurl retries its poll on EINTR, so control
  never returns to the interpreter while the runtime idles, and a plain
  ``signal.signal`` handler never runs before the SIGKILL. (awslambdaric polls
  in a worker thread only when ``AWS_EXECUTION_ENV`` names a managed python3.12+
  runtime, which container images do not set.)

The ``"wakeup-fd"`` strategy therefore points the wakeup fd at a socketpair and
blocks a daemon thread on the other end: the C-level handler's write wakes that
thread, which runs the cleanup whatever the main thread is doing. A Python-level
handler is installed as well, because the wakeup fd is only written by Python's
own C handler and because SIGTERM's default action would otherwise kill the
process outright.

Strategies: ``"signal"`` (what the AWS samples do: ``signal.signal`` + cleanup +
``sys.exit(0)``), ``"wakeup-fd"`` (the fix), ``"none"`` (install nothing).

Cleanup runs at most once, whichever path gets there first. A previously
installed Python SIGTERM handler is called after the cleanup (on the watcher
thread when that path wins); a previous wakeup fd (asyncio's, say) receives
every byte the watcher reads. Something that calls ``signal.set_wakeup_fd``
*after* ``install`` (e.g. ``asyncio`` ``loop.add_signal_handler``) replaces this
module's fd and silences the watcher; install last.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import sys
import threading
import traceback
from types import FrameType
from typing import Callable, List, Optional, Sequence, Union

__all__ = ["STRATEGIES", "GracefulShutdownError", "install"]

STRATEGIES = ("signal", "wakeup-fd", "none")

_Handler = Union[Callable[[int, Optional[FrameType]], object], int, None]

_installed = False
# The wakeup socketpair must outlive install(): the C handler writes to it.
_keepalive: List[socket.socket] = []


class GracefulShutdownError(RuntimeError):
    """install() was called in a way that cannot work."""


def _flush_std_streams() -> None:
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError, AttributeError):
            stream.flush()


class _ShutdownRunner:
    """Runs cleanup once, then the previous handler, then (optionally) exits.

    The gate is a lock acquired without blocking and never released: exactly one
    caller wins, across threads and even when a second SIGTERM re-enters the
    Python-level handler on the main thread (a blocking lock would deadlock there).
    """

    def __init__(
        self,
        cleanup: Callable[[], None],
        previous: _Handler,
        exit_after: bool,
        hard_exit: bool,
    ) -> None:
        self._cleanup = cleanup
        self._previous = previous
        self._exit_after = exit_after
        # True: flush and os._exit(0) (works from any thread, skips finalization
        # that could block on the runtime's threads). False: sys.exit(0), as the
        # AWS samples do from the main-thread handler.
        self._hard_exit = hard_exit
        self._gate = threading.Lock()
        self.fired = False

    def fire(self, signum: int, frame: Optional[FrameType]) -> bool:
        """Run the shutdown sequence if nobody has; return whether this call did."""
        if not self._gate.acquire(blocking=False):
            return False
        self.fired = True
        try:
            self._cleanup()
        except Exception:
            print("[graceful-shutdown] cleanup raised:", file=sys.stderr, flush=True)
            traceback.print_exc()
        self._chain(signum, frame)
        if self._exit_after:
            _flush_std_streams()
            if self._hard_exit:
                os._exit(0)
            sys.exit(0)
        return True

    def _chain(self, signum: int, frame: Optional[FrameType]) -> None:
        previous = self._previous
        if not callable(previous):
            return  # SIG_DFL, SIG_IGN or a handler installed from C: nothing to call
        try:
            previous(signum, frame)
        except SystemExit:
            if not self._exit_after:
                raise
            # We exit ourselves right after; do not let it end just this thread.
        except Exception:
            print(
                "[graceful-shutdown] previous SIGTERM handler raised:", file=sys.stderr, flush=True
            )
            traceback.print_exc()


def _forward(data: bytes, old_fd: int) -> None:
    """Give the previous wakeup fd the bytes it would have received."""
    if old_fd < 0:
        return
    # Full or closed: drop, like warn_on_full_buffer=False does.
    with contextlib.suppress(OSError):
        os.write(old_fd, data)


def _watch(reader: socket.socket, old_fd: int, runner: _ShutdownRunner) -> None:
    """Body of the watcher thread: one byte per signal the C handler saw."""
    while True:
        try:
            data = reader.recv(64)
        except OSError:
            return
        if not data:
            return
        _forward(data, old_fd)
        if int(signal.SIGTERM) in data:  # each byte is one signal number
            runner.fire(signal.SIGTERM, None)


def _install_wakeup_fd(runner: _ShutdownRunner) -> None:
    reader, writer = socket.socketpair()
    writer.setblocking(False)  # set_wakeup_fd requires it; a full buffer must not block
    previous = signal.signal(signal.SIGTERM, runner.fire)
    try:
        old_fd = signal.set_wakeup_fd(writer.fileno(), warn_on_full_buffer=False)
    except BaseException:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
        reader.close()
        writer.close()
        raise
    thread = threading.Thread(
        target=_watch, args=(reader, old_fd, runner), name="graceful-shutdown-watcher"
    )
    thread.daemon = True
    thread.start()
    _keepalive.extend([reader, writer])


def install(
    cleanup: Callable[[], None],
    strategy: str = "wakeup-fd",
    extension: bool = True,
    extension_events: Sequence[str] = (),
    exit_after: bool = True,
) -> None:
    """Arrange for ``cleanup`` to run once when the process receives SIGTERM.

    ``strategy``: ``"wakeup-fd"`` (works while the main thread is in native
    code), ``"signal"`` (plain ``signal.signal``, as AWS samples do) or ``"none"``.
    ``extension``: register an internal extension so that Lambda sends SIGTERM at
    all (see the module docstring). ``exit_after``: exit with status 0 once
    cleanup (and a previous handler) ran; otherwise the process carries on.
    """
    global _installed
    if strategy not in STRATEGIES:
        raise ValueError(
            "strategy must be one of {}, not {!r}".format(", ".join(STRATEGIES), strategy)
        )
    if strategy != "none" and threading.current_thread() is not threading.main_thread():
        raise GracefulShutdownError(
            f"graceful_shutdown.install(strategy={strategy!r}) must be called from the main "
            "thread: signal.signal and signal.set_wakeup_fd only work there (call it at module "
            "import time, not from a handler or a worker thread)"
        )
    if _installed:
        raise GracefulShutdownError("graceful_shutdown.install() was already called")

    if strategy == "signal":
        runner = _ShutdownRunner(
            cleanup, signal.getsignal(signal.SIGTERM), exit_after, hard_exit=False
        )
        signal.signal(signal.SIGTERM, runner.fire)
    elif strategy == "wakeup-fd":
        runner = _ShutdownRunner(
            cleanup, signal.getsignal(signal.SIGTERM), exit_after, hard_exit=True
        )
        _install_wakeup_fd(runner)
    _installed = True

    if extension:
        # Imported here so that this module stands alone when extension=False.
        import internal_extension

        internal_extension.register(events=extension_events)
