"""Switching the hook on: once per process, never raising, never touching stdout.

``activate()`` is what the ``.pth`` file and the wrapper script call. In the
runtime process of a Lambda execution environment (``activation.refusal``
says which that is) it takes over SIGTERM dispatch (``dispatch``) and
registers an internal extension (``extension``) unless
``LAMBDA_SHUTDOWN_HOOK_EXTENSION=off``. Anywhere else it does nothing.
"""

from __future__ import annotations

import os
import sys
import threading
from typing import Dict, Optional

from lambda_shutdown_hook import activation

EXTENSION_SWITCH = "LAMBDA_SHUTDOWN_HOOK_EXTENSION"
PREFIX = "[lambda-shutdown-hook]"

_lock = threading.Lock()
_status: Dict[str, Optional[str]] = {"active": None, "refused": None, "extension": None}


def log(message: str) -> None:
    # stderr: Lambda sends it to the function's log like stdout, and stdout
    # may carry a legacy runtime's protocol or a user's own output.
    try:
        sys.stderr.write(f"{PREFIX} {message}\n")
        sys.stderr.flush()
    except (OSError, ValueError, AttributeError):
        pass


def activate(via: str = "site") -> bool:
    """Switch the hook on in this process if it is a Lambda runtime; True when active."""
    try:
        with _lock:
            return _activate(via)
    except Exception as exc:  # a .pth line must never break the interpreter's start
        log(f"not active: {type(exc).__name__}: {exc}")
        return False


def _activate(via: str) -> bool:
    if _status["active"]:
        return True
    argv0 = (getattr(sys, "argv", None) or [""])[0]
    why_not = activation.refusal(os.environ, os.getpid(), argv0)
    if why_not is not None:
        _status["refused"] = why_not
        return False
    if threading.current_thread() is not threading.main_thread():
        why_not = "imported off the main thread: signal handlers can only be set there"
        _status["refused"] = why_not
        log("not active: " + why_not)
        return False

    from lambda_shutdown_hook import dispatch  # only now: nothing is patched elsewhere

    dispatch.Dispatch(log).start()
    os.environ[activation.OWNER_VARIABLE] = str(os.getpid())
    _status["active"] = via
    extension = "off"
    if os.environ.get(EXTENSION_SWITCH, "").strip().lower() not in ("0", "off", "false", "no"):
        from lambda_shutdown_hook import extension as internal

        try:
            extension = "registered id=" + internal.register(
                os.environ["AWS_LAMBDA_RUNTIME_API"], log
            )
        except internal.RegistrationRefused as exc:
            extension = f"not registered ({exc})"
    _status["extension"] = extension
    log(
        f"active (via {via}): SIGTERM reaches the function's handler; internal extension {extension}"
    )
    return True


def status() -> Dict[str, Optional[str]]:
    """``active`` (how it was switched on, or None), ``refused`` (why not), ``extension``."""
    return dict(_status)
