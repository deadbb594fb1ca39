"""A function with an outbox (handler ``outbox.handler``): what graceful shutdown saves.

Like real telemetry or outbox code, init opens a connection to a message
broker (pika, held for the environment's life) and each invocation buffers
messages in memory instead of paying a round trip per message. Only the
SIGTERM cleanup publishes the buffer, then closes the connection properly
(AMQP Connection.Close). A cleanup that never runs loses every buffered
message, and the broker sees the TCP connection drop instead of a close:
the harness counts both at the broker.

Configured through the environment, read once at import (Lambda's init):

* ``LAB_OUTBOX_URI`` (else ``AMQP_URI``, else the local broker's default),
  ``LAB_OUTBOX_QUEUE`` (default ``lab-outbox``): where the messages go.
* ``LAB_OUTBOX_CONNECTION_NAME``: the connection's client-provided name, by
  which the harness finds it in the broker's log (default ``lab-outbox``).
* ``LAB_OUTBOX_PER_INVOCATION``: messages buffered per invocation (default 10).
* ``LAB_STRATEGY`` (``signal``, ``wakeup-fd``, ``none``; default ``wakeup-fd``)
  and ``LAB_EXTENSION`` (``internal``, ``none``; default ``internal``), as for
  ``app.py``.
"""

from __future__ import annotations

import json
import os
import platform
from typing import Any, Dict, List, Mapping

import graceful_shutdown
import pika

DEFAULT_URI = "amqp://guest:guest@127.0.0.1:5672/%2F"
FLUSH_STARTED = "[outbox] SIGTERM received: publishing {count} buffered messages"
FLUSH_FINISHED = "[outbox] published {count} messages to {queue}; connection closed"


class Outbox:
    """Messages buffered in memory, published only by ``flush_and_close``."""

    def __init__(self, uri: str, queue: str, connection_name: str) -> None:
        params = pika.URLParameters(uri)
        params.client_properties = {"connection_name": connection_name}
        # Heartbeats need I/O on this connection, and none happens while the
        # runtime idles in `next`: without this the broker could drop an idle
        # outbox by itself, which is not what is being measured.
        params.heartbeat = 0
        self.queue = queue
        self.connection = pika.BlockingConnection(params)
        self.channel = self.connection.channel()
        self.channel.queue_declare(queue=queue, durable=True)
        self.buffer: List[bytes] = []

    def add(self, record: Dict[str, Any]) -> None:
        self.buffer.append(json.dumps(record).encode("utf-8"))

    def flush_and_close(self) -> None:
        count = len(self.buffer)
        print(FLUSH_STARTED.format(count=count), flush=True)
        persistent = pika.BasicProperties(delivery_mode=2, content_type="application/json")
        for body in self.buffer:
            self.channel.basic_publish(
                exchange="", routing_key=self.queue, body=body, properties=persistent
            )
        self.buffer = []
        # Connection.Close waits for Close-Ok: the broker has every message
        # published before it, and logs a clean close.
        self.connection.close()
        print(FLUSH_FINISHED.format(count=count, queue=self.queue), flush=True)


def _per_invocation(env: Mapping[str, str]) -> int:
    raw = env.get("LAB_OUTBOX_PER_INVOCATION", "").strip() or "10"
    if not raw.isdigit() or int(raw) < 1:
        raise ValueError(f"LAB_OUTBOX_PER_INVOCATION={raw!r}: expected a whole number >= 1")
    return int(raw)


PER_INVOCATION = _per_invocation(os.environ)
OUTBOX = Outbox(
    os.environ.get("LAB_OUTBOX_URI") or os.environ.get("AMQP_URI") or DEFAULT_URI,
    os.environ.get("LAB_OUTBOX_QUEUE") or "lab-outbox",
    os.environ.get("LAB_OUTBOX_CONNECTION_NAME") or "lab-outbox",
)
STRATEGY = os.environ.get("LAB_STRATEGY", "").strip() or "wakeup-fd"
EXTENSION = os.environ.get("LAB_EXTENSION", "").strip() or "internal"
print(
    f"[outbox] init: strategy={STRATEGY} extension={EXTENSION} "
    f"python={platform.python_version()} queue={OUTBOX.queue}",
    flush=True,
)
graceful_shutdown.install(
    OUTBOX.flush_and_close, strategy=STRATEGY, extension=EXTENSION == "internal"
)


def handler(event: Any, context: Any) -> Dict[str, Any]:
    request_id = getattr(context, "aws_request_id", None)
    for seq in range(PER_INVOCATION):
        OUTBOX.add({"request_id": request_id, "seq": seq, "event": event})
    return {"buffered": len(OUTBOX.buffer)}
