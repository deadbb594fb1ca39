"""The telemetry hub against real listeners on loopback: subscription rules (closed
after init, one API per extension, idempotent), replay of init events, retries
while the listener is not up, platform.logsDropped when the buffer overflows, no
sends while frozen, and a flush that empties every buffer."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any, Dict, Iterator

import pytest
from support.listeners import JsonCollector, free_port

from lambda_sandbox.eventlog import EventLog, read_event_log
from lambda_sandbox.telemetry import TelemetryHub
from lambda_sandbox.telemetry_subscription import (
    LOGS,
    TELEMETRY,
    SubscriptionError,
    parse_subscription,
)

pytestmark = [pytest.mark.integration, pytest.mark.timeout(60)]


def subscription(port: int, api: str = TELEMETRY, timeout_ms: int = 25, types=None):
    body: Dict[str, Any] = {
        "destination": {"protocol": "HTTP", "URI": f"http://sandbox.localdomain:{port}/"},
        "types": types or ["platform", "function", "extension"],
        "buffering": {"timeoutMs": timeout_ms},
    }
    if api == TELEMETRY:
        body["schemaVersion"] = "2022-12-13"
    return parse_subscription(api, json.dumps(body).encode())


@pytest.fixture
def hub(tmp_path: Path) -> Iterator[TelemetryHub]:
    log = EventLog(str(tmp_path / "events.jsonl"))
    hub = TelemetryHub(log, 0)
    yield hub
    hub.reset()
    log.close()


def until(check, within_s: float = 10.0) -> None:
    deadline = time.monotonic() + within_s
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)  # polling what the listener received


def test_init_events_are_replayed_to_a_late_subscriber_then_subscriptions_close(hub) -> None:
    listener = JsonCollector().start()
    try:
        hub.emit("platform.initStart", {"phase": "init"})
        assert hub.subscribe("ext-1", "ext", subscription(listener.port))
        hub.close_subscriptions()
        hub.emit("function", "after init")
        until(lambda: len(listener.events()) >= 3)
        assert [e["type"] for e in listener.events()] == [
            "platform.initStart",
            "platform.telemetrySubscription",
            "function",
        ]
        with pytest.raises(SubscriptionError) as closed:
            hub.subscribe("ext-2", "other", subscription(listener.port))
        assert (closed.value.status, closed.value.error_type) == (
            403,
            "Telemetry.SubscriptionClosed",
        )
    finally:
        listener.stop()


def test_one_api_per_extension_and_a_repeat_is_idempotent(hub) -> None:
    assert hub.subscribe("ext-1", "ext", subscription(free_port()))
    assert not hub.subscribe("ext-1", "ext", subscription(free_port()))
    with pytest.raises(SubscriptionError) as other:
        hub.subscribe("ext-1", "ext", subscription(free_port(), api=LOGS))
    assert other.value.status == 400 and "mutually exclusive" in other.value.message


def test_a_listener_that_comes_up_late_gets_everything(hub, tmp_path: Path) -> None:
    listener = JsonCollector()
    hub.subscribe("ext-1", "ext", subscription(listener.port))
    for n in range(5):
        hub.emit("function", f"line {n}")
    time.sleep(0.3)  # a few failed attempts: nobody listens yet
    listener.start()
    try:
        until(lambda: len([e for e in listener.events() if e["type"] == "function"]) == 5)
        deliveries = [
            e
            for e in read_event_log(str(tmp_path / "events.jsonl")).events
            if e.kind == "telemetry.delivery"
        ]
        assert deliveries[0]["attempts"] > 1 and deliveries[0]["delivered"]
    finally:
        listener.stop()


def test_an_overflowing_buffer_drops_the_oldest_and_says_so(hub) -> None:
    listener = JsonCollector()
    hub.subscribe("ext-1", "ext", subscription(listener.port, types=["function"]))
    line = "x" * 10_000
    for _ in range(200):  # 2 MB while nobody listens: over four batches' worth (1 MB)
        hub.emit("function", line)
    listener.start()
    try:

        def dropped() -> int:
            notices = [e for e in listener.events() if e["type"] == "platform.logsDropped"]
            return sum(e["record"]["droppedRecords"] for e in notices)

        def received() -> int:
            return len([e for e in listener.events() if e["type"] == "function"])

        # Every record arrives or is counted as dropped (in one notice or several).
        until(lambda: received() + dropped() >= 200)
        assert received() + dropped() == 200
        assert dropped() > 0 and received() > 0
        notice = next(e for e in listener.events() if e["type"] == "platform.logsDropped")
        assert notice["record"]["reason"] and notice["record"]["droppedBytes"] >= 10_000
    finally:
        listener.stop()


def test_nothing_is_sent_while_frozen_and_a_flush_empties_the_buffers(hub) -> None:
    listener = JsonCollector().start()
    try:
        hub.subscribe("ext-1", "ext", subscription(listener.port, timeout_ms=30000))
        hub.close_subscriptions()
        hub.pause(True)
        hub.emit("function", "while frozen")
        assert not hub.flush(0.3), "a frozen listener cannot be flushed to"
        assert "while frozen" not in [e["record"] for e in listener.events()]
        hub.pause(False)
        assert hub.flush(5.0)
        assert "while frozen" in [e["record"] for e in listener.events()]
    finally:
        listener.stop()
