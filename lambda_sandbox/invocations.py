"""An invocation and its answer, as the Invoke API, the AMQP consumer and an
execution environment pass them between each other."""

from __future__ import annotations

import json
import os
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Callable, Deque, Dict, Optional

MAX_PAYLOAD_BYTES = 6 * 1024 * 1024  # Lambda's synchronous payload limit, both ways
# Lambda's asynchronous (Event) payload limit: 1 MB since October 2025, 256 KB
# before (AWS Compute Blog, "More room to build: serverless services now
# support payloads up to 1 MB").
MAX_ASYNC_PAYLOAD_BYTES = 1024 * 1024


def trace_id(epoch_s: float, root_hex: str, parent_hex: str) -> str:
    """An X-Ray trace header as Lambda passes it (``Lambda-Runtime-Trace-Id``):
    ``Root=1-<epoch seconds, 8 hex>-<24 hex>;Parent=<16 hex>;Sampled=0``. Pure."""
    return f"Root=1-{int(epoch_s) & 0xFFFFFFFF:08x}-{root_hex};Parent={parent_hex};Sampled=0"


def new_trace_id() -> str:
    """A fresh trace header, for an invocation whose invoker gave none."""
    random_hex = os.urandom(20).hex()
    return trace_id(time.time(), random_hex[:24], random_hex[24:])


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
    # Every invocation has one (the runtime gets it as Lambda-Runtime-Trace-Id,
    # and awslambdaric sets _X_AMZN_TRACE_ID from it); an invoker's own wins.
    trace_id: str = field(default_factory=new_trace_id)
    result: Optional[InvokeResult] = None
    # Called (under the environment's lock) once ``result`` is set: it hands the
    # answer on (to the HTTP loop's thread, or to a thread waiting in ``invoke``).
    answered: Optional[Callable[[], None]] = None
    runtime_body: bytes = b""
    function_error_type: Optional[str] = None
    # Only for a Tail log (``tailed``): the invocation's log lines, and the event
    # set when the invocation has ended (runtime and extensions back at next,
    # after the console's END and REPORT lines), which the Tail waits for.
    log_lines: Optional["LogTail"] = None
    ended: Optional[threading.Event] = None

    def tailed(self) -> "Invocation":
        """Keep this invocation's log for a Tail (before it runs)."""
        self.log_lines = LogTail()
        self.ended = threading.Event()
        return self


def retry_of(invocation: "Invocation") -> "Invocation":
    """The same request (id, payload, context, trace), to run again from the start."""
    return Invocation(
        request_id=invocation.request_id,
        payload=invocation.payload,
        client_context=invocation.client_context,
        cognito_identity=invocation.cognito_identity,
        trace_id=invocation.trace_id,
    )


class LogTail:
    """What an invocation's Tail log (X-Amz-Log-Result: its last 4 KB) needs of its
    lines, and no more: the newest lines holding at least ``limit`` characters
    (so at least ``limit`` bytes once encoded), each cut to its last ``limit``."""

    def __init__(self, limit: int = 4096) -> None:
        self.limit = limit
        self._lines: Deque[str] = deque()
        self._chars = 0

    def append(self, line: str) -> None:
        text = (line + "\n")[-(self.limit + 1) :]
        self._lines.append(text)
        self._chars += len(text)
        while self._lines and self._chars - len(self._lines[0]) >= self.limit:
            self._chars -= len(self._lines.popleft())

    def last_bytes(self) -> bytes:
        """The log's last ``limit`` bytes, UTF-8."""
        return "".join(self._lines).encode("utf-8", "replace")[-self.limit :]


@dataclass(frozen=True)
class RuntimeDelivery:
    invocation: Invocation
    deadline_ms: int
    function_arn: str


def now_ms() -> int:
    return int(time.time() * 1000)


def new_request_id() -> str:
    """A random (version 4) UUID, as ``str(uuid.uuid4())`` writes it, without the
    UUID object."""
    raw = bytearray(os.urandom(16))
    raw[6] = raw[6] & 0x0F | 0x40  # version 4
    raw[8] = raw[8] & 0x3F | 0x80  # the RFC 4122 variant
    h = raw.hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def to_json(obj: Any) -> bytes:
    return json.dumps(obj).encode("utf-8")


def service_error(status: int, error_type: str, message: str) -> InvokeResult:
    """Lambda's error format for errors of the service, not of the function."""
    return InvokeResult(
        status,
        to_json({"Type": "User" if status < 500 else "Service", "message": message}),
        {"X-Amzn-ErrorType": error_type},
    )
