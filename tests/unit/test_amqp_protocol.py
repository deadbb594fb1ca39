"""The AMQP consumer's pure parts and its ack discipline, without a broker.

What a message is (``parse_request``), what the reply carries, the settings
from the environment, the backoff; and, with a recording fake channel, that
a request is acknowledged only after its reply was published, that a request
the environment could not run goes back, and that a bad one is rejected.
"""

from __future__ import annotations

import base64
import json
import threading
import types
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional, Tuple

import pytest

from lambda_sandbox import amqp, cli
from lambda_sandbox.config import load_config
from lambda_sandbox.eventlog import EventLog
from lambda_sandbox.invocations import (
    MAX_PAYLOAD_BYTES,
    Invocation,
    InvokeResult,
    service_error,
)

# ------------------------------------------------------------ parse_request


def test_a_well_formed_request() -> None:
    context = base64.b64encode(b'{"custom": {"a": 1}}').decode()
    got = amqp.parse_request(
        b'{"k": 1}', "replies", "c-1", {"X-Amz-Client-Context": context, "X-Amzn-Trace-Id": "t"}
    )
    # The runtime gets the context's JSON on one ASCII line (header_values).
    assert got == amqp.Request("replies", "c-1", b'{"k": 1}', '{"custom":{"a":1}}', "t")


def test_an_empty_body_is_the_empty_event_and_headers_may_be_bytes() -> None:
    got = amqp.parse_request(b"  ", "r", None, {"X-Amzn-Trace-Id": b"t"})
    assert isinstance(got, amqp.Request)
    assert (got.payload, got.trace_id, got.correlation_id) == (b"{}", "t", None)


@pytest.mark.parametrize(
    ("body", "reply_to", "headers", "words", "error_type"),
    [
        (b"{}", None, None, "no reply_to", "InvalidRequestContentException"),
        (b"{}", "", None, "no reply_to", "InvalidRequestContentException"),
        (b"{not json", "r", None, "not JSON", "InvalidRequestContentException"),
        (b"\xff\xfe", "r", None, "not JSON", "InvalidRequestContentException"),
        (b" " * (MAX_PAYLOAD_BYTES + 1), "r", None, "over the", "RequestTooLargeException"),
        (b"{}", "r", {"X-Amz-Client-Context": "%%"}, "base64", "InvalidRequestContentException"),
        (
            b"{}",
            "r",
            {"X-Amz-Client-Context": base64.b64encode(b"[not json").decode()},
            "base64",
            "InvalidRequestContentException",
        ),
        (b"{}", "r", {"X-Amzn-Trace-Id": b"\xff"}, "not UTF-8", "InvalidRequestContentException"),
    ],
)
def test_malformed_requests_are_rejections(
    body: bytes,
    reply_to: Optional[str],
    headers: Optional[Dict[str, Any]],
    words: str,
    error_type: str,
) -> None:
    got = amqp.parse_request(body, reply_to, "c", headers)
    assert isinstance(got, amqp.Rejection)
    assert words in got.reason and got.error_type == error_type
    assert got.reply_to == (reply_to or None) and got.correlation_id == "c"


def test_replies() -> None:
    ok = InvokeResult(200, b'{"a": 1}', {"X-Amz-Executed-Version": "$LATEST"})
    assert amqp.reply_for(ok, "rid") == (
        b'{"a": 1}',
        {"X-Amz-Executed-Version": "$LATEST", "X-Amzn-RequestId": "rid"},
    )
    failed = InvokeResult(200, b"{}", {"X-Amz-Function-Error": "Unhandled"})
    assert amqp.reply_for(failed, "rid")[1]["X-Amz-Function-Error"] == "Unhandled"
    body, headers = amqp.rejection_reply(amqp.Rejection("why", "T", "r", "c"))
    assert json.loads(body) == {"Type": "User", "message": "why"}
    assert headers == {"X-Amzn-ErrorType": "T"}
    assert not amqp.environment_did_not_run(ok) and not amqp.environment_did_not_run(failed)
    assert amqp.environment_did_not_run(service_error(500, "ServiceException", "stopping"))
    assert amqp.environment_did_not_run(service_error(429, "TooManyRequestsException", "x"))


