"""function/graceful_shutdown.py: the fix, proven in real child interpreters.

The child stands in for awslambdaric idling in ``next``: its main thread calls
libc ``read`` through ctypes (GIL released) on a pipe nobody writes, with
SA_RESTART set for SIGTERM (``signal.siginterrupt(SIGTERM, False)``) so the
kernel resumes the read after the C-level handler ran, as libcurl retries its
poll on EINTR. Control never returns to the interpreter, so a Python-level
handler cannot run; the test checks that via /proc (the main thread is still
blocked in ``read`` on that fd) and via the "native read returned" line, which
must never appear. Readiness is that same /proc check: no sleeps.
"""

from __future__ import annotations

import signal
import sys
import threading
from typing import Any, List, Optional

import pytest
from support.fakes import (
    CHILD_VERSIONS,
    CLEANUP_STARTED,
    FUNCTION_DIR,
    ChildProcess,
    child_env,
    load_function_module,
    main_thread_syscall,
    python_for,
    require_proc_syscall,
    wait_main_thread_in_read,
)

NATIVE_FD = 100

CHILD = r"""
import ctypes, os, signal, socket, sys, threading

import graceful_shutdown

strategy, wait = sys.argv[1], sys.argv[2]
flags = set(sys.argv[3:])
calls = []


def cleanup():
    calls.append(threading.current_thread().name)
    print("[runtime] SIGTERM received: cleaning up", flush=True)
    print("[child] cleanup #%d on %s" % (len(calls), calls[-1]), flush=True)


if "chain" in flags:
    def previous(signum, frame):
        name = threading.current_thread().name
        print("[child] previous handler signum=%d on %s" % (signum, name), flush=True)
    signal.signal(signal.SIGTERM, previous)

if "old-fd" in flags:
    # Someone else's wakeup fd (asyncio sets one like this) installed first.
    old_reader, old_writer = socket.socketpair()
    old_writer.setblocking(False)
    signal.set_wakeup_fd(old_writer.fileno())

    def drain():
        while True:
            for byte in bytearray(old_reader.recv(64)):
                print("[child] old wakeup fd got %d" % byte, flush=True)
    threading.Thread(target=drain, daemon=True).start()

graceful_shutdown.install(
    cleanup, strategy=strategy, extension=False, exit_after="stay" not in flags
)

if wait == "native":
    # SA_RESTART: after the C-level handler ran, the kernel resumes read(), the
    # way libcurl retries its poll on EINTR inside awslambdaric's next().
    signal.siginterrupt(signal.SIGTERM, False)
    r, w = os.pipe()
    os.dup2(r, NATIVE_FD)
    libc = ctypes.CDLL(None, use_errno=True)
    buf = ctypes.create_string_buffer(1)
    print("[child] entering native read on fd %d" % NATIVE_FD, flush=True)
    result = libc.read(NATIVE_FD, buf, 1)
    print("[child] native read returned %d errno %d" % (result, ctypes.get_errno()), flush=True)
else:
    print("[child] waiting in signal.pause()", flush=True)
    while True:
        signal.pause()
        print("[child] main thread ran Python code", flush=True)
""".replace("NATIVE_FD", str(NATIVE_FD))


def start_child(version: str, strategy: str, wait: str, *flags: str) -> ChildProcess:
    if wait == "native":
        require_proc_syscall()
    child = ChildProcess([python_for(version), "-c", CHILD, strategy, wait, *flags], child_env())
    try:
        if wait == "native":
            child.wait_for("[child] entering native read")
            wait_main_thread_in_read(child, NATIVE_FD)
        else:
            child.wait_for("[child] waiting in signal.pause()")
    except BaseException:
        child.kill()
        raise
    return child


# --- the quirk, and the fix --------------------------------------------------------


@pytest.mark.integration
@pytest.mark.parametrize("version", CHILD_VERSIONS)
def test_plain_signal_handler_never_runs_while_main_thread_is_in_native_code(
    version: str,
) -> None:
    with start_child(version, "signal", "native") as child:
        child.signal(signal.SIGTERM)
        assert not child.saw(CLEANUP_STARTED, timeout=1.0), child.output()
        # Still parked in the same native read: the interpreter never got control,
        # and SIGTERM's default action was replaced, so only SIGKILL ends it.
        assert child.alive(), child.output()
        fields = main_thread_syscall(child.pid)
        assert fields is not None and int(fields[1], 16) == NATIVE_FD, fields
        assert "native read returned" not in child.output()


@pytest.mark.integration
@pytest.mark.parametrize("version", CHILD_VERSIONS)
def test_wakeup_fd_runs_cleanup_while_main_thread_is_in_native_code(version: str) -> None:
    with start_child(version, "wakeup-fd", "native") as child:
        child.signal(signal.SIGTERM)
        assert child.saw(CLEANUP_STARTED, timeout=1.0), child.output()
        assert child.wait_exit(timeout=10) == 0, child.output()
        assert "[child] cleanup #1 on graceful-shutdown-watcher" in child.lines
        assert "native read returned" not in child.output()


@pytest.mark.integration
@pytest.mark.parametrize("version", CHILD_VERSIONS)
def test_plain_signal_handler_runs_when_main_thread_is_interruptible(version: str) -> None:
    # The control: what a pure-Python runtime client (python3.7's) gives the handler.
    with start_child(version, "signal", "interruptible") as child:
        child.signal(signal.SIGTERM)
        assert child.saw(CLEANUP_STARTED, timeout=5.0), child.output()
        assert child.wait_exit(timeout=10) == 0, child.output()
        assert "[child] cleanup #1 on MainThread" in child.lines


