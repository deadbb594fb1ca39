"""SIGTERM, delivered to whatever handler the function installed, even while the
main thread waits in native code.

Three functions of the ``signal`` module are wrapped while the hook is active:

* ``signal.signal(SIGTERM, handler)``: a callable handler is *recorded* and the
  hook's own dispatcher is installed in its place; ``SIG_DFL`` and ``SIG_IGN``
  are installed as given (a function without a handler dies by SIGTERM's
  default action, exactly as without the hook). ``signal.getsignal(SIGTERM)``
  answers the recorded handler, so code that chains handlers keeps working.
* ``signal.set_wakeup_fd(fd)``: the hook's socket stays the wakeup fd; ``fd``
  (asyncio's, say) is recorded and receives every byte the watcher reads, as if
  it were the wakeup fd itself.

The C-level handler writes each signal's number to the wakeup fd; a daemon
thread (the watcher) reads it and calls the recorded handler, with the main
thread's current frame. The dispatcher on the main thread calls it too when
the main thread gets there first; ``Ledger`` makes that one call per SIGTERM.
A handler that raises SystemExit on the watcher ends the process as
``sys.exit`` would (exit functions, flushed streams, the exit status).
A forked child gets the plain arrangement back: its own handler installed
directly, the recorded wakeup fd, none of the hook's descriptors.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import signal
import socket
import sys
import threading
import traceback
from types import FrameType
from typing import Any, Callable, List, Optional

from lambda_shutdown_hook.ledger import MAIN, WATCHER, Ledger

SIGTERM = int(signal.SIGTERM)

_original_signal = signal.signal
_original_getsignal = signal.getsignal
_original_set_wakeup_fd = signal.set_wakeup_fd


class Dispatch:
    """The hook's state in this process."""

    def __init__(self, log: Callable[[str], None]) -> None:
        self.log = log
        self.active = False
        self.ledger = Ledger()
        self.handler: Any = signal.SIG_DFL  # what the function installed for SIGTERM
        self.downstream = -1  # the wakeup fd someone else asked for
        self.sockets: List[socket.socket] = []

    # -- the two paths -------------------------------------------------------

    def on_main_thread(self, signum: int, frame: Optional[FrameType]) -> None:
        """The Python-level handler CPython runs on the main thread."""
        if self.ledger.claim(MAIN):
            self.call(signum, frame, on_main=True)

    def on_watcher(self) -> None:
        """The watcher's claim for one SIGTERM byte."""
        if self.ledger.claim(WATCHER):
            self.call(SIGTERM, _main_frame(), on_main=False)

    def call(self, signum: int, frame: Optional[FrameType], on_main: bool) -> None:
        handler = self.handler
        if handler == signal.SIG_IGN or handler is None:
            return
        if handler == signal.SIG_DFL:
            # Set back to the default after this SIGTERM was sent: the default action.
            os.kill(os.getpid(), SIGTERM)
            return
        if on_main:
            handler(signum, frame)  # exceptions propagate, as without the hook
            return
        self.log(f"SIGTERM: calling {_name(handler)} on the watcher thread")
        try:
            handler(signum, frame)
        except SystemExit as stop:
            _exit_process(stop.code)
        except BaseException:
            sys.stderr.write(f"Exception in SIGTERM handler {_name(handler)}:\n")
            traceback.print_exc()
            _flush()

    # -- the wrapped signal functions -----------------------------------------

    def signal(self, signalnum: Any, handler: Any) -> Any:
        if not self.active or signalnum != SIGTERM:
            return _original_signal(signalnum, handler)
        if callable(handler):
            _original_signal(signalnum, self.on_main_thread)
        else:
            _original_signal(signalnum, handler)  # SIG_DFL / SIG_IGN, or the original's TypeError
        previous, self.handler = self.handler, handler
        return previous

    def getsignal(self, signalnum: Any) -> Any:
        if not self.active or signalnum != SIGTERM:
            return _original_getsignal(signalnum)
        return self.handler

    def set_wakeup_fd(self, fd: int, **kwargs: Any) -> int:
        if not self.active:
            return int(_original_set_wakeup_fd(fd, **kwargs))
        if threading.current_thread() is not threading.main_thread():
            raise ValueError("set_wakeup_fd only works in main thread of the main interpreter")
        if fd != -1:
            os.fstat(fd)  # a closed or invalid fd fails as it would
        previous, self.downstream = self.downstream, int(fd)
        return previous

    # -- setting up and forking -----------------------------------------------

    def start(self) -> None:
        """Take over SIGTERM and the wakeup fd; start the watcher. Main thread only."""
        reader, writer = socket.socketpair()
        writer.setblocking(False)  # set_wakeup_fd requires it; a full buffer must not block
        self.downstream = int(_original_set_wakeup_fd(writer.fileno(), warn_on_full_buffer=False))
        self.sockets = [reader, writer]
        current = _original_getsignal(SIGTERM)
        self.handler = current
        if callable(current):  # installed before the hook: dispatch to it too
            _original_signal(SIGTERM, self.on_main_thread)
        self.active = True
        signal.signal = self.signal
        signal.getsignal = self.getsignal
        signal.set_wakeup_fd = self.set_wakeup_fd
        watcher = threading.Thread(target=self._watch, args=(reader,), name="lambda-shutdown-hook")
        watcher.daemon = True
        watcher.start()
        os.register_at_fork(after_in_child=self.after_fork_in_child)

    def _watch(self, reader: socket.socket) -> None:
        while True:
            try:
                data = reader.recv(64)
            except OSError:
                return
            if not data:
                return
            if self.downstream >= 0:
                # Full or closed: dropped, as warn_on_full_buffer=False would.
                with contextlib.suppress(OSError):
                    os.write(self.downstream, data)
            for signum in bytearray(data):
                if signum == SIGTERM:
                    self.on_watcher()

    def after_fork_in_child(self) -> None:
        """The child of a fork: no watcher runs here, so hand back the plain arrangement."""
        if not self.active:
            return
        self.active = False
        try:
            _original_signal(SIGTERM, self.handler)
            _original_set_wakeup_fd(self.downstream)
        except (ValueError, OSError, TypeError):
            pass  # forked from a thread CPython does not treat as main: leave it
        for sock in self.sockets:
            sock.close()
        self.sockets = []


def _main_frame() -> Optional[FrameType]:
    return sys._current_frames().get(threading.main_thread().ident or 0)


def _name(handler: Any) -> str:
    module = getattr(handler, "__module__", None)
    name = getattr(handler, "__qualname__", None) or repr(handler)
    return f"{module}.{name}" if module else str(name)


def _flush() -> None:
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError, AttributeError):
            stream.flush()


def _exit_process(code: Any) -> None:
    """What ``sys.exit(code)`` on the main thread would do, from another thread."""
    if code is None:
        status = 0
    elif isinstance(code, int):
        status = code
    else:
        sys.stderr.write(f"{code}\n")
        status = 1
    try:
        atexit._run_exitfuncs()  # logging.shutdown, telemetry exporters' flush
    except BaseException:
        traceback.print_exc()
    _flush()
    os._exit(status & 0xFF)
