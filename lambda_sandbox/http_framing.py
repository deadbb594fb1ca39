"""How long a request body is, decided from its headers as RFC 9112 says. Pure.

``framing(headers)`` answers ``("none", 0)``, ``("length", N)`` or
``("chunked", 0)``, or raises ``BadFraming`` for what RFC 9112 says a server
must reject (or that a server in front of another could read differently, the
request smuggling cases): Transfer-Encoding and Content-Length together
(section 6.3 item 3: the message "ought to be handled as an error"), a
transfer coding other than a single ``chunked`` (501 in 6.3 item 4; one
``chunked`` is all this server decodes), Content-Length values that are not
digits or that disagree (6.3 item 5), and chunk sizes that are not 1*HEXDIG
(7.1: no sign, no ``0x``, no ``_``).
"""

from __future__ import annotations

import re
from typing import List, Optional, Sequence, Tuple

_DIGITS = re.compile(r"^[0-9]{1,18}$")
_HEX = re.compile(rb"^[0-9A-Fa-f]{1,15}$")
# The chunk-size line and each trailer line are read with this bound.
LINE_LIMIT = 8192
MAX_TRAILER_LINES = 64


class BadFraming(ValueError):
    """The request's framing must be refused; ``status`` is 400, or 501 for an
    unsupported transfer coding."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


def framing(content_lengths: Sequence[str], transfer_encodings: Sequence[str]) -> Tuple[str, int]:
    """From every Content-Length and Transfer-Encoding field value, in order."""
    codings: List[str] = [
        c.strip().lower() for value in transfer_encodings for c in value.split(",")
    ]
    if transfer_encodings:
        if content_lengths:
            raise BadFraming("Transfer-Encoding together with Content-Length")
        if codings != ["chunked"]:
            raise BadFraming(
                f"Transfer-Encoding {', '.join(transfer_encodings)!r}: only 'chunked' is supported",
                501,
            )
        return ("chunked", 0)
    length = content_length(content_lengths)
    return ("none", 0) if length is None else ("length", length)


def content_length(values: Sequence[str]) -> Optional[int]:
    """The one length all Content-Length values state, None without any."""
    found: Optional[int] = None
    for value in values:
        for item in value.split(","):
            text = item.strip()
            if not _DIGITS.match(text):
                raise BadFraming(f"Content-Length {value!r} is not a number of bytes")
            if found is not None and int(text) != found:
                raise BadFraming(f"Content-Length values disagree: {', '.join(values)}")
            found = int(text)
    return found


def chunk_size(line: bytes) -> int:
    """The size on a chunk-size line (extensions after ';' are ignored)."""
    if not line.endswith(b"\n"):
        raise BadFraming("chunk-size line too long or cut short")
    size = line.rstrip(b"\r\n").split(b";", 1)[0].strip(b" \t")
    if not _HEX.match(size):
        raise BadFraming(f"chunk size {size[:20]!r} is not hexadecimal digits")
    return int(size, 16)


def is_line_end(line: bytes) -> bool:
    return line in (b"\r\n", b"\n")
