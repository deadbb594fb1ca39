"""Helpers for the AMQP tests: the broker check, interpreters with pika, a host-side
RPC caller, and a TCP gate that plays a broker going down and up.

Everything talks to loopback only. Each test uses its own function name, so
its own queue, and deletes it at the end (tests run in parallel).
"""

from __future__ import annotations

import contextlib
import os
import select
import socket
import threading
import time
import uuid
from pathlib import Path
from types import TracebackType
from typing import Any, Dict, Iterator, List, Optional, Tuple, Type

from harness.model.pins import load_pins
from harness.probes.broker import DEFAULT_URI
from support.interpreters import awslambdaric_python
from support.skips import unavailable


def broker_uri() -> str:
    return os.environ.get("AMQP_URI", "").strip() or DEFAULT_URI


def require_broker() -> str:
    """The broker's URI; skip (fail in CI) when none answers."""
    import pika

    params = pika.URLParameters(broker_uri())
    params.connection_attempts = 1
    params.socket_timeout = 3
    try:
        pika.BlockingConnection(params).close()
    except pika.exceptions.AMQPError as exc:
        reason = (
            f"no AMQP broker answers at {broker_uri().split('@')[-1]} ({type(exc).__name__}); "
            "start one with scripts/start-rabbitmq.sh"
        )
        unavailable(reason)
    return broker_uri()


def amqp_python(version: str) -> Path:
    """A venv interpreter with the pinned awslambdaric and pika, or skip (fail in CI)."""
    return awslambdaric_python(version, [load_pins().requirement("pika")])


def function_name(prefix: str = "amqp-test") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


class Caller:
    """A host-side RPC caller with one reply queue (pika, blocking, this thread only)."""

    def __init__(self, uri: str) -> None:
        import pika

        self.pika = pika
        self.connection = pika.BlockingConnection(pika.URLParameters(uri))
        self.channel = self.connection.channel()
        declared = self.channel.queue_declare(queue="", exclusive=True, auto_delete=True)
        self.reply_queue: str = declared.method.queue

    def __enter__(self) -> Caller:
        return self

    def __exit__(
        self,
        exc_type: Optional[Type[BaseException]],
        exc: Optional[BaseException],
        tb: Optional[TracebackType],
    ) -> None:
        if self.connection.is_open:
            self.connection.close()

    def publish(
        self,
        queue: str,
        body: bytes,
        reply: bool = True,
        correlation_id: Optional[str] = None,
        headers: Optional[Dict[str, str]] = None,
    ) -> str:
        correlation_id = correlation_id or str(uuid.uuid4())
        self.channel.basic_publish(
            exchange="",
            routing_key=queue,
            body=body,
            properties=self.pika.BasicProperties(
                reply_to=self.reply_queue if reply else None,
                correlation_id=correlation_id,
                headers=headers,
            ),
        )
        return correlation_id

    def replies(self, count: int, timeout_s: float) -> Dict[str, Tuple[bytes, Dict[str, Any]]]:
        """``count`` replies by correlation_id, or fewer at the deadline."""
        got: Dict[str, Tuple[bytes, Dict[str, Any]]] = {}
        deadline = time.monotonic() + timeout_s
        replies = self.channel.consume(self.reply_queue, auto_ack=True, inactivity_timeout=0.2)
        for method, properties, body in replies:
            if method is not None:
                got[properties.correlation_id] = (body, dict(properties.headers or {}))
            if len(got) >= count or time.monotonic() >= deadline:
                break
        self.channel.cancel()
        return got

    def count(self, queue: str) -> int:
        return int(self.channel.queue_declare(queue=queue, passive=True).method.message_count)

    def delete(self, queue: str) -> None:
        with contextlib.suppress(Exception):
            self.channel.queue_delete(queue=queue)


@contextlib.contextmanager
def deleting_queue(uri: str, queue: str) -> Iterator[None]:
    """Delete the test's queue at the end, whatever happened."""
    try:
        yield
    finally:
        with contextlib.suppress(Exception), Caller(uri) as caller:
            caller.delete(queue)


class TcpGate:
    """A loopback port in front of the broker that refuses, forwards, or cuts.

    Bound but not listening, the port refuses connections like a broker that
    is down; ``open()`` starts forwarding to the broker; ``cut()`` closes every
    forwarded connection at once, like a broker that went away.
    """

    def __init__(self, target: Tuple[str, int]) -> None:
        self.target = target
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind(("127.0.0.1", 0))
        self.port: int = self._listener.getsockname()[1]
        self._pairs: List[Tuple[socket.socket, socket.socket]] = []
        self._lock = threading.Lock()
        self._closed = threading.Event()

    def open(self) -> None:
        self._listener.listen(16)
        threading.Thread(target=self._accept, name="gate-accept", daemon=True).start()

    def _accept(self) -> None:
        while not self._closed.is_set():
            try:
                ready, _, _ = select.select([self._listener], [], [], 0.1)
                if not ready:
                    continue
                client, _ = self._listener.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._pairs.append((client, upstream))
            threading.Thread(
                target=self._pump, args=(client, upstream), name="gate-pump", daemon=True
            ).start()

    def _pump(self, a: socket.socket, b: socket.socket) -> None:
        peers = {a: b, b: a}
        try:
            while not self._closed.is_set():
                ready, _, _ = select.select([a, b], [], [], 0.1)
                for sock in ready:
                    data = sock.recv(65536)
                    if not data:
                        return
                    peers[sock].sendall(data)
        except OSError:
            return
        finally:
            for sock in (a, b):
                with contextlib.suppress(OSError):
                    sock.close()

    def cut(self) -> None:
        """Close every forwarded connection (the listener stays open)."""
        with self._lock:
            pairs, self._pairs = self._pairs, []
        for pair in pairs:
            for sock in pair:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                with contextlib.suppress(OSError):
                    sock.close()

    def close(self) -> None:
        self._closed.set()
        self.cut()
        with contextlib.suppress(OSError):
            self._listener.close()
