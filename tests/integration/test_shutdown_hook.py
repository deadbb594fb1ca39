"""lambda-shutdown-hook (fix/): what it does and what it leaves alone, on every CPython found.

Each child interpreter processes a site directory holding the built wheel's
files (``site.addsitedir``, as the managed runtime's bootstrap does with the
task root and a layer's ``python/``), in an environment that looks like a
Lambda runtime's (AWS_LAMBDA_RUNTIME_API, _HANDLER, LAMBDA_TASK_ROOT). The
function installs its own SIGTERM handler *after* the hook, as functions do.
It runs as a script (``python runtime.py``), as runtimes do. The main thread then waits in native code as awslambdaric's ``next`` does:
libc ``read`` through ctypes, resumed by the kernel after the C-level handler
(SA_RESTART), so a plain Python handler never runs (the control test shows
it). Readiness comes from /proc, never from sleeps.
"""

from __future__ import annotations

import contextlib
import os
import signal
from pathlib import Path
from typing import Iterator

import pytest
from support.fakes import (
    ChildProcess,
    FakeLambdaApi,
    child_env,
    python_for,
    require_proc_syscall,
    wait_main_thread_in_read,
)
from support.fix import builder, found_versions, installed_site_dir

pytestmark = pytest.mark.integration

VERSIONS = found_versions() or ["3.12"]  # none found: the one test that says so
NATIVE_FD = 100
SIGTERM = int(signal.SIGTERM)

CHILD = r"""
import ctypes, os, signal, site, socket, sys, threading, time

original = (signal.signal, signal.getsignal, signal.set_wakeup_fd)
site.addsitedir(sys.argv[1])  # runs lambda_shutdown_hook.pth
import lambda_shutdown_hook


def say(text):
    # One write per line: the worker of the fork test shares this pipe.
    os.write(1, (text + "\n").encode())


wait = sys.argv[2]
flags = set(sys.argv[3:])
status = lambda_shutdown_hook.status()
say("[child] hook active=%s refused=%s" % (status["active"], status["refused"]))
now = (signal.signal, signal.getsignal, signal.set_wakeup_fd)
say("[child] signal functions replaced=%s" % any(a is not b for a, b in zip(original, now)))
calls = []


def handler(signum, frame):
    calls.append(1)
    where = threading.current_thread().name
    say("[child] handler #%d signum=%d on %s frame=%s" % (
        len(calls), signum, where, frame is not None))
    if "exit" in flags:
        say("[child] exiting")
        sys.exit(0)


if "no-handler" not in flags:
    previous = signal.signal(signal.SIGTERM, handler)
    say("[child] previous=%r now=%r" % (previous, signal.getsignal(signal.SIGTERM) is handler))

if "fork" in flags:
    pid = os.fork()
    if pid == 0:
        say("[fork] wakeup fd in child=%d" % signal.set_wakeup_fd(-1))
        say("[fork] waiting in Python")
        while True:
            time.sleep(0.05)
    say("[child] forked %d" % pid)

if wait == "asyncio":
    import asyncio
    loop = asyncio.new_event_loop()
    def on_sigterm():
        say("[child] asyncio callback")
        loop.call_later(0.3, loop.stop)
    loop.add_signal_handler(signal.SIGTERM, on_sigterm)
    say("[child] asyncio running")
    loop.run_forever()
    say("[child] asyncio stopped")
    sys.exit(0)
elif wait == "python":
    say("[child] waiting in Python")
    while True:
        time.sleep(0.05)
else:
    signal.siginterrupt(signal.SIGTERM, False)  # the kernel resumes read(), as libcurl retries
    r, w = os.pipe()
    os.dup2(r, NATIVE_FD)
    libc = ctypes.CDLL(None, use_errno=True)
    buf = ctypes.create_string_buffer(1)
    say("[child] entering native read")
    libc.read(NATIVE_FD, buf, 1)
    say("[child] native read returned")
""".replace("NATIVE_FD", str(NATIVE_FD))


@pytest.fixture(scope="module")
def site_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("fix-dist")
    wheel, _ = builder().build_all(out)
    # A script, not `python -c`: the hook leaves one-off -c commands alone.
    (out / "runtime.py").write_text(CHILD, encoding="utf-8")
    return installed_site_dir(wheel, out / "site")


def lambda_env(**extra: str) -> dict:
    env = child_env(
        AWS_LAMBDA_RUNTIME_API="127.0.0.1:9",  # never reached: the extension is switched off
        _HANDLER="app.handler",
        LAMBDA_TASK_ROOT="/tmp",
        LAMBDA_SHUTDOWN_HOOK_EXTENSION="off",
    )
    env.update(extra)
    return env


def start(
    version: str, site: Path, wait: str, *flags: str, env: "dict | None" = None
) -> ChildProcess:
    if wait == "native":
        require_proc_syscall()
    child = ChildProcess(
        [python_for(version), str(site.parent / "runtime.py"), str(site), wait, *flags],
        lambda_env() if env is None else env,
    )
    try:
        if wait == "native":
            child.wait_for("[child] entering native read")
            wait_main_thread_in_read(child, NATIVE_FD)
        elif wait == "asyncio":
            child.wait_for("[child] asyncio running")
        else:
            child.wait_for("[child] waiting in Python")
    except BaseException:
        child.kill()
        raise
    return child


@pytest.fixture(params=VERSIONS)
def version(request: pytest.FixtureRequest) -> Iterator[str]:
    if not found_versions():
        python_for("3.12")  # skips (fails under CI) with where it searched
    yield str(request.param)


