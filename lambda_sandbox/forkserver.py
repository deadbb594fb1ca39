"""``python -m lambda_sandbox.forkserver``: start sandboxes by fork from a process that has
them imported already.

A sandbox's own start is mostly its imports (http.server, the lifecycle's
dataclasses: well over 100 ms); a harness that starts hundreds of sandboxes on
one interpreter pays that once with this server and about a millisecond per
sandbox after. The server is single-threaded (stdin and a SIGCHLD wakeup pipe
in one select loop), so every child is forked from a process with no other
thread. Each child starts a session of its own, takes its working directory,
environment and output file from the request, and runs ``cli.main`` exactly
as ``python -m lambda_sandbox ARGS`` would.

Protocol, JSON lines. In, on stdin: ``{"argv": [...], "env": {...}, "cwd":
"...", "output": "path"}``. Out, on stdout: ``{"started": PID}`` (or
``{"error": "..."}``) for each request, in order, and ``{"exited": PID,
"code": N}`` when a child is reaped (N as Popen.returncode: minus the signal
for a child killed by one). End of stdin: the server exits; children it
started run on (they are not its to stop).

Standard library only, CPython 3.7+.
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import signal
import sys
import traceback
from typing import Any, Dict, List

from lambda_sandbox import cli, hardening
from lambda_sandbox.config import SECRET_VARIABLES


def _say(message: Dict[str, Any]) -> None:
    os.write(1, (json.dumps(message) + "\n").encode())


def _run_child(request: Dict[str, Any], keep: List[int], in_session: int) -> None:
    """In the forked child: become the sandbox the request describes; never returns."""
    code = 70
    try:
        os.setsid()
        # Its own session (and group) exists now: the server may say "started",
        # and a SIGKILL to the group right after reaches it.
        os.write(in_session, b".")
        os.close(in_session)
        for fd in keep:
            os.close(fd)
        signal.set_wakeup_fd(-1)
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        out = os.open(request["output"], os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)
        os.dup2(out, 1)
        os.dup2(out, 2)
        os.close(null)
        os.close(out)
        os.chdir(request["cwd"])
        os.environ.clear()
        os.environ.update(request["env"])
        sys.argv = ["lambda_sandbox", *request["argv"]]
        code = cli.main(list(request["argv"]))
    except BaseException:  # the child must never return into the server's loop
        traceback.print_exc()
    finally:
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(Exception):
                stream.flush()
        os._exit(code)


def _reap() -> None:
    while True:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        code = -os.WTERMSIG(status) if os.WIFSIGNALED(status) else os.WEXITSTATUS(status)
        _say({"exited": pid, "code": code})


def serve() -> int:
    # Requests carry the sandboxes' secrets (an evidence key): the functions
    # they run must not read them from this process either (hardening).
    hardening.protect()
    hardening.scrub_environ(SECRET_VARIABLES)
    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_w, False)
    signal.set_wakeup_fd(wake_w)
    signal.signal(signal.SIGCHLD, lambda signum, frame: None)
    pending = b""
    while True:
        try:
            ready, _, _ = select.select([0, wake_r], [], [])
        except InterruptedError:
            continue
        if wake_r in ready:
            os.read(wake_r, 4096)
            _reap()
        if 0 not in ready:
            continue
        chunk = os.read(0, 65536)
        if not chunk:
            _reap()
            return 0
        pending += chunk
        *lines, pending = pending.split(b"\n")
        for line in lines:
            if not line.strip():
                continue
            try:
                request = json.loads(line)
                ready_r, ready_w = os.pipe()
                pid = os.fork()
            except (ValueError, OSError) as err:
                _say({"error": str(err)})
                continue
            if pid == 0:
                os.close(ready_r)
                _run_child(request, [wake_r, wake_w], ready_w)
            os.close(ready_w)
            os.read(ready_r, 1)  # empty if the child died first: it is reaped and reported
            os.close(ready_r)
            _say({"started": pid})


if __name__ == "__main__":
    sys.exit(serve())