# ------------------------------------------------------------ settings


def test_settings_from_the_environment(tmp_path: Path) -> None:
    config = load_config({"AWS_LAMBDA_FUNCTION_NAME": "fn", "MAX_CONCURRENCY": "3"}, str(tmp_path))
    assert amqp.load_amqp_settings({}, config) is None
    settings = amqp.load_amqp_settings(
        {"AMQP_URI": "amqp://u:secret@broker:5673/v", "AMQP_PASSWORD": "other"}, config
    )
    assert settings is not None
    assert (settings.queue, settings.prefetch, settings.password) == ("fn", 3, "other")
    assert settings.broker == "amqp://broker:5673/v"
    assert "secret" not in amqp.describe_uri(settings.uri)
    assert amqp.describe_uri("amqp://u:secret@h/%2F") == "amqp://u:***@h/%2F"
    for bad, words in (
        ("http://h/", "expected amqp://"),
        ("amqp://h:port/", "port is not a number"),
        ("amqp:///v", "expected a host name"),
    ):
        with pytest.raises(amqp.AmqpConfigError, match=words):
            amqp.load_amqp_settings({"AMQP_URI": bad}, config)


def test_a_bad_amqp_uri_is_a_configuration_error(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    monkeypatch.setenv("AMQP_URI", "amqp://guest:secret@h:x/")
    monkeypatch.setenv("LAMBDA_TASK_ROOT", str(tmp_path))
    assert cli.main(["true"]) == 2
    err = capsys.readouterr().err
    assert "AMQP_URI=" in err and "port is not a number" in err and "secret" not in err


def test_backoff_grows_to_a_cap() -> None:
    delays = amqp.backoff_delays()
    assert [next(delays) for _ in range(7)] == [0.5, 1.0, 2.0, 4.0, 8.0, 8.0, 8.0]


# ------------------------------------------- the consumer, with fakes


class NackError(Exception):
    pass


FAKE_PIKA = types.SimpleNamespace(
    BasicProperties=lambda **kw: types.SimpleNamespace(**kw),
    exceptions=types.SimpleNamespace(NackError=NackError),
)


class FakeChannel:
    def __init__(self) -> None:
        self.calls: List[Tuple[str, Any]] = []
        self.is_open = True

    def basic_publish(self, exchange: str, routing_key: str, body: bytes, properties: Any) -> None:
        self.calls.append(("publish", (routing_key, body, properties)))

    def basic_ack(self, delivery_tag: int) -> None:
        self.calls.append(("ack", delivery_tag))

    def basic_nack(self, delivery_tag: int, requeue: bool) -> None:
        self.calls.append(("nack", (delivery_tag, requeue)))

    def basic_reject(self, delivery_tag: int, requeue: bool) -> None:
        self.calls.append(("reject", (delivery_tag, requeue)))

    def basic_cancel(self, tag: str) -> None:
        self.calls.append(("cancel", tag))

    def basic_consume(self, **kw: Any) -> str:
        self.calls.append(("consume", kw["queue"]))
        return "tag"


class FakeConnection:
    """Runs thread-safe callbacks at once; call_later callbacks when asked."""

    def __init__(self) -> None:
        self.later: List[Any] = []
        self.lock = threading.Lock()

    def add_callback_threadsafe(self, callback: Any) -> None:
        with self.lock:
            callback()

    def call_later(self, delay: float, callback: Any) -> None:
        self.later.append(callback)


@pytest.fixture
def event_log(tmp_path: Path) -> Iterator[EventLog]:
    log = EventLog(str(tmp_path / "events.jsonl"))
    yield log
    log.close()


def consumer_with(
    result: InvokeResult, event_log: EventLog
) -> Tuple[amqp.AmqpConsumer, threading.Event]:
    done = threading.Event()

    def invoke(invocation: Invocation) -> InvokeResult:
        done.set()
        return result

    settings = amqp.AmqpSettings("amqp://h/", None, None, "fn")
    consumer = amqp.AmqpConsumer(settings, invoke, event_log)
    consumer._pika = FAKE_PIKA
    return consumer, done


def deliver(
    consumer: amqp.AmqpConsumer, body: bytes, reply_to: Optional[str] = "replies"
) -> Tuple[FakeChannel, FakeConnection]:
    channel, connection = FakeChannel(), FakeConnection()
    method = types.SimpleNamespace(delivery_tag=7, redelivered=False)
    properties = types.SimpleNamespace(reply_to=reply_to, correlation_id="c-7", headers=None)
    consumer._on_message(connection, channel, method, properties, body)
    for thread in threading.enumerate():
        if thread.name == "amqp-invoke":
            thread.join(10)
    return channel, connection


def kinds(tmp_path: Path) -> List[Dict[str, Any]]:
    return [json.loads(line) for line in (tmp_path / "events.jsonl").read_text().splitlines()]


def test_the_reply_is_published_before_the_ack(tmp_path: Path, event_log: EventLog) -> None:
    result = InvokeResult(200, b'{"ok": 1}', {"X-Amz-Executed-Version": "$LATEST"})
    consumer, invoked = consumer_with(result, event_log)
    channel, _ = deliver(consumer, b'{"k": 1}')
    assert invoked.is_set()
    assert [name for name, _ in channel.calls] == ["publish", "ack"]
    routing_key, body, properties = channel.calls[0][1]
    assert (routing_key, body, properties.correlation_id) == ("replies", b'{"ok": 1}', "c-7")
    assert properties.headers["X-Amzn-RequestId"]
    assert [e["kind"] for e in kinds(tmp_path)] == ["amqp.invoke", "amqp.reply"]
    assert not consumer._in_flight


def test_a_request_the_environment_did_not_run_goes_back(
    tmp_path: Path, event_log: EventLog
) -> None:
    stopping = service_error(500, "ServiceException", "shutting down")
    consumer, _ = consumer_with(stopping, event_log)
    channel, connection = deliver(consumer, b"{}")
    assert channel.calls == [("nack", (7, True)), ("cancel", "")]
    assert [e["kind"] for e in kinds(tmp_path)] == ["amqp.invoke", "amqp.requeue"]
    (resume,) = connection.later
    resume()  # after RESUME_AFTER_S the consumer takes requests again
    assert channel.calls[-1] == ("consume", "fn")


def test_a_malformed_request_is_rejected_without_requeue(
    tmp_path: Path, event_log: EventLog
) -> None:
    consumer, invoked = consumer_with(InvokeResult(200, b"{}", {}), event_log)
    channel, _ = deliver(consumer, b"{nope")
    assert not invoked.is_set()
    assert [name for name, _ in channel.calls] == ["publish", "reject"]
    assert channel.calls[1] == ("reject", (7, False))
    assert channel.calls[0][1][2].headers == {"X-Amzn-ErrorType": "InvalidRequestContentException"}
    (event,) = kinds(tmp_path)
    assert event["kind"] == "amqp.reject" and event["replied"] is True

    channel, _ = deliver(consumer, b"{}", reply_to=None)
    assert channel.calls == [("reject", (7, False))], "nowhere to reply: just rejected"


def test_a_trace_id_that_could_forge_runtime_headers_is_not_passed_on() -> None:
    forged = "Root=1;\r\nLambda-Runtime-Aws-Request-Id: forged"
    got = amqp.parse_request(b"{}", "replies", "c-1", {"X-Amzn-Trace-Id": forged})
    assert isinstance(got, amqp.Request) and got.trace_id is None  # a fresh one is made
