"""What both handlers of this function share: sentry-sdk set up from ``SENTRY_DSN``,
one event per invocation, and a SIGTERM cleanup that captures one more event
and flushes.

Each captured event goes to the transport's background worker thread, which
sends it as soon as it can; nothing waits for it unless ``sentry_sdk.flush()``
is called (or the AWS Lambda integration does, before each result).

``LAB_STRATEGY`` (``signal``, ``wakeup-fd`` or ``none``) says how the cleanup is
installed (``graceful_shutdown.py``, linked from function/); ``LAB_EXTENSION``
``internal`` (the default) registers the internal extension that makes Lambda
send SIGTERM at all. An event with ``"lab_trigger": "timeout"`` sleeps past the
function's timeout, ``"crash"`` ends the process, after the event is captured.
"""

from __future__ import annotations

import os
import time
from typing import Any, Dict, Sequence

import graceful_shutdown
import sentry_sdk
from sentry_sdk.integrations import Integration


def start(integrations: Sequence[Integration] = ()) -> None:
    """sentry_sdk.init (the DSN from SENTRY_DSN) and the cleanup, at import time."""
    sentry_sdk.init(dsn=os.environ.get("SENTRY_DSN"), integrations=list(integrations))
    graceful_shutdown.install(
        cleanup,
        strategy=os.environ.get("LAB_STRATEGY", "wakeup-fd"),
        extension=os.environ.get("LAB_EXTENSION", "internal") == "internal",
    )


def cleanup() -> None:
    print("[sentry] SIGTERM received: flushing events", flush=True)
    sentry_sdk.capture_message("lab.cleanup")
    print("[sentry] produced lab.cleanup", flush=True)
    sentry_sdk.flush()  # waits for the worker to send what is queued
    print("[sentry] flushed", flush=True)


def invocation(event: Any, context: Any) -> Dict[str, Any]:
    sentry_sdk.capture_message(f"lab.invocation {context.aws_request_id}")
    print(f"[sentry] produced lab.invocation {context.aws_request_id}", flush=True)
    trigger = event.get("lab_trigger") if isinstance(event, dict) else None
    if trigger == "timeout":
        time.sleep(60)
    elif trigger == "crash":
        os._exit(1)
    return {"reported": context.aws_request_id}
