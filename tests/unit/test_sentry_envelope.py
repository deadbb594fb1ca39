"""The Sentry endpoint's decoding: the events an envelope carries and their messages,
whatever else rides along; the legacy store endpoint; malformed envelopes refused."""

from __future__ import annotations

import gzip
import json

import pytest

from harness.probes.sentry_envelope import event_message, event_messages, parse_envelope


def item(kind: str, payload: dict, with_length: bool = True) -> bytes:
    body = json.dumps(payload).encode()
    header = {"type": kind, **({"length": len(body)} if with_length else {})}
    return json.dumps(header).encode() + b"\n" + body + b"\n"


def envelope(*items: bytes) -> bytes:
    return (
        json.dumps({"event_id": "9ec79c33ec9942ab8353589fcb2e04dc"}).encode()
        + b"\n"
        + b"".join(items)
    )


def test_only_event_items_count_and_their_messages_are_read() -> None:
    body = envelope(
        item("event", {"message": "lab.invocation a"}),
        item("client_report", {"discarded_events": []}),
        item("event", {"logentry": {"message": "lab.cleanup", "params": []}}, with_length=False),
        item("session", {"status": "ok"}, with_length=False),
    )
    assert event_messages("/api/1/envelope/", gzip.compress(body), "gzip") == [
        "lab.invocation a",
        "lab.cleanup",
    ]


def test_a_payload_with_a_length_may_hold_newlines() -> None:
    payload = b'{"message":\n"lab.invocation"}'
    body = envelope(b'{"type":"event","length":%d}\n' % len(payload) + payload)
    _, items = parse_envelope(body)
    assert [(i.type, event_message(i.payload)) for i in items] == [("event", "lab.invocation")]


def test_the_legacy_store_endpoint_takes_one_event_and_other_paths_are_not_sentrys() -> None:
    assert event_messages("/api/7/store/", b'{"logentry": {"formatted": "x"}}') == ["x"]
    assert event_messages("/v1/traces", b"") is None


@pytest.mark.parametrize(
    "body, words",
    [
        (b"not json\n", "envelope header is not JSON"),
        (b"[]\n", "not a JSON object"),
        (b'{}\n{"type":"event","length":50}\n{}', "claims 50 bytes"),
        (b'{}\n{"type":"event","length":-1}\n{}', "has length -1"),
        (b'{}\n{"type":"event"}\n{"message": ', "event payload is not JSON"),
    ],
)
def test_a_malformed_envelope_is_refused_saying_why(body: bytes, words: str) -> None:
    with pytest.raises(ValueError, match=words):
        event_messages("/api/1/envelope/", body)
