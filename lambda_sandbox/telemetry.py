"""Telemetry API and Logs API delivery: one hub per execution environment, one
thread per subscriber.

The environment ``emit``s Telemetry API events as things happen (init, invoke,
every line the runtime and extensions print); the hub hands each subscriber
what it subscribed to (``telemetry_records.for_subscription``), and each
subscriber's thread sends batches (``telemetry_batch``) to its listener:

- HTTP: a POST of the JSON array, with Content-Length, one connection per batch
  (the guide's listeners read by Content-Length; AWS's samples are HTTP/1.0).
- TCP: newline-delimited JSON on one connection, reconnected when it breaks.

Delivery goes to 127.0.0.1 at the destination's port: ``sandbox.localdomain``
and ``sandbox`` name the execution environment itself. A failed send is
retried with backoff (50 ms doubling to 1 s) until it goes through ("Lambda
retries ... with backoff in the absence of a listener"; AWS's emulator in
Managed Instances mode drops the batch instead: not followed, it loses data
the guide says Lambda keeps).

Events from init are kept until subscriptions close and replayed to each new
subscriber, so a listener that subscribes late still gets ``initStart`` (as
Lambda does: AWS's sample capture begins with it). While the environment is
frozen nothing is sent (its listener could not answer). At shutdown the
environment calls ``flush`` after the runtime is gone and before SHUTDOWN
reaches the extensions, the order of AWS's emulator (rapid/shutdown.go:
runtime, then ``eventsAPI.Flush`` within 1 s, then SHUTDOWN).

Standard library only, CPython 3.7+.
"""

from __future__ import annotations

import http.client
import json
import logging
import socket
import threading
import time
from typing import Dict, List, Optional

from lambda_sandbox import telemetry_records as records
from lambda_sandbox.eventlog import EventLog, Kind
from lambda_sandbox.telemetry_batch import Batcher
from lambda_sandbox.telemetry_subscription import (
    TELEMETRY,
    Subscription,
    SubscriptionError,
    closed_error,
    validation_error_type,
)

log = logging.getLogger("lambda_sandbox.telemetry")

SEND_TIMEOUT_S = 5.0
FIRST_BACKOFF_S = 0.05
LAST_BACKOFF_S = 1.0
FLUSH_LIMIT_S = 1.0
# Init events kept for late subscribers: at most this many.
INIT_EVENTS_LIMIT = 10000


def now_ms() -> int:
    return int(time.monotonic() * 1000)


def encode(item: records.Event) -> bytes:
    """One event as it goes on the wire: compact JSON."""
    return json.dumps(item, separators=(",", ":")).encode("utf-8")


class Subscriber:
    def __init__(
        self,
        name: str,
        extension_id: str,
        subscription: Subscription,
        event_log: EventLog,
        env_index: int,
        paused: bool = False,
    ) -> None:
        self.name = name
        self.extension_id = extension_id
        self.subscription = subscription
        self._event_log = event_log
        self._env = env_index
        self._batcher = Batcher(subscription.buffering)
        self._cond = threading.Condition()
        self._paused = paused
        self._closed = False
        self._flushing = 0  # flush() calls waiting
        self._in_flight: List[bytes] = []
        self._tcp: Optional[socket.socket] = None
        self.delivered = 0
        self._thread = threading.Thread(target=self._run, name=f"telemetry-{name}", daemon=True)
        self._thread.start()

    # -- called by the hub --------------------------------------------------------

    def offer(self, item: records.Event) -> None:
        for shaped in records.for_subscription(self.subscription, item):
            encoded = encode(shaped)
            with self._cond:
                if self._closed:
                    return
                self._batcher.add(encoded, now_ms())
                self._cond.notify()

    def pause(self, paused: bool) -> None:
        with self._cond:
            self._paused = paused
            self._cond.notify_all()

    def flush(self, deadline: float) -> bool:
        """Send everything buffered now; whether it went out before ``deadline``
        (``time.monotonic()``)."""
        with self._cond:
            self._flushing += 1
            self._cond.notify_all()
            try:
                while (len(self._batcher) or self._in_flight) and not self._closed:
                    left = deadline - time.monotonic()
                    if left <= 0:
                        return False
                    self._cond.wait(left)
                return not (len(self._batcher) or self._in_flight)
            finally:
                self._flushing -= 1

    def close(self) -> None:
        """Stop sending; what was not delivered is recorded as dropped."""
        with self._cond:
            if self._closed:
                return
            self._closed = True
            left = len(self._batcher) + len(self._in_flight)
            size = self._batcher.size + sum(len(i) for i in self._in_flight)
            self._cond.notify_all()
        if left:
            self._log_dropped(left, size, "the environment ended before delivery")
        if self._tcp is not None:
            self._tcp.close()

    # -- the subscriber's thread --------------------------------------------------

    def _run(self) -> None:
        while True:
            batch = self._next_batch()
            if batch is None:
                return
            self._deliver(batch)

    def _next_batch(self) -> Optional[List[bytes]]:
        with self._cond:
            while True:
                if self._closed:
                    return None
                now = now_ms()
                if not self._paused and (
                    self._batcher.ready(now) or (self._flushing and len(self._batcher))
                ):
                    batch = self._batcher.take(now)
                    dropped, size = self._batcher.take_dropped()
                    if dropped:
                        self._log_dropped(dropped, size, records.DROPPED_REASON)
                        notice = records.event(
                            "platform.logsDropped", records.logs_dropped(dropped, size), time.time()
                        )
                        batch.insert(0, encode(notice))
                    self._in_flight = batch
                    return batch
                due = self._batcher.due_at()
                wait = None if due is None or self._paused else max(0.0, (due - now) / 1000.0)
                self._cond.wait(wait)

    def _deliver(self, batch: List[bytes]) -> None:
        backoff = FIRST_BACKOFF_S
        attempts = 0
        while True:
            attempts += 1
            error = self._send(batch)
            if error is None:
                break
            with self._cond:
                if self._closed:
                    break
                # Retry after the backoff, or sooner when told to stop; not while frozen.
                self._cond.wait(backoff)
                while self._paused and not self._closed:
                    self._cond.wait()
                if self._closed:
                    break
            backoff = min(LAST_BACKOFF_S, backoff * 2)
        # Written before a flush waiting for this batch is told it went: in the log,
        # the delivery comes before what waited for it (SHUTDOWN to the extension).
        self._event_log.write(
            Kind.TELEMETRY_DELIVERY,
            env=self._env,
            name=self.name,
            records=len(batch),
            bytes=sum(len(i) for i in batch),
            attempts=attempts,
            delivered=error is None,
            error=error,
        )
        if error is None:
            with self._cond:
                self.delivered += len(batch)
                self._in_flight = []
                self._cond.notify_all()

    def _send(self, batch: List[bytes]) -> Optional[str]:
        """None when the listener took the batch, else why not."""
        destination = self.subscription.destination
        try:
            if destination.protocol == "TCP":
                self._send_tcp(batch, destination.port)
                return None
            body = b"[" + b",".join(batch) + b"]"
            connection = http.client.HTTPConnection(
                "127.0.0.1", destination.port, timeout=SEND_TIMEOUT_S
            )
            try:
                connection.request(
                    "POST", destination.path, body, {"Content-Type": "application/json"}
                )
                response = connection.getresponse()
                response.read()
            finally:
                connection.close()
            if response.status >= 400:
                return f"the listener answered {response.status}"
            return None
        except (OSError, http.client.HTTPException) as err:
            if self._tcp is not None:
                self._tcp.close()
                self._tcp = None
            return f"{type(err).__name__}: {err}"

    def _send_tcp(self, batch: List[bytes], port: int) -> None:
        if self._tcp is None:
            self._tcp = socket.create_connection(("127.0.0.1", port), timeout=SEND_TIMEOUT_S)
        self._tcp.sendall(b"".join(item + b"\n" for item in batch))

    def _log_dropped(self, count: int, size: int, reason: str) -> None:
        self._event_log.write(
            Kind.TELEMETRY_DROPPED,
            env=self._env,
            name=self.name,
            records=count,
            bytes=size,
            reason=reason,
        )


