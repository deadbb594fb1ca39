"""A header section the loop has parsed once is answered from memory, with exactly
the answer a fresh parse gives; what a parse refuses is refused again; the memory
stays bounded whatever the client sends."""

from __future__ import annotations

import random
from typing import Any, Callable

import pytest

from lambda_sandbox import http_framing, http_request
from lambda_sandbox.http_common import request_framing
from lambda_sandbox.http_sections import MOST_SECTION_BYTES, MOST_SECTIONS, SectionMemo
from tests.support.sections import random_section


def _outcome(parse: Callable[[bytes], Any], section: bytes) -> Any:
    try:
        fields, framing, length = parse(section)
    except http_request.BadRequest as bad:
        return ("refused", bad.status, bad.message)
    except http_framing.BadFraming as bad:
        return ("bad framing", str(bad))
    return sorted(fields._by_name.items()), framing, length


def _fresh(section: bytes) -> Any:
    fields = http_request.parse_fields(section)
    return (fields, *request_framing(fields))


def test_a_section_seen_before_gets_the_answer_of_a_fresh_parse() -> None:
    rng = random.Random(16)
    framed = [
        b"Content-Length: 12\r\n",
        b"Content-Length: 1, 1\r\n",
        b"Content-Length: 1\r\nContent-Length: 2\r\n",
        b"Transfer-Encoding: chunked\r\n",
        b"Transfer-Encoding: gzip\r\n",
        b"Content-Length: -1\r\n",
        b"Content-Length: 3\r\nTransfer-Encoding: chunked\r\n",
    ]
    sections = [random_section(rng) for _ in range(2000)] + framed
    memo = SectionMemo()
    # Each section twice, in a shuffled order: the second time from memory when kept.
    rounds = sections + sections
    rng.shuffle(rounds)
    for section in rounds:
        assert _outcome(memo.parse, section) == _outcome(_fresh, section), section


def test_the_same_bytes_give_the_same_parse_once_made() -> None:
    memo = SectionMemo()
    section = b"Host: 127.0.0.1:9001\r\nContent-Length: 2\r\n"
    first = memo.parse(section)
    assert memo.parse(bytes(section)) is first, "parsed once, then read from memory"
    assert first.fields.get("content-length") == "2" and (first.framing, first.length) == (
        "length",
        2,
    )


def test_a_refused_section_is_not_kept_and_is_refused_each_time() -> None:
    memo = SectionMemo()
    for _ in range(3):
        with pytest.raises(http_request.BadRequest):
            memo.parse(b"Content-Length : 7\r\n")
        with pytest.raises(http_framing.BadFraming):
            memo.parse(b"Content-Length: 1\r\nContent-Length: 2\r\n")
    assert len(memo) == 0


def test_memory_stays_bounded_in_sections_and_in_their_size() -> None:
    memo = SectionMemo()
    for n in range(MOST_SECTIONS * 5):
        memo.parse(b"X-Request: %d\r\n" % n)
        assert len(memo) <= MOST_SECTIONS
    memo = SectionMemo()
    long_section = b"X-Long: " + b"v" * MOST_SECTION_BYTES + b"\r\n"
    assert memo.parse(long_section).fields.get("x-long") == "v" * MOST_SECTION_BYTES
    assert len(memo) == 0, "a long section is parsed each time, never kept"
