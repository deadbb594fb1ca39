"""Header sections already parsed, by their bytes (issue 16).

A client sends the same header section again and again: a runtime's ``next``
is the same bytes each time, an SDK's invoke too while its payload keeps its
size. ``SectionMemo`` keeps what ``http_request.parse_fields`` and
``request_framing`` made of a section it has seen, so the loop parses it once.
The parse is a pure function of the bytes, so a section read from the memo
gets exactly the answer a fresh parse would; a section either refuses is not
kept (it raises again, the same way). The memo is bounded in entries and in
the size of a section it keeps: many distinct sections (a hostile client, or
responses whose Content-Length keeps changing) only empty it now and then.
Loop thread only: no lock. Standard library only, CPython 3.7+.
"""

from __future__ import annotations

from typing import Dict, NamedTuple

from lambda_sandbox import http_request
from lambda_sandbox.http_common import request_framing

# At most this many sections are kept; the memo is emptied when it is full.
MOST_SECTIONS = 64
# A longer section is parsed each time (a usual one is 100 to 300 bytes).
MOST_SECTION_BYTES = 2048


class ParsedSection(NamedTuple):
    fields: http_request.Fields  # shared by every request that sent these bytes: read only
    framing: str  # request_framing's kind: "length", "chunked" or "none"
    length: int  # the body's, for "length"


class SectionMemo:
    def __init__(self) -> None:
        self._parsed: Dict[bytes, ParsedSection] = {}

    def __len__(self) -> int:
        return len(self._parsed)

    def parse(self, section: bytes) -> ParsedSection:
        """``section``'s fields and body framing. BadRequest (``parse_fields``) or
        BadFraming (``request_framing``) as a fresh parse raises them."""
        known = self._parsed.get(section)
        if known is not None:
            return known
        fields = http_request.parse_fields(section)
        framing, length = request_framing(fields)
        parsed = ParsedSection(fields, framing, length)
        if len(section) <= MOST_SECTION_BYTES:
            if len(self._parsed) >= MOST_SECTIONS:
                self._parsed.clear()
            self._parsed[section] = parsed
        return parsed
