"""What a Sentry SDK sends: the items of an envelope, and an event's message. Pure.

sentry-sdk 2.x POSTs envelopes to ``/api/<project>/envelope/``
(https://develop.sentry.dev/sdk/data-model/envelopes/): a JSON header line,
then items, each a JSON item header line and a payload. The payload is
``length`` bytes when the item header has ``length`` (then an optional
newline), else the rest of the line. The body is gzipped unless the SDK was
configured otherwise (``Content-Encoding: gzip``; brotli only when the
``brotli`` package is installed, which the lab's functions do not have).
The legacy ``/api/<project>/store/`` endpoint takes one event as JSON.
Anything malformed raises ``ValueError`` saying where.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, List, Mapping, Optional, Tuple

from harness.probes.otlp_wire import decompress

ENVELOPE_PATH = re.compile(r"^/api/([0-9]+)/envelope/?$")
STORE_PATH = re.compile(r"^/api/([0-9]+)/store/?$")


@dataclass(frozen=True)
class Item:
    type: str
    payload: bytes


def _json_line(text: bytes, what: str) -> Mapping[str, Any]:
    try:
        value = json.loads(text) if text.strip() else {}
    except ValueError:
        raise ValueError(f"envelope: the {what} is not JSON") from None
    if not isinstance(value, dict):
        raise ValueError(f"envelope: the {what} is not a JSON object")
    return value


def parse_envelope(body: bytes) -> Tuple[Mapping[str, Any], List[Item]]:
    """The envelope's header and its items."""
    end = body.find(b"\n")
    header = _json_line(body if end < 0 else body[:end], "envelope header")
    at = len(body) if end < 0 else end + 1
    items: List[Item] = []
    while at < len(body):
        end = body.find(b"\n", at)
        line = body[at:] if end < 0 else body[at:end]
        at = len(body) if end < 0 else end + 1
        if not line.strip():
            continue
        item_header = _json_line(line, f"header of item {len(items) + 1}")
        length = item_header.get("length")
        if length is not None:
            if not isinstance(length, int) or isinstance(length, bool) or length < 0:
                raise ValueError(f"envelope: item {len(items) + 1} has length {length!r}")
            if at + length > len(body):
                raise ValueError(
                    f"envelope: item {len(items) + 1} claims {length} bytes, "
                    f"{len(body) - at} remain"
                )
            payload = body[at : at + length]
            at += length
            if body[at : at + 1] == b"\n":
                at += 1
        else:
            end = body.find(b"\n", at)
            payload = body[at:] if end < 0 else body[at:end]
            at = len(body) if end < 0 else end + 1
        items.append(Item(type=str(item_header.get("type", "")), payload=payload))
    return header, items


def event_message(payload: bytes) -> str:
    """An event's message: ``message``, or ``logentry``'s formatted or raw message."""
    event = _json_line(payload, "event payload")
    message = event.get("message")
    if isinstance(message, str):
        return message
    entry = event.get("logentry")
    if isinstance(entry, dict):
        for key in ("formatted", "message"):
            if isinstance(entry.get(key), str):
                return str(entry[key])
    return ""


def event_messages(
    path: str, body: bytes, encoding: str = "", limit: int = 1 << 24
) -> Optional[List[str]]:
    """The messages of the events one request carries (other items are not events),
    or None when ``path`` is no Sentry ingestion endpoint."""
    if ENVELOPE_PATH.match(path):
        _, items = parse_envelope(decompress(body, encoding, limit))
        return [event_message(item.payload) for item in items if item.type == "event"]
    if STORE_PATH.match(path):
        return [event_message(decompress(body, encoding, limit))]
    return None
