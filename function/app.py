"""The Lambda function under test (handler string ``app.handler``).

Configured through the environment, read once at import (Lambda's init phase):

* ``LAB_STRATEGY``: ``signal`` (default, what AWS samples do), ``wakeup-fd``
  (the fix in graceful_shutdown.py), ``none``, or ``lambda-sigterm`` (the plain
  handler, plus ``lambda_sigterm.register()`` from the PyPI package of that
  name, as its README says to use it).
* ``LAB_EXTENSION``: ``internal`` (default: register an internal extension so
  that Lambda sends SIGTERM) or ``none``.
* ``LAB_INTERNAL_EXTENSION_EVENTS``: comma-separated events for that extension
  (default none; ``SHUTDOWN`` is refused by Lambda, which is worth seeing).
* ``LAB_CLEANUP_MS``: how long the cleanup takes (default 0), e.g. a flush
  over the network: a cleanup longer than the runtime's part of the shutdown
  window starts but never finishes.

An event with ``"lab_trigger": "timeout"`` makes the handler sleep past any
function timeout; ``"lab_trigger": "crash"`` makes the runtime process exit
at once (the harness's ``timeout`` and ``crash`` triggers).

Init opens a real resource (a SQLite database in a temp file with an
uncommitted row); the SIGTERM cleanup commits and closes it. The lines the
harness looks for are ``CLEANUP_STARTED`` and ``CLEANUP_FINISHED``.
"""

from __future__ import annotations

import os
import platform
import sqlite3
import tempfile
import time
from typing import Any, Dict, Mapping, NamedTuple, Tuple

import graceful_shutdown

STRATEGIES = ("signal", "wakeup-fd", "none", "lambda-sigterm")
EXTENSIONS = ("internal", "none")
EXTENSION_EVENTS = ("INVOKE", "SHUTDOWN")

INIT_LINE = "[runtime] init: strategy={strategy} extension={extension} python={python}"
CLEANUP_STARTED = "[runtime] SIGTERM received: cleaning up"
CLEANUP_FINISHED = "[runtime] cleanup finished: connection closed"


class Config(NamedTuple):
    strategy: str
    extension: str
    extension_events: Tuple[str, ...]
    cleanup_ms: int = 0


def _choice(env: Mapping[str, str], name: str, default: str, allowed: Tuple[str, ...]) -> str:
    value = env.get(name, "").strip() or default
    if value not in allowed:
        raise ValueError(
            "{}={!r} is not allowed; use one of: {}".format(name, value, ", ".join(allowed))
        )
    return value


def load_config(env: Mapping[str, str]) -> Config:
    """The function's configuration from ``env``; ValueError names a bad variable."""
    strategy = _choice(env, "LAB_STRATEGY", "signal", STRATEGIES)
    extension = _choice(env, "LAB_EXTENSION", "internal", EXTENSIONS)
    events = tuple(
        e.strip() for e in env.get("LAB_INTERNAL_EXTENSION_EVENTS", "").split(",") if e.strip()
    )
    for event in events:
        if event not in EXTENSION_EVENTS:
            raise ValueError(
                "LAB_INTERNAL_EXTENSION_EVENTS contains {!r}; use a comma-separated subset "
                "of: {}".format(event, ", ".join(EXTENSION_EVENTS))
            )
    raw = env.get("LAB_CLEANUP_MS", "").strip() or "0"
    if not raw.isdigit():
        raise ValueError(f"LAB_CLEANUP_MS={raw!r}: expected whole milliseconds")
    return Config(strategy, extension, events, int(raw))


class Resource:
    """A SQLite connection with uncommitted work, standing in for a DB pool."""

    def __init__(self) -> None:
        fd, self.path = tempfile.mkstemp(prefix="lab-function-", suffix=".sqlite3")
        os.close(fd)
        # The wakeup-fd cleanup runs on the watcher thread, not the one that opened it.
        self.connection = sqlite3.connect(self.path, check_same_thread=False)
        self.connection.execute("CREATE TABLE IF NOT EXISTS events (at REAL, what TEXT)")
        self.record(f"init pid={os.getpid()}")

    def record(self, what: str) -> None:
        self.connection.execute("INSERT INTO events VALUES (?, ?)", (time.time(), what))

    def close(self) -> None:
        self.record("shutdown")
        self.connection.commit()
        self.connection.close()


def _cleanup() -> None:
    print(CLEANUP_STARTED, flush=True)
    if CONFIG.cleanup_ms:
        time.sleep(CONFIG.cleanup_ms / 1000.0)  # the cleanup's own work
    RESOURCE.close()
    print(CLEANUP_FINISHED, flush=True)


def _init() -> Tuple[Config, Resource]:
    config = load_config(os.environ)
    print(
        INIT_LINE.format(
            strategy=config.strategy,
            extension=config.extension,
            python=platform.python_version(),
        ),
        flush=True,
    )
    return config, Resource()


CONFIG, RESOURCE = _init()
if CONFIG.strategy == "lambda-sigterm":
    import lambda_sigterm  # the PyPI package: registers an extension, and nothing more

    lambda_sigterm.register()
graceful_shutdown.install(
    _cleanup,
    strategy="signal" if CONFIG.strategy == "lambda-sigterm" else CONFIG.strategy,
    extension=CONFIG.extension == "internal",
    extension_events=CONFIG.extension_events,
)


TRIGGER_KEY = "lab_trigger"
CRASH_EXIT_CODE = 70


def handler(event: Any, context: Any) -> Any:
    request_id = getattr(context, "aws_request_id", None)
    print(f"[handler] invoked request_id={request_id}", flush=True)
    RESOURCE.record(f"invoke {request_id}")
    trigger = event.get(TRIGGER_KEY) if isinstance(event, dict) else None
    if trigger == "timeout":
        print("[handler] sleeping past the function timeout", flush=True)
        time.sleep(3600)  # the timeout resets the environment long before
    elif trigger == "crash":
        print("[handler] crashing the runtime process", flush=True)
        os._exit(CRASH_EXIT_CODE)
    return event


def error_handler(event: Any, context: Any) -> Any:
    raise ValueError("boom")


def sleep_handler(event: Any, context: Any) -> Dict[str, Any]:
    seconds = float(event.get("seconds", 10)) if isinstance(event, dict) else 10.0
    print(f"[handler] sleeping {seconds}s", flush=True)
    time.sleep(seconds)
    return {"slept": seconds}