class TelemetryHub:
    """One environment's subscriptions: open during init, delivered until it ends."""

    def __init__(self, event_log: EventLog, env_index: int) -> None:
        self._event_log = event_log
        self._env = env_index
        self._lock = threading.Lock()
        self._subscribers: Dict[str, Subscriber] = {}
        self._open = True
        self._paused = False
        self._init_events: List[records.Event] = []

    @property
    def active(self) -> bool:
        """Whether events are wanted at all (kept for late subscribers, or delivered)."""
        return self._open or bool(self._subscribers)

    def subscribe(self, extension_id: str, name: str, subscription: Subscription) -> bool:
        """Take the subscription; False when the extension already has one with this
        API (the request is then idempotent). Raises SubscriptionError."""
        api = subscription.api
        with self._lock:
            if not self._open:
                raise closed_error(api)
            existing = self._subscribers.get(extension_id)
            if existing is not None:
                if existing.subscription.api != api:
                    other = (
                        "Telemetry API" if existing.subscription.api == TELEMETRY else "Logs API"
                    )
                    raise SubscriptionError(
                        400,
                        validation_error_type(api),
                        f"the extension is subscribed with the {other}; the two are mutually exclusive",
                    )
                return False
            subscriber = Subscriber(
                name, extension_id, subscription, self._event_log, self._env, self._paused
            )
            self._subscribers[extension_id] = subscriber
            replay = list(self._init_events)
        self._event_log.write(
            Kind.TELEMETRY_SUBSCRIBE,
            env=self._env,
            name=name,
            id=extension_id,
            api=api,
            schema=subscription.schema_version,
            types=list(subscription.types),
            destination=subscription.destination.describe(),
        )
        for item in replay:
            subscriber.offer(item)
        self.emit(
            "platform.telemetrySubscription", records.subscription_record(name, subscription.types)
        )
        return True

    def emit(self, type_: str, record: object) -> None:
        item = records.event(type_, record, time.time())
        with self._lock:
            if self._open and len(self._init_events) < INIT_EVENTS_LIMIT:
                self._init_events.append(item)
            subscribers = list(self._subscribers.values())
        for subscriber in subscribers:
            subscriber.offer(item)

    def close_subscriptions(self) -> None:
        """Init is over: no more subscribers, nothing more to replay."""
        with self._lock:
            self._open = False
            self._init_events = []

    def pause(self, paused: bool) -> None:
        with self._lock:
            self._paused = paused
            subscribers = list(self._subscribers.values())
        for subscriber in subscribers:
            subscriber.pause(paused)

    def flush(self, limit_s: float = FLUSH_LIMIT_S) -> bool:
        """Every subscriber's buffer sent, within ``limit_s``; whether all went out."""
        with self._lock:
            subscribers = list(self._subscribers.values())
        deadline = time.monotonic() + limit_s
        return all([s.flush(deadline) for s in subscribers])

    def has_subscribers(self) -> bool:
        with self._lock:
            return bool(self._subscribers)

    def reset(self) -> None:
        """The environment is gone: stop every subscriber; the next init opens again."""
        with self._lock:
            subscribers = list(self._subscribers.values())
            self._subscribers = {}
            self._open = True
            self._paused = False
            self._init_events = []
        for subscriber in subscribers:
            subscriber.close()
