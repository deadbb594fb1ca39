"""What an OTLP/HTTP trace export carries: the names of its spans. Pure.

An exporter POSTs an ``ExportTraceServiceRequest`` to ``/v1/traces``
(opentelemetry-proto, ``opentelemetry/proto/collector/trace/v1/trace_service.proto``),
as binary protobuf (``application/x-protobuf``, what the Python OTLP/HTTP
exporter sends) or as OTLP/JSON (``application/json``), optionally gzipped.
Only the path to the spans' names is read:

    ExportTraceServiceRequest.resource_spans = 1  (ResourceSpans, repeated)
    ResourceSpans.scope_spans = 2                 (ScopeSpans, repeated)
    ScopeSpans.spans = 2                          (Span, repeated)
    Span.name = 5                                 (string)

The protobuf reader is the wire format itself (varints and length-delimited
fields, https://protobuf.dev/programming-guides/encoding/): no generated
code, so the harness needs no protobuf package. Anything malformed raises
``ValueError`` saying where.
"""

from __future__ import annotations

import json
import zlib
from typing import Any, Iterator, List, Tuple

RESOURCE_SPANS = 1
SCOPE_SPANS = 2
SPANS = 2
SPAN_NAME = 5

_VARINT, _I64, _LEN, _I32 = 0, 1, 2, 5
MAX_DEPTH = 8  # the path above is 4 deep


def _varint(data: bytes, at: int) -> Tuple[int, int]:
    value = shift = 0
    while True:
        if at >= len(data):
            raise ValueError("protobuf: a varint runs past the end of the message")
        byte = data[at]
        at += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, at
        shift += 7
        if shift > 63:
            raise ValueError("protobuf: a varint longer than 10 bytes")


def fields(data: bytes) -> Iterator[Tuple[int, int, Any]]:
    """(field number, wire type, value) of every field of one message, in order:
    an int for varints and fixed-width fields, bytes for length-delimited ones."""
    at = 0
    while at < len(data):
        key, at = _varint(data, at)
        number, wire = key >> 3, key & 7
        if number == 0:
            raise ValueError("protobuf: field number 0")
        if wire == _VARINT:
            value, at = _varint(data, at)
            yield number, wire, value
        elif wire in (_I64, _I32):
            width = 8 if wire == _I64 else 4
            if at + width > len(data):
                raise ValueError("protobuf: a fixed-width field runs past the end")
            yield number, wire, int.from_bytes(data[at : at + width], "little")
            at += width
        elif wire == _LEN:
            length, at = _varint(data, at)
            if at + length > len(data):
                raise ValueError(
                    f"protobuf: field {number} claims {length} bytes, {len(data) - at} remain"
                )
            yield number, wire, data[at : at + length]
            at += length
        else:
            raise ValueError(f"protobuf: wire type {wire} (groups are not used by OTLP)")


def _embedded(data: bytes, number: int) -> List[bytes]:
    """Every length-delimited field ``number`` of a message (repeated messages)."""
    return [value for n, wire, value in fields(data) if n == number and wire == _LEN]


def span_names_from_protobuf(body: bytes) -> List[str]:
    names: List[str] = []
    for resource in _embedded(body, RESOURCE_SPANS):
        for scope in _embedded(resource, SCOPE_SPANS):
            for span in _embedded(scope, SPANS):
                found = _embedded(span, SPAN_NAME)
                try:
                    names.append(found[-1].decode("utf-8") if found else "")
                except UnicodeDecodeError:
                    raise ValueError("protobuf: a span name is not UTF-8") from None
    return names


def span_names_from_json(body: bytes) -> List[str]:
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):
        raise ValueError("OTLP/JSON: the body is not JSON") from None

    def items(parent: Any, key: str) -> List[Any]:
        value = parent.get(key, []) if isinstance(parent, dict) else None
        if not isinstance(value, list):
            raise ValueError(f"OTLP/JSON: {key} is not a list")
        return value

    return [
        str(span.get("name", "")) if isinstance(span, dict) else ""
        for resource in items(data, "resourceSpans")
        for scope in items(resource, "scopeSpans")
        for span in items(scope, "spans")
    ]


def decompress(body: bytes, encoding: str, limit: int) -> bytes:
    """The body as sent before ``Content-Encoding`` (identity or gzip), at most ``limit`` bytes."""
    encoding = encoding.strip().lower()
    if encoding in ("", "identity"):
        return body
    if encoding == "gzip":
        inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
        try:
            out = inflater.decompress(body, limit + 1)
        except zlib.error as err:
            raise ValueError(f"gzip: {err}") from None
        if len(out) > limit:
            raise ValueError(f"gzip: more than {limit} bytes once inflated")
        return out
    raise ValueError(f"Content-Encoding {encoding!r} (identity or gzip)")


def span_names(
    body: bytes, content_type: str, encoding: str = "", limit: int = 1 << 24
) -> List[str]:
    """The names of the spans in one export request."""
    raw = decompress(body, encoding, limit)
    media = content_type.split(";")[0].strip().lower()
    if media == "application/x-protobuf":
        return span_names_from_protobuf(raw)
    if media == "application/json":
        return span_names_from_json(raw)
    raise ValueError(f"Content-Type {media!r} (application/x-protobuf or application/json)")


__all__ = ["decompress", "fields", "span_names"]
