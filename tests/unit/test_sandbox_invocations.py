"""An invocation always carries a trace id, in Lambda's format, and a request id that
is a random UUID."""

from __future__ import annotations

import re
import time
import uuid

from lambda_sandbox.invocations import Invocation, new_request_id, new_trace_id, trace_id

TRACE_ID = re.compile(r"Root=1-([0-9a-f]{8})-[0-9a-f]{24};Parent=[0-9a-f]{16};Sampled=0")


def test_trace_id_puts_the_epoch_seconds_in_hex_after_the_version() -> None:
    # 1704164645 s after the epoch is 0x65937d25.
    assert trace_id(1704164645.9, "ab" * 12, "cd" * 8) == (
        "Root=1-65937d25-" + "ab" * 12 + ";Parent=" + "cd" * 8 + ";Sampled=0"
    )


def test_a_new_trace_id_is_lambdas_format_and_now() -> None:
    before = int(time.time())
    match = TRACE_ID.fullmatch(new_trace_id())
    assert match is not None
    assert before <= int(match.group(1), 16) <= int(time.time())


def test_every_invocation_has_its_own_trace_id_unless_given_one() -> None:
    first, second = Invocation("r1", b"{}"), Invocation("r2", b"{}")
    assert TRACE_ID.fullmatch(first.trace_id) and TRACE_ID.fullmatch(second.trace_id)
    assert first.trace_id != second.trace_id
    assert Invocation("r3", b"{}", trace_id="Root=1-given").trace_id == "Root=1-given"


def test_a_request_id_is_a_version_4_uuid_as_uuid4_writes_it() -> None:
    ids = [new_request_id() for _ in range(2000)]
    assert len(set(ids)) == len(ids)
    for request_id in ids:
        parsed = uuid.UUID(request_id)
        assert str(parsed) == request_id
        assert parsed.version == 4 and parsed.variant == uuid.RFC_4122
