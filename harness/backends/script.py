"""What happens to a cell between readiness and shutdown: the same on every backend.

The invocations, each awaited to its ``invoke.end`` (the answer can reach the
caller before the runtime is back at next, and Lambda only stops or reaps an
idle environment). The trigger's own part: for ``idle`` the wait for the idle
reaping; for ``timeout`` and ``crash`` the last invocation asks the function
to sleep past its timeout or to exit (payload key ``lab_trigger``), its
failure is expected, and the environment's reset is awaited. The backend then
stops the sandbox its own way (for ``stop``, that stop is the trigger).
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Callable, Dict, Mapping, Optional

from harness.model.cells import TRIGGER_KEY, Cell
from harness.sandbox.tail import EventLogTail
from lambda_sandbox.eventlog import Kind


class FunctionFailed(RuntimeError):
    """The invocation was answered with X-Amz-Function-Error."""


def invoke(address: str, payload: Mapping[str, object], timeout_s: float) -> str:
    """POST one RequestResponse invocation; the body, or RuntimeError with status and body."""
    request = urllib.request.Request(
        f"http://{address}/2015-03-31/functions/function/invocations",
        data=json.dumps(payload).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as response:
            body: bytes = response.read()
            error = response.headers.get("X-Amz-Function-Error")
    except urllib.error.HTTPError as err:
        raise RuntimeError(f"invoke answered {err.code}: {err.read()[:500]!r}") from None
    except (urllib.error.URLError, OSError) as err:
        raise RuntimeError(f"invoke failed: {err}") from None
    if error:
        raise FunctionFailed(f"the function failed ({error}): {body[:500]!r}")
    return body.decode("utf-8", "replace")


def play_cell(
    cell: Cell,
    address: str,
    log: EventLogTail,
    alive: Callable[[], bool],
    invoke_s: float,
    idle_grace_s: float,
) -> Optional[str]:
    """Invoke, await each invocation's end, await the trigger's shutdown. A problem, or None."""
    resets = cell.trigger in ("timeout", "crash")
    for n in range(cell.invocations):
        payload: Dict[str, object] = json.loads(cell.event) if cell.event else {}
        payload.update({"cell": cell.id, "invocation": n + 1})
        last = n + 1 == cell.invocations
        if last and resets:
            payload[TRIGGER_KEY] = cell.trigger
        try:
            invoke(address, payload, invoke_s)
        except FunctionFailed as err:
            if not (last and resets):
                return f"invocation {n + 1} of {cell.invocations}: {err}"
        except RuntimeError as err:
            return f"invocation {n + 1} of {cell.invocations}: {err}"
        else:
            if last and resets:
                return f"trigger {cell.trigger!r}: the last invocation succeeded"
        if log.wait_for(Kind.INVOKE_END, invoke_s, alive, nth=n + 1) is None:
            return f"invocation {n + 1}: no invoke.end within {invoke_s:g} s"
    limit_s = cell.shutdown_rule.limit_ms / 1000
    if cell.trigger == "idle" or resets:
        wait_s = (cell.idle_timeout_s if cell.trigger == "idle" else 0) + limit_s + idle_grace_s
        if log.wait_for(Kind.SHUTDOWN_END, wait_s, alive) is None:
            return f"trigger {cell.trigger!r}: no shutdown.end within {wait_s:g} s"
    return None