# --- at most once, and living with other handlers ----------------------------------


@pytest.mark.integration
@pytest.mark.parametrize("version", CHILD_VERSIONS)
def test_cleanup_runs_once_when_handler_and_watcher_race(version: str) -> None:
    # An interruptible main thread: the Python handler and the watcher both fire.
    with start_child(version, "wakeup-fd", "interruptible") as child:
        child.signal(signal.SIGTERM)
        assert child.wait_exit(timeout=10) == 0, child.output()
        assert child.count(CLEANUP_STARTED) == 1, child.output()


@pytest.mark.integration
@pytest.mark.parametrize("version", CHILD_VERSIONS)
def test_cleanup_runs_once_for_repeated_sigterm(version: str) -> None:
    with start_child(version, "wakeup-fd", "native", "stay", "old-fd") as child:
        for n in (1, 2, 3):
            child.signal(signal.SIGTERM)
            # The watcher forwards each byte before handling it: n forwarded bytes
            # mean it has read all n signals.
            child.wait_for(f"[child] old wakeup fd got {int(signal.SIGTERM)}", count=n)
        child.wait_for(CLEANUP_STARTED)
        assert child.count(CLEANUP_STARTED) == 1, child.output()
        assert child.alive(), "exit_after=False must leave the process running"


@pytest.mark.integration
@pytest.mark.parametrize("version", CHILD_VERSIONS)
def test_previous_wakeup_fd_gets_the_bytes_forwarded(version: str) -> None:
    with start_child(version, "wakeup-fd", "native", "stay", "old-fd") as child:
        child.signal(signal.SIGTERM)
        child.wait_for(f"[child] old wakeup fd got {int(signal.SIGTERM)}")
        child.wait_for(CLEANUP_STARTED)


@pytest.mark.integration
@pytest.mark.parametrize("version", CHILD_VERSIONS)
def test_previous_python_handler_is_chained_after_cleanup(version: str) -> None:
    with start_child(version, "wakeup-fd", "native", "chain") as child:
        child.signal(signal.SIGTERM)
        assert child.wait_exit(timeout=10) == 0, child.output()
        lines = child.lines
        chained = (
            f"[child] previous handler signum={int(signal.SIGTERM)} on graceful-shutdown-watcher"
        )
        assert chained in lines, child.output()
        assert lines.index(CLEANUP_STARTED) < lines.index(chained)


@pytest.mark.integration
def test_signal_strategy_chains_previous_handler_on_main_thread() -> None:
    with start_child("3.12", "signal", "interruptible", "chain") as child:
        child.signal(signal.SIGTERM)
        assert child.wait_exit(timeout=10) == 0, child.output()
        assert f"[child] previous handler signum={int(signal.SIGTERM)} on MainThread" in child.lines


# --- in-process: argument checks and the once-gate ------------------------------------


def test_unknown_strategy_is_refused() -> None:
    module = load_function_module("graceful_shutdown")
    with pytest.raises(ValueError, match="signal, wakeup-fd, none"):
        module.install(lambda: None, strategy="sigterm", extension=False)


def test_install_off_the_main_thread_says_why() -> None:
    module = load_function_module("graceful_shutdown")
    errors: List[BaseException] = []

    def attempt() -> None:
        try:
            module.install(lambda: None, strategy="wakeup-fd", extension=False)
        except BaseException as exc:
            errors.append(exc)

    worker = threading.Thread(target=attempt)
    worker.start()
    worker.join(10)
    assert len(errors) == 1
    assert isinstance(errors[0], module.GracefulShutdownError)
    assert "main thread" in str(errors[0]) and "set_wakeup_fd" in str(errors[0])


def test_extension_without_runtime_api_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AWS_LAMBDA_RUNTIME_API", raising=False)
    monkeypatch.syspath_prepend(str(FUNCTION_DIR))  # install() imports internal_extension
    monkeypatch.setattr(sys, "dont_write_bytecode", True)
    module = load_function_module("graceful_shutdown")
    with pytest.raises(RuntimeError, match="AWS_LAMBDA_RUNTIME_API is not set"):
        module.install(lambda: None, strategy="none", extension=True)


def test_runner_runs_cleanup_once_across_threads_and_reentry() -> None:
    module = load_function_module("graceful_shutdown")
    order: List[str] = []
    runner: Optional[Any] = None

    def cleanup() -> None:
        order.append("cleanup")
        # A second SIGTERM handled while cleanup runs re-enters on the same thread.
        assert runner is not None
        assert runner.fire(signal.SIGTERM, None) is False

    def previous(signum: int, frame: object) -> None:
        order.append(f"previous {signum}")

    runner = module._ShutdownRunner(cleanup, previous, exit_after=False, hard_exit=False)
    start = threading.Barrier(8)
    results: List[bool] = []

    def fire() -> None:
        start.wait(10)
        assert runner is not None
        results.append(runner.fire(signal.SIGTERM, None))

    threads = [threading.Thread(target=fire) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert sorted(results) == [False] * 7 + [True]
    assert order == ["cleanup", f"previous {int(signal.SIGTERM)}"]


def test_runner_survives_a_failing_cleanup(capsys: pytest.CaptureFixture[str]) -> None:
    module = load_function_module("graceful_shutdown")
    chained: List[int] = []

    def cleanup() -> None:
        raise OSError("disk gone")

    runner = module._ShutdownRunner(
        cleanup, lambda signum, frame: chained.append(signum), exit_after=False, hard_exit=False
    )
    assert runner.fire(signal.SIGTERM, None) is True
    assert chained == [signal.SIGTERM]
    assert "OSError: disk gone" in capsys.readouterr().err
