"""The OTLP/HTTP receiver's decoding: the names of the spans an export carries, from
protobuf (what the Python exporter sends) or OTLP/JSON, gzipped or not; anything
malformed is refused with where it went wrong."""

from __future__ import annotations

import gzip
import json
from typing import List

import pytest

from harness.probes.otlp_wire import fields, span_names

PROTOBUF = "application/x-protobuf"


def varint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte, n = n & 0x7F, n >> 7
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def field(number: int, payload: bytes) -> bytes:
    return varint(number << 3 | 2) + varint(len(payload)) + payload


def span(name: str) -> bytes:
    # trace_id (1), span_id (2), name (5), kind (6, varint), start time (7, fixed64)
    return (
        field(1, b"\x01" * 16)
        + field(2, b"\x02" * 8)
        + field(5, name.encode())
        + varint(6 << 3) + varint(2)
        + varint(7 << 3 | 1) + (1_700_000_000_000_000_000).to_bytes(8, "little")
    )  # fmt: skip


def request(*resources: List[List[str]]) -> bytes:
    """ExportTraceServiceRequest: resources, each with scopes, each with span names."""
    body = b""
    for scopes in resources:
        resource = field(1, field(1, b"attributes"))  # a Resource, skipped
        for names in scopes:
            scope = field(1, field(1, b"lab.scope")) + b"".join(field(2, span(n)) for n in names)
            resource += field(2, scope)
        body += field(1, resource)
    return body


def test_every_span_name_of_every_resource_and_scope_is_read() -> None:
    body = request([["lab.invocation a", "function"], ["lab.invocation b"]], [["lab.cleanup"]])
    assert span_names(body, PROTOBUF) == ["lab.invocation a", "function", "lab.invocation b", "lab.cleanup"]  # fmt: skip


def test_an_empty_export_has_no_spans() -> None:
    assert span_names(b"", PROTOBUF) == []


def test_gzip_is_undone_and_json_is_read_too() -> None:
    body = request([["lab.invocation"]])
    assert span_names(gzip.compress(body), f"{PROTOBUF}; charset=binary", "gzip") == [
        "lab.invocation"
    ]
    doc = {"resourceSpans": [{"scopeSpans": [{"spans": [{"name": "a"}, {"name": "b"}]}]}]}
    assert span_names(json.dumps(doc).encode(), "application/json") == ["a", "b"]


def test_fields_yield_numbers_wire_types_and_values() -> None:
    assert list(fields(varint(6 << 3) + varint(300) + field(5, b"x"))) == [
        (6, 0, 300),
        (5, 2, b"x"),
    ]


@pytest.mark.parametrize(
    "body, content_type, encoding, words",
    [
        (b"\x0a\x05ab", PROTOBUF, "", "claims 5 bytes, 2 remain"),
        (varint(1 << 3 | 3), PROTOBUF, "", "wire type 3"),
        (b"\x80\x80", PROTOBUF, "", "runs past the end"),
        (b"\x00", PROTOBUF, "", "field number 0"),
        (field(1, field(2, field(2, field(5, b"\xff")))), PROTOBUF, "", "not UTF-8"),
        (b"{", "application/json", "", "not JSON"),
        (b'{"resourceSpans": 3}', "application/json", "", "resourceSpans is not a list"),
        (b"x", "text/plain", "", "Content-Type 'text/plain'"),
        (b"x", PROTOBUF, "br", "Content-Encoding 'br'"),
        (b"not gzip", PROTOBUF, "gzip", "gzip:"),
    ],
)
def test_a_malformed_export_is_refused_saying_why(
    body: bytes, content_type: str, encoding: str, words: str
) -> None:
    with pytest.raises(ValueError, match=words.replace("(", r"\(")):
        span_names(body, content_type, encoding)


def test_a_body_that_inflates_past_the_limit_is_refused() -> None:
    with pytest.raises(ValueError, match="more than 1000 bytes once inflated"):
        span_names(gzip.compress(b"\x00" * 100_000), PROTOBUF, "gzip", limit=1000)
