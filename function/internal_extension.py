"""An internal Lambda extension: a thread inside the runtime process.

Registering one, even with ``{"events": []}``, is what makes Lambda send SIGTERM
to the runtime at shutdown (and grants it 500 ms before SIGKILL); with no
extension registered the runtime is SIGKILLed at once. Internal extensions may
not subscribe to SHUTDOWN: Lambda refuses that with 403, errorType
``Extension.InvalidEventType`` and an errorMessage that starts with
``ShutdownEventNotSupportedForInternalExtension: ``.

``register()`` must run during init, before the runtime asks for its first
invocation: it registers synchronously, then leaves a daemon thread waiting on
``event/next`` (init completes only once every registered extension called it).
"""

from __future__ import annotations

import http.client
import json
import os
import threading
from typing import Dict, List, Optional, Sequence

__all__ = ["ExtensionError", "register"]

API_PREFIX = "/2020-01-01/extension"
LOG_PREFIX = "[internal-extension]"


class ExtensionError(RuntimeError):
    """The Extensions API refused a request or could not be reached."""


def _runtime_api() -> str:
    address = os.environ.get("AWS_LAMBDA_RUNTIME_API", "")
    if not address:
        raise ExtensionError(
            "AWS_LAMBDA_RUNTIME_API is not set: an extension can only register inside a "
            "Lambda execution environment (or a local sandbox that sets it to host:port)"
        )
    return address


def _describe_error(status: int, reason: str, body: bytes) -> str:
    """``403 Extension.InvalidEventType: ShutdownEventNotSupportedForInternalExtension: ...``
    from an error reply."""
    try:
        payload = json.loads(body.decode("utf-8"))
    except ValueError:
        payload = None
    if isinstance(payload, dict) and ("errorType" in payload or "errorMessage" in payload):
        return "{} {}: {}".format(
            status, payload.get("errorType", reason), payload.get("errorMessage", "")
        )
    text = body.decode("utf-8", "replace").strip()
    return "{} {}{}".format(status, reason, ": " + text if text else "")


def _request(
    conn: http.client.HTTPConnection,
    method: str,
    path: str,
    headers: Dict[str, str],
    body: Optional[bytes] = None,
) -> http.client.HTTPResponse:
    try:
        conn.request(method, API_PREFIX + path, body=body, headers=headers)
        return conn.getresponse()
    except (OSError, http.client.HTTPException) as exc:
        raise ExtensionError(
            f"{method} {API_PREFIX}{path} failed: {type(exc).__name__}: {exc}"
        ) from exc


def register_only(address: str, name: str, events: Sequence[str]) -> str:
    """POST /register and return the Lambda-Extension-Identifier (no thread)."""
    conn = http.client.HTTPConnection(address)
    try:
        body = json.dumps({"events": list(events)}).encode("utf-8")
        response = _request(
            conn,
            "POST",
            "/register",
            {"Lambda-Extension-Name": name, "Content-Type": "application/json"},
            body,
        )
        payload = response.read()
        if response.status != 200:
            raise ExtensionError(
                f"extension {name!r} registration with events {list(events)} refused: "
                + _describe_error(response.status, response.reason, payload)
            )
        identifier = response.getheader("Lambda-Extension-Identifier")
        if not identifier:
            raise ExtensionError(
                f"extension {name!r} registered but the reply has no "
                "Lambda-Extension-Identifier header"
            )
        return identifier
    finally:
        conn.close()


def describe_event(event: Dict[str, object]) -> str:
    """One log line for an event: ``event INVOKE requestId=...``."""
    event_type = event.get("eventType", "?")
    if event_type == "INVOKE":
        return "event INVOKE requestId={}".format(event.get("requestId"))
    if event_type == "SHUTDOWN":
        return "event SHUTDOWN reason={} deadlineMs={}".format(
            event.get("shutdownReason"), event.get("deadlineMs")
        )
    return f"event {event_type}"


def _event_loop(address: str, identifier: str) -> None:
    # No timeout: event/next blocks until Lambda has an event for us, which for
    # {"events": []} is never; the thread is a daemon so it never holds exit up.
    # A fresh connection per call, so a dropped keep-alive cannot break the next one.
    headers = {"Lambda-Extension-Identifier": identifier}
    while True:
        conn = http.client.HTTPConnection(address)
        try:
            response = _request(conn, "GET", "/event/next", headers)
            payload = response.read()
        except (ExtensionError, OSError, http.client.HTTPException) as exc:
            print(f"{LOG_PREFIX} event/next failed, stopping: {exc}", flush=True)
            return
        finally:
            conn.close()
        if response.status != 200:
            reason = _describe_error(response.status, response.reason, payload)
            print(f"{LOG_PREFIX} event/next refused, stopping: {reason}", flush=True)
            return
        try:
            event = json.loads(payload.decode("utf-8"))
        except ValueError:
            event = {"eventType": "<not JSON>"}
        if not isinstance(event, dict):
            event = {"eventType": "<not an object>"}
        print(f"{LOG_PREFIX} {describe_event(event)}", flush=True)


_threads: List[threading.Thread] = []


def register(name: str = "lab-internal-extension", events: Sequence[str] = ()) -> str:
    """Register an internal extension, start its event loop, return its identifier.

    Raises ExtensionError when AWS_LAMBDA_RUNTIME_API is unset, the API cannot be
    reached, or it refuses the registration (e.g. 403 for ``events=["SHUTDOWN"]``).
    """
    address = _runtime_api()
    identifier = register_only(address, name, events)
    print(
        "{} registered name={} events={} id={}".format(
            LOG_PREFIX, name, ",".join(events) or "-", identifier
        ),
        flush=True,
    )
    thread = threading.Thread(
        target=_event_loop, args=(address, identifier), name="internal-extension-" + name
    )
    thread.daemon = True
    thread.start()
    _threads.append(thread)
    return identifier
