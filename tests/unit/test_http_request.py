"""A request's line and header fields: http.server's answers for the request line, its
limits for the header section, and a 400 for every field line RFC 9112 rejects."""

from __future__ import annotations

import pytest

from lambda_sandbox.http_request import (
    BadRequest,
    RequestLine,
    is_section_end,
    parse_field,
    parse_request_line,
)


@pytest.mark.parametrize(
    "raw, want",
    [
        (b"POST /x HTTP/1.1\r\n", RequestLine("POST", "/x", "HTTP/1.1", True)),
        (b"GET /x HTTP/1.0\r\n", RequestLine("GET", "/x", "HTTP/1.0", False)),
        (b"GET /x\r\n", RequestLine("GET", "/x", "HTTP/1.1", False)),  # HTTP/0.9 form
        (
            b"GET //evil.example/x HTTP/1.1\r\n",
            RequestLine("GET", "/evil.example/x", "HTTP/1.1", True),
        ),
    ],
)
def test_a_request_line_gives_command_path_version_and_keep_alive(raw: bytes, want) -> None:
    assert parse_request_line(raw) == want


def test_a_blank_line_is_no_request() -> None:
    assert parse_request_line(b"\r\n") is None


@pytest.mark.parametrize(
    "raw, status, words",
    [
        (b"GARBAGE\r\n", 400, "Bad request syntax"),
        (b"POST / HTTP/3.0\r\n", 505, "Invalid HTTP version (3.0)"),
        (b"POST / HTTP/1\r\n", 400, "Bad request version"),
        (b"POST / HTTP/1.x\r\n", 400, "Bad request version"),
        (b"POST / HTTP/12345678901.1\r\n", 400, "Bad request version"),
        (b"POST / FTP/1.1\r\n", 400, "Bad request version"),
        (b"POST / extra HTTP/1.1\r\n", 400, "Bad request syntax"),
        (b"POST /x\r\n", 400, "Bad HTTP/0.9 request type"),
    ],
)
def test_a_bad_request_line_gets_http_servers_answer(raw: bytes, status: int, words: str) -> None:
    with pytest.raises(BadRequest) as bad:
        parse_request_line(raw)
    assert bad.value.status == status and words in bad.value.message


@pytest.mark.parametrize(
    "line, want",
    [
        (b"Content-Length: 5\r\n", ("Content-Length", "5")),
        (b"X-Empty:\r\n", ("X-Empty", "")),
        (b"X-Spaces: \t a b \t\r\n", ("X-Spaces", "a b")),
        (b"X-Latin: caf\xe9\n", ("X-Latin", "caf\xe9")),
        (b"X-Colons: a:b:c\r\n", ("X-Colons", "a:b:c")),
    ],
)
def test_a_field_is_a_token_a_colon_and_a_trimmed_value(line: bytes, want) -> None:
    assert parse_field(line) == want


@pytest.mark.parametrize(
    "line, words",
    [
        (b"Content-Length : 5\r\n", "not a field name"),  # RFC 9112 5.1: MUST reject
        (b" folded continuation\r\n", "obsolete line folding"),  # RFC 9112 5.2
        (b"\tfolded\r\n", "obsolete line folding"),
        (b"no colon here\r\n", "not a field name"),
        (b": no name\r\n", "not a field name"),
        (b"X(bad): 1\r\n", "not a field name"),
        (b"X-Nul: a\x00b\r\n", "CR or NUL"),
        (b"X-Cr: a\rb\r\n", "CR or NUL"),
    ],
)
def test_a_field_line_rfc_9112_rejects_is_a_400(line: bytes, words: str) -> None:
    with pytest.raises(BadRequest) as bad:
        parse_field(line)
    assert bad.value.status == 400 and words in bad.value.message


def test_the_section_ends_at_an_empty_line_or_the_end_of_the_stream() -> None:
    assert is_section_end(b"\r\n") and is_section_end(b"\n") and is_section_end(b"")
    assert not is_section_end(b"X: 1\r\n")
