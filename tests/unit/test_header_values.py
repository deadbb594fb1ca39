"""Invoker-supplied values that become Runtime API headers: what passes, re-encoded, and
what is refused."""

from __future__ import annotations

import base64

import pytest

from lambda_sandbox.header_values import (
    client_context_header,
    safe_header_value,
    trace_id_header,
)


def b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


@pytest.mark.parametrize(
    ("raw", "header"),
    [
        (b'{"custom": {"a": 1}}', '{"custom":{"a":1}}'),
        (b'{"custom":\r\n {"a": 1}}', '{"custom":{"a":1}}'),  # CR/LF between tokens
        ('{"custom": {"name": "\u0141ukasz"}}'.encode(), '{"custom":{"name":"\\u0141ukasz"}}'),
        ('{"e": "\U0001f600"}'.encode(), '{"e":"\\ud83d\\ude00"}'),
    ],
)
def test_a_client_context_reaches_the_runtime_on_one_ascii_line(raw: bytes, header: str) -> None:
    value = client_context_header(b64(raw))
    assert value == header and safe_header_value(value) and value.isascii()


@pytest.mark.parametrize(
    "raw", ["%%%", b64(b"not json"), b64(b"[1, 2]"), b64(b'"text"'), b64(b"\xff\xfe"),
            b64(b"[" * 100_000 + b"]" * 100_000)],
)  # fmt: skip
def test_a_client_context_that_is_not_base64_json_of_an_object_is_refused(raw: str) -> None:
    with pytest.raises(ValueError, match="valid Base64-encoded JSON object"):
        client_context_header(raw)


@pytest.mark.parametrize(
    ("value", "passed_on"),
    [
        ("Root=1-5f35ae12-0c0fec141ab77a00bc047aa2;Parent=2be948a625588e32;Sampled=0", True),
        ("  Root=1-abc;Sampled=1 ", True),  # trimmed
        ("Root=1;\r\nLambda-Runtime-Aws-Request-Id: forged", False),
        ("Root=1;\nX: y", False),
        ("Root=1 Sampled=1", False),  # a space
        ("Root=\u0141", False),
        ("", False),
        ("x" * 513, False),
    ],
)
def test_a_trace_id_is_passed_on_only_if_it_can_be_a_header(value: str, passed_on: bool) -> None:
    assert (trace_id_header(value) is not None) is passed_on


@pytest.mark.parametrize(
    ("value", "safe"), [("ok", True), ("a\r\nb", False), ("a\nb", False), ("nul\0", False),
                        ("caf\u00e9", True), ("\u0141", False)],
)  # fmt: skip
def test_only_values_one_header_line_can_carry_are_written(value: str, safe: bool) -> None:
    assert safe_header_value(value) is safe
