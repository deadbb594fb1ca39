"""A function that ships its records from a background thread (handler ``flusher.handler``).

What many telemetry libraries do: each invocation appends records to an
in-memory buffer and returns at once; a daemon thread publishes the buffer a
moment later (``LAB_FLUSH_DELAY_MS``, default 200 ms after the first record
arrives). Nothing is flushed at shutdown. Lambda freezes the environment as
soon as the invocation is done, so the thread does not run while it idles:
what the last invocation buffered waits for the next invocation, or is lost
when the environment is shut down. With the sandbox's freezing turned off
(LAMBDA_SANDBOX_FREEZE=0) the thread flushes while the environment idles.
The harness counts what arrives at the broker.

Configured as ``outbox.py``: ``LAB_OUTBOX_URI``, ``LAB_OUTBOX_QUEUE``,
``LAB_OUTBOX_CONNECTION_NAME``, ``LAB_OUTBOX_PER_INVOCATION``.
"""

from __future__ import annotations

import json
import os
import platform
import threading
import time
from typing import Any, Dict, List, Mapping

import pika

DEFAULT_URI = "amqp://guest:guest@127.0.0.1:5672/%2F"
FLUSHED = "[flusher] published {count} records"


def _whole(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name, "").strip() or str(default)
    if not raw.isdigit():
        raise ValueError(f"{name}={raw!r}: expected a whole number")
    return int(raw)


class Flusher:
    """The buffer and the thread that publishes it (pika is used from that thread only)."""

    def __init__(self, uri: str, queue: str, connection_name: str, delay_s: float) -> None:
        self.uri, self.queue, self.connection_name = uri, queue, connection_name
        self.delay_s = delay_s
        self.buffer: List[bytes] = []
        self.lock = threading.Condition()
        ready = threading.Event()
        self.error: List[BaseException] = []
        self.thread = threading.Thread(target=self._run, args=(ready,), daemon=True)
        self.thread.start()
        ready.wait(30)
        if self.error:
            raise self.error[0]

    def add(self, record: Dict[str, Any]) -> None:
        with self.lock:
            self.buffer.append(json.dumps(record).encode("utf-8"))
            self.lock.notify()

    def _run(self, ready: threading.Event) -> None:
        try:
            params = pika.URLParameters(self.uri)
            params.client_properties = {"connection_name": self.connection_name}
            params.heartbeat = 0  # as outbox.py: the frozen thread cannot answer heartbeats
            channel = pika.BlockingConnection(params).channel()
            channel.queue_declare(queue=self.queue, durable=True)
        except BaseException as err:  # reported to init, which fails
            self.error.append(err)
            ready.set()
            return
        ready.set()
        persistent = pika.BasicProperties(delivery_mode=2, content_type="application/json")
        while True:
            with self.lock:
                while not self.buffer:
                    self.lock.wait()
            time.sleep(self.delay_s)  # batch what arrives meanwhile
            with self.lock:
                batch, self.buffer = self.buffer, []
            for body in batch:
                channel.basic_publish(
                    exchange="", routing_key=self.queue, body=body, properties=persistent
                )
            print(FLUSHED.format(count=len(batch)), flush=True)


PER_INVOCATION = _whole(os.environ, "LAB_OUTBOX_PER_INVOCATION", 10)
FLUSHER = Flusher(
    os.environ.get("LAB_OUTBOX_URI") or DEFAULT_URI,
    os.environ.get("LAB_OUTBOX_QUEUE") or "lab-outbox",
    os.environ.get("LAB_OUTBOX_CONNECTION_NAME") or "lab-flusher",
    _whole(os.environ, "LAB_FLUSH_DELAY_MS", 200) / 1000.0,
)
print(f"[flusher] init: python={platform.python_version()} queue={FLUSHER.queue}", flush=True)


def handler(event: Any, context: Any) -> Dict[str, Any]:
    request_id = getattr(context, "aws_request_id", None)
    for seq in range(PER_INVOCATION):
        FLUSHER.add({"request_id": request_id, "seq": seq})
    return {"buffered": PER_INVOCATION}
