"""The selector floor's request parsing and answers (pure)."""

from __future__ import annotations

from bench.selector_floor import answer, parse_head, response_id


def test_a_head_gives_method_path_and_content_length_in_any_case() -> None:
    head = b"POST /invoke HTTP/1.1\r\nHost: x\r\ncontent-LENGTH: 12"
    assert parse_head(head) == ("POST", "/invoke", 12)
    assert parse_head(b"GET /next HTTP/1.1\r\nHost: x") == ("GET", "/next", 0)


def test_both_response_paths_name_their_request() -> None:
    assert response_id("/response/7") == "7"
    assert response_id("/2018-06-01/runtime/invocation/abc-1/response") == "abc-1"
    assert response_id("/2018-06-01/runtime/invocation/abc-1/error") is None
    assert response_id("/invoke") is None


def test_an_answer_is_one_piece_with_its_length() -> None:
    assert answer(202, b"") == (
        b"HTTP/1.1 202 Accepted\r\nContent-Type: application/json\r\nContent-Length: 0\r\n\r\n"
    )
    assert answer(200, b"{}", "X: y\r\n").endswith(b"Content-Length: 2\r\nX: y\r\n\r\n{}")
