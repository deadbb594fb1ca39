"""RFC 9112 message framing, as the sandbox's HTTP servers decide it: a table of headers
and chunk-size lines, and what each must give."""

from __future__ import annotations

import pytest

from lambda_sandbox.http_framing import BadFraming, chunk_size, framing


@pytest.mark.parametrize(
    ("lengths", "encodings", "expected"),
    [
        ([], [], ("none", 0)),
        (["0"], [], ("length", 0)),
        (["12"], [], ("length", 12)),
        (["12", "12"], [], ("length", 12)),  # repeated, same value: one length
        (["12, 12"], [], ("length", 12)),
        ([], ["chunked"], ("chunked", 0)),
        ([], ["Chunked"], ("chunked", 0)),
    ],
)
def test_framing_that_is_read(lengths: list, encodings: list, expected: tuple) -> None:
    assert framing(lengths, encodings) == expected


@pytest.mark.parametrize(
    ("lengths", "encodings", "status", "words"),
    [
        (["5"], ["chunked"], 400, "together with Content-Length"),  # smuggling
        ([], ["gzip"], 501, "only 'chunked'"),
        ([], ["gzip, chunked"], 501, "only 'chunked'"),
        ([], ["chunked", "chunked"], 501, "only 'chunked'"),
        ([], ["identity"], 501, "only 'chunked'"),
        (["2", "3"], [], 400, "disagree"),
        (["2, 3"], [], 400, "disagree"),
        (["+2"], [], 400, "not a number"),
        (["-5"], [], 400, "not a number"),
        (["5_0"], [], 400, "not a number"),
        (["two"], [], 400, "not a number"),
        ([""], [], 400, "not a number"),
        (["9" * 19], [], 400, "not a number"),
    ],
)
def test_framing_that_is_refused(lengths: list, encodings: list, status: int, words: str) -> None:
    with pytest.raises(BadFraming, match=words) as refused:
        framing(lengths, encodings)
    assert refused.value.status == status


@pytest.mark.parametrize(
    ("line", "size"),
    [(b"0\r\n", 0), (b"1a\r\n", 26), (b"FF\n", 255), (b"2;name=value\r\n", 2), (b"2 \r\n", 2)],
)
def test_chunk_sizes_that_are_read(line: bytes, size: int) -> None:
    assert chunk_size(line) == size


@pytest.mark.parametrize(
    "line",
    [b"-1\r\n", b"-2\r\n", b"0x2\r\n", b"+2\r\n", b"1_0\r\n", b"zz\r\n", b"\r\n", b"2",
     b"f" * 16 + b"\r\n"],
)  # fmt: skip
def test_chunk_sizes_that_are_refused(line: bytes) -> None:
    with pytest.raises(BadFraming):
        chunk_size(line)
