"""``python -m lambda_sandbox [--] RUNTIME_CMD [ARGS...]``: run one function's
execution environment until SIGTERM or SIGINT, then shut it down by Lambda's
rules and exit 0.

``python -m lambda_sandbox --managed-python PYTHON [--] HANDLER`` runs the
handler as a managed Python runtime starts it (lambda_sandbox/managed), on
the interpreter PYTHON, with the layers in the directory that plays /opt."""

from __future__ import annotations

import errno
import logging
import os
import select
import signal
import sys
import threading
from dataclasses import dataclass
from typing import List, Optional, Sequence

from lambda_sandbox import hardening, managed
from lambda_sandbox.config import SECRET_VARIABLES, ConfigError, load_config
from lambda_sandbox.console import Console
from lambda_sandbox.eventlog import EventLog, Kind
from lambda_sandbox.http_server import LoopServer
from lambda_sandbox.invoke_api import InvokeApiHandler, InvokeRoutes
from lambda_sandbox.pool import Sandbox
from lambda_sandbox.processes import signal_name

USAGE = (
    "usage: python -m lambda_sandbox [--] RUNTIME_CMD [ARGS...]\n"
    "       python -m lambda_sandbox --managed-python PYTHON [--] HANDLER"
)
MANAGED_PYTHON = "--managed-python"
LEVELS = {
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "warn": logging.WARNING,
    "error": logging.ERROR,
}


class UsageError(ValueError):
    """Bad command-line arguments; the message says which."""


@dataclass(frozen=True)
class Arguments:
    """What the command line asks for: a runtime command as given, or, with
    ``managed_python`` set, the managed profile for ``command[0]`` (the handler)."""

    command: List[str]
    managed_python: Optional[str] = None

    def runtime_command(self, opt_dir: str) -> List[str]:
        if self.managed_python is None:
            return list(self.command)
        return managed.runtime_command(self.managed_python, self.command[0], opt_dir)


def parse_arguments(args: Sequence[str]) -> Arguments:
    args = list(args)
    managed_python: Optional[str] = None
    if args and args[0].startswith(MANAGED_PYTHON + "="):
        managed_python = args.pop(0)[len(MANAGED_PYTHON) + 1 :]
    elif args and args[0] == MANAGED_PYTHON:
        if len(args) < 2:
            raise UsageError(f"{MANAGED_PYTHON} needs an interpreter (a name on PATH or a path)")
        managed_python = args[1]
        args = args[2:]
    if managed_python == "":
        raise UsageError(f"{MANAGED_PYTHON} needs an interpreter (a name on PATH or a path)")
    if args and args[0] == "--":
        args = args[1:]
    if not args:
        raise UsageError("no handler given" if managed_python else "no runtime command given")
    if managed_python is not None and len(args) != 1:
        raise UsageError(f"{MANAGED_PYTHON} takes one HANDLER, got {len(args)} arguments")
    return Arguments(args, managed_python)


def fail(message: str) -> int:
    sys.stderr.write(f"lambda_sandbox: error: {message}\n")
    return 2


