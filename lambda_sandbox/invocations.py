"""An invocation and its answer, as the Invoke API, the AMQP consumer and an
execution environment pass them between each other."""

from __future__ import annotations

import json
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional

MAX_PAYLOAD_BYTES = 6 * 1024 * 1024  # Lambda's synchronous payload limit, both ways


@dataclass(frozen=True)
class InvokeResult:
    status: int
    body: bytes
    headers: Dict[str, str]


@dataclass
class Invocation:
    request_id: str
    payload: bytes
    client_context: Optional[str] = None
    cognito_identity: Optional[str] = None
    trace_id: str = ""
    done: threading.Event = field(default_factory=threading.Event)
    result: Optional[InvokeResult] = None
    runtime_body: bytes = b""
    function_error_type: Optional[str] = None
    # Set when the invocation has ended (runtime and extensions back at next),
    # after the console's END and REPORT lines: what a Tail log waits for.
    ended: threading.Event = field(default_factory=threading.Event)
    log_lines: List[str] = field(default_factory=list)


@dataclass(frozen=True)
class RuntimeDelivery:
    invocation: Invocation
    deadline_ms: int
    function_arn: str


def now_ms() -> int:
    return int(time.time() * 1000)


def new_request_id() -> str:
    return str(uuid.uuid4())


def to_json(obj: Any) -> bytes:
    return json.dumps(obj).encode("utf-8")


def service_error(status: int, error_type: str, message: str) -> InvokeResult:
    """Lambda's error format for errors of the service, not of the function."""
    return InvokeResult(
        status,
        to_json({"Type": "User" if status < 500 else "Service", "message": message}),
        {"X-Amzn-ErrorType": error_type},
    )