# --- what it fixes ---------------------------------------------------------------


def test_plain_handler_is_lost_in_native_wait_without_the_hook(
    version: str, site_dir: Path
) -> None:
    # The control: the same child with the hook switched off.
    env = lambda_env(LAMBDA_SHUTDOWN_HOOK="off")
    with start(version, site_dir, "native", "exit", env=env) as child:
        assert (
            "[child] hook active=None refused=disabled by LAMBDA_SHUTDOWN_HOOK=off" in child.lines
        )
        child.signal(SIGTERM)
        assert not child.saw("[child] handler #1", timeout=1.0), child.output()
        assert child.alive()


def test_handler_installed_after_the_hook_runs_in_native_wait(version: str, site_dir: Path) -> None:
    with start(version, site_dir, "native", "exit") as child:
        assert "[child] hook active=site refused=None" in child.lines
        child.signal(SIGTERM)
        child.wait_for(f"[child] handler #1 signum={SIGTERM} on lambda-shutdown-hook frame=True")
        # sys.exit(0) in the handler ends the process with 0, as on the main thread.
        assert child.wait_exit(timeout=10) == 0, child.output()
        assert child.count("[child] handler #") == 1
        assert "native read returned" not in child.output()


def test_getsignal_answers_the_functions_handler(version: str, site_dir: Path) -> None:
    with start(version, site_dir, "native") as child:
        assert "[child] previous=<Handlers.SIG_DFL: 0> now=True" in child.lines, child.output()


# --- what it leaves alone ----------------------------------------------------------


def test_outside_lambda_importing_it_changes_nothing(version: str, site_dir: Path) -> None:
    env = child_env()  # no AWS_LAMBDA_RUNTIME_API
    with start(version, site_dir, "python", env=env) as child:
        assert (
            "[child] hook active=None refused=not in a Lambda execution environment "
            "(AWS_LAMBDA_RUNTIME_API is unset)" in child.lines
        ), child.output()
        assert "[child] signal functions replaced=False" in child.lines


def test_without_a_handler_sigterm_keeps_its_default_action(version: str, site_dir: Path) -> None:
    with start(version, site_dir, "native", "no-handler") as child:
        child.signal(SIGTERM)
        assert child.wait_exit(timeout=10) == -SIGTERM, child.output()


def test_each_sigterm_calls_the_handler_once(version: str, site_dir: Path) -> None:
    # The main thread runs Python: the dispatcher and the watcher both see each signal.
    with start(version, site_dir, "python") as child:
        for n in (1, 2, 3):
            child.signal(SIGTERM)
            child.wait_for(f"[child] handler #{n} ", timeout=5.0)
        assert not child.saw("[child] handler #4", timeout=0.5), child.output()
        assert child.alive()


def test_a_second_sigterm_in_native_wait_calls_it_again(version: str, site_dir: Path) -> None:
    with start(version, site_dir, "native") as child:
        child.signal(SIGTERM)
        child.wait_for("[child] handler #1 ")
        child.signal(SIGTERM)
        child.wait_for("[child] handler #2 ")
        assert not child.saw("[child] handler #3", timeout=0.5), child.output()


def test_asyncio_signal_handling_keeps_working(version: str, site_dir: Path) -> None:
    with start(version, site_dir, "asyncio", "no-handler") as child:
        child.signal(SIGTERM)
        child.wait_for("[child] asyncio callback")
        assert child.wait_exit(timeout=10) == 0, child.output()
        assert child.count("[child] asyncio callback") == 1


def test_forked_worker_gets_its_own_plain_handler(version: str, site_dir: Path) -> None:
    with start(version, site_dir, "native", "fork") as child:
        try:
            # The hook's wakeup fd is not the worker's: it gets back what was there before.
            child.wait_for("[fork] wakeup fd in child=-1")
            forked = int(child.wait_for("[child] forked ").split()[-1])
            child.wait_for("[fork] waiting in Python")
            os.kill(forked, SIGTERM)
            # The worker's own main thread runs its handler; the parent's watcher does not.
            child.wait_for(f"[child] handler #1 signum={SIGTERM} on MainThread")
            assert not child.saw("on lambda-shutdown-hook", timeout=0.5), child.output()
        finally:
            # The worker shares the child's process group (its own session).
            with contextlib.suppress(ProcessLookupError):
                os.killpg(child.pid, signal.SIGKILL)


def test_a_subprocess_of_the_runtime_stays_untouched(version: str, site_dir: Path) -> None:
    env = lambda_env(_LAMBDA_SHUTDOWN_HOOK_PID="1")  # as inherited from the runtime (pid 1)
    with start(version, site_dir, "python", env=env) as child:
        assert (
            "[child] hook active=None refused=a process started by the runtime "
            "(the hook is active in pid 1)" in child.lines
        ), child.output()


# --- the internal extension -----------------------------------------------------------


def test_it_registers_an_internal_extension_with_no_events(version: str, site_dir: Path) -> None:
    api = FakeLambdaApi()
    env = lambda_env(AWS_LAMBDA_RUNTIME_API=api.address)
    del env["LAMBDA_SHUTDOWN_HOOK_EXTENSION"]
    with start(version, site_dir, "python", env=env):
        call = api.wait_call("register")
        assert call.headers.get("Lambda-Extension-Name") == "lambda-shutdown-hook"
        assert call.body == b'{"events": []}'
        api.wait_call("extension-next")
