"""A request's line and header fields: http.server's answers for the request line, its
limits for the header section, and a 400 for every field line RFC 9112 rejects."""

from __future__ import annotations

import pytest

from lambda_sandbox.http_request import (
    MAX_FIELDS,
    BadRequest,
    Fields,
    RequestLine,
    keeps_alive,
    parse_field,
    parse_fields,
    parse_request_line,
    parse_request_line_in_full,
)
from tests.support.sections import random_section


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


@pytest.mark.parametrize(
    "raw",
    [
        b"POST /2015-03-31/functions/function/invocations HTTP/1.1\r\n",
        b"GET /2018-06-01/runtime/invocation/next HTTP/1.1\n",
        b"GET /x HTTP/1.1",
        b"GET //evil.example/x HTTP/1.1\r\n",  # left to the full parse
        b"GET /x\tHTTP/1.1\r\n",
        b"GET /x  HTTP/1.1\r\n",
        b"GET /x HTTP/1.1\r\r\n",
        b"G(T /x HTTP/1.1\r\n",
        b"GET /caf\xe9 HTTP/1.1\r\n",
        b"GET /x\x1c HTTP/1.1\r\n",
        b"GET /x HTTP/1.0\r\n",
    ],
)
def test_the_shortcut_for_the_usual_line_answers_as_the_full_parse(raw: bytes) -> None:
    def outcome(parse):  # type: ignore[no-untyped-def]
        try:
            return parse(raw)
        except BadRequest as bad:
            return (bad.status, bad.message)

    assert outcome(parse_request_line) == outcome(parse_request_line_in_full)


def test_fields_are_found_whatever_the_case_and_keep_every_value() -> None:
    fields = parse_fields(b"Content-Length: 5\r\nX-A: 1\r\nx-a: 2\r\n")
    assert fields.get("content-length") == "5"
    assert fields.get("X-A") == "1" and fields.get_all("X-A") == ["1", "2"]
    assert fields.get("Missing") is None and fields.get("Missing", "") == ""
    assert fields.get_all("Missing") is None
    assert "CONTENT-LENGTH" in fields and "Missing" not in fields and len(fields) == 3
    assert len(Fields()) == 0 and len(parse_fields(b"")) == 0


def test_a_last_field_cut_off_by_the_end_of_the_stream_still_counts() -> None:
    assert parse_fields(b"A: 1\r\nB: 2").get("B") == "2"


def test_more_fields_than_the_limit_is_a_431() -> None:
    section = b"".join(b"X-%d: v\r\n" % i for i in range(MAX_FIELDS + 1))
    with pytest.raises(BadRequest) as bad:
        parse_fields(section)
    assert bad.value.status == 431
    assert len(parse_fields(section.split(b"\n", 1)[1])) == MAX_FIELDS


def test_a_bad_field_line_in_a_section_is_a_400() -> None:
    with pytest.raises(BadRequest) as bad:
        parse_fields(b"A: 1\r\nContent-Length : 7\r\n")
    assert bad.value.status == 400


def _outcome(parse, section: bytes):  # type: ignore[no-untyped-def]
    try:
        fields = parse(section)
    except BadRequest as bad:
        return ("refused", bad.status, bad.message)
    return sorted(fields._by_name.items())


def test_the_two_search_parse_of_a_section_answers_as_the_line_by_line_parse() -> None:
    import random

    from lambda_sandbox.http_request import _FIELD_LINE, _parse_fields_line_by_line

    rng = random.Random(16)
    sections = [
        b"Host: x\r\nContent-Length: 2\r\n",
        b"A:1\nB:  2 \t\r\n",
        b"A: 1\r\n B: folded\r\n",
        b"A: 1\r\r\n",
        b"A: x\x00y\r\n",
        b"".join(b"X-%d: v\r\n" % i for i in range(MAX_FIELDS + 1)),
        b"A: " + b"v" * 70000 + b"\r\n",
    ]
    sections += [random_section(rng) for _ in range(5000)]
    # Both kinds are many: the two searches take these, the line-by-line parse those.
    taken = sum(
        section.endswith(b"\n") and len(_FIELD_LINE.findall(section)) == section.count(b"\n")
        for section in sections
    )
    assert 500 < taken < len(sections) - 500
    for section in sections:
        assert _outcome(parse_fields, section) == _outcome(
            lambda s: _parse_fields_line_by_line(s, Fields()), section
        ), section


@pytest.mark.parametrize(
    "raw, connection, kept",
    [
        (b"GET /x HTTP/1.1\r\n", None, True),
        (b"GET /x HTTP/1.1\r\n", "close", False),
        (b"GET /x HTTP/1.1\r\n", "Close", False),
        (b"GET /x HTTP/1.0\r\n", None, False),
        (b"GET /x HTTP/1.0\r\n", "keep-alive", True),
        (b"GET /x HTTP/1.1\r\n", "upgrade", True),
    ],
)
def test_the_connection_stays_open_by_version_unless_the_connection_field_says(
    raw: bytes, connection, kept: bool
) -> None:  # type: ignore[no-untyped-def]
    line = parse_request_line(raw)
    assert line is not None
    section = b"" if connection is None else b"Connection: " + connection.encode() + b"\r\n"
    assert keeps_alive(line, parse_fields(section)) is kept