def main(argv: Optional[Sequence[str]] = None) -> int:
    raw: List[str] = list(sys.argv[1:] if argv is None else argv)
    if raw and raw[0] in ("-h", "--help"):
        print(USAGE)
        return 0
    try:
        arguments = parse_arguments(raw)
    except UsageError as exc:
        return fail(f"{exc}\n{USAGE}")
    # First, before any thread or child: what the function must not read of us.
    hardened = hardening.protect()
    try:
        config = load_config()
        amqp_settings = None
        if os.environ.get("AMQP_URI", "").strip():
            # Imported only when asked for: it costs the sandbox's start ~30 ms.
            from lambda_sandbox import amqp

            amqp_settings = amqp.load_amqp_settings(os.environ, config)
    except ConfigError as exc:
        return fail(str(exc))
    if hardening.scrub_environ(SECRET_VARIABLES):
        hardened.append("environ-scrubbed")
    args = arguments.runtime_command(config.opt_dir)
    logging.basicConfig(
        level=LEVELS[config.log_level],
        stream=sys.stderr,
        format="[sandbox] %(levelname)s %(message)s",
    )
    try:
        event_log = EventLog(config.event_log, config.evidence_key)
    except OSError as exc:
        return fail(f"LAMBDA_SANDBOX_EVENT_LOG={config.event_log!r}: {exc.strerror}")
    sandbox = Sandbox(config, args, event_log, Console())
    try:
        sandbox.start()
    except OSError as exc:
        return fail(_bind_error("RUNTIME_API_PORT", config.runtime_api_port, exc))
    try:
        invoke_server = LoopServer(
            sandbox.loop,
            (config.invoke_api_host, config.invoke_api_port),
            InvokeApiHandler,
            sandbox,
            InvokeRoutes(sandbox),
            config.client_timeout_s,
            sandbox.connections,
        )
    except OSError as exc:
        sandbox.close()
        return fail(_bind_error("INVOKE_API_PORT", config.invoke_api_port, exc))
    event_log.write(
        Kind.SANDBOX_START,
        pid=os.getpid(),
        function_name=config.function_name,
        function_version=config.function_version,
        config=config.describe(),
        runtime_cmd=args,
        hardening=hardened,
        sealed=config.evidence_key is not None,
    )
    # Events an earlier stop spooled run first (they were accepted with 202).
    sandbox.replay_spool()
    # Signals are caught from here on: a SIGTERM right after `sandbox.ready`
    # must start an orderly shutdown, not kill the sandbox outright.
    wake_r = _catch_stop_signals()
    event_log.write(
        Kind.SANDBOX_READY,
        invoke_api=invoke_server.address,
        runtime_api=sandbox.runtime_api_address,
    )
    logging.getLogger("lambda_sandbox").info(
        "function %s: Invoke API on %s, Runtime API on %s",
        config.function_name,
        invoke_server.address,
        sandbox.runtime_api_address,
    )
    amqp_consumer = None
    if amqp_settings is not None:
        from lambda_sandbox import amqp

        amqp_consumer = amqp.start_consumer(amqp_settings, sandbox.invoke, event_log)
    code = _serve_until_stopped(sandbox, event_log, wake_r)
    if amqp_consumer is not None:
        amqp_consumer.stop()
    invoke_server.shutdown()
    invoke_server.server_close()
    sandbox.close()
    event_log.write(Kind.SANDBOX_EXIT, code=code)
    event_log.close()
    return code


def _catch_stop_signals() -> int:
    """Catch SIGTERM and SIGINT; return the fd their numbers are written to.

    The handlers do nothing themselves: the C-level handler writes the signal
    number to a wakeup fd, which the main loop reads (the same technique the
    function's fix uses).
    """
    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_w, False)
    signal.set_wakeup_fd(wake_w)
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda signum, frame: None)
    return wake_r


def _serve_until_stopped(sandbox: Sandbox, event_log: EventLog, wake_r: int) -> int:
    """Wait for SIGTERM/SIGINT, start the shutdown, wait for it to end."""
    exit_r, exit_w = os.pipe()
    threading.Thread(
        target=lambda: (sandbox.exited.wait(), os.write(exit_w, b"x")),
        name="exit-watch",
        daemon=True,
    ).start()
    while True:
        try:
            ready, _, _ = select.select([wake_r, exit_r], [], [])
        except OSError as exc:  # pragma: no cover - select retries EINTR itself
            if exc.errno == errno.EINTR:
                continue
            raise
        if exit_r in ready:
            return sandbox.exit_code
        for received in os.read(wake_r, 64):
            event_log.write(Kind.SANDBOX_SIGNAL, signal=signal_name(received))
            sandbox.stop(f"received {signal_name(received)}")


def _bind_error(variable: str, port: int, exc: OSError) -> str:
    if exc.errno == errno.EADDRINUSE:
        return f"{variable}={port}: the port is already in use"
    return f"{variable}={port}: cannot listen: {exc.strerror or exc}"
