"""An internal extension: what makes Lambda send SIGTERM to the runtime at all.

Lambda sends SIGTERM at shutdown only when at least one extension is
registered; a thread of the runtime process registering ``{"events": []}`` is
enough (and gives the runtime 500 ms before SIGKILL). It must register during
init, before the runtime asks for its first invocation, and then wait on
``event/next``: init completes only when every registered extension has.
"""

from __future__ import annotations

import http.client
import json
import threading
from typing import Callable

API = "/2020-01-01/extension"
NAME = "lambda-shutdown-hook"


class RegistrationRefused(RuntimeError):
    """The Extensions API refused the registration or could not be reached."""


def register(address: str, log: Callable[[str], None], name: str = NAME) -> str:
    """Register ``name`` with no events, start its ``event/next`` thread, return its id."""
    connection = http.client.HTTPConnection(address, timeout=10)
    try:
        connection.request(
            "POST",
            API + "/register",
            body=json.dumps({"events": []}).encode("utf-8"),
            headers={"Lambda-Extension-Name": name, "Content-Type": "application/json"},
        )
        response = connection.getresponse()
        body = response.read()
        identifier = response.getheader("Lambda-Extension-Identifier") or ""
    except (OSError, http.client.HTTPException) as exc:
        raise RegistrationRefused(f"POST {API}/register: {type(exc).__name__}: {exc}") from None
    finally:
        connection.close()
    if response.status != 200 or not identifier:
        raise RegistrationRefused(
            "POST {}/register answered {} {}".format(
                API, response.status, body.decode("utf-8", "replace")[:200]
            )
        )
    thread = threading.Thread(
        target=_wait_for_events, args=(address, identifier, log), name="lambda-shutdown-hook-ext"
    )
    thread.daemon = True  # never holds the process up
    thread.start()
    return identifier


def _wait_for_events(address: str, identifier: str, log: Callable[[str], None]) -> None:
    # Subscribed to nothing: event/next answers only if Lambda has something to
    # say anyway; a fresh connection per call survives a dropped keep-alive.
    while True:
        connection = http.client.HTTPConnection(address)
        try:
            connection.request(
                "GET", API + "/event/next", headers={"Lambda-Extension-Identifier": identifier}
            )
            response = connection.getresponse()
            response.read()
        except (OSError, http.client.HTTPException) as exc:
            log(f"extension event/next failed, stopping: {exc}")
            return
        finally:
            connection.close()
        if response.status != 200:
            log(f"extension event/next answered {response.status}, stopping")
            return
