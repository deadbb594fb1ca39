"""The Event spool's file: what one stop writes, one start takes, whole."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from lambda_sandbox.config import ConfigError, load_config
from lambda_sandbox.invocations import Invocation
from lambda_sandbox.spool import Spooled, decode, encode, save, take


def spooled(n: int, retries: int = 0) -> Spooled:
    invocation = Invocation(
        request_id=f"id-{n}",
        payload=b'{"n": %d, "bytes": "\\u00e9"}' % n,
        client_context='{"custom": {"k": "v"}}' if n % 2 else None,
        trace_id=f"Root=1-00000000-{n:024x};Sampled=0",
    )
    return Spooled(invocation, retries)


def test_an_entry_comes_back_as_it_went_in() -> None:
    item = spooled(1, retries=2)
    back = decode(encode(item))
    assert isinstance(back, Spooled)
    assert back.retries_made == 2
    for name in ("request_id", "payload", "client_context", "cognito_identity", "trace_id"):
        assert getattr(back.invocation, name) == getattr(item.invocation, name), name


@pytest.mark.parametrize(
    "line, problem",
    [
        ("not json", "unreadable"),
        ("[1]", "not a spool entry"),
        ('{"v": 2}', "not a spool entry"),
        ('{"v": 1, "request_id": "x"}', "unreadable"),
        (
            '{"v": 1, "request_id": "x", "payload": "***", "client_context": null,'
            ' "cognito_identity": null, "trace_id": "t", "retries_made": 0}',
            "unreadable",
        ),
        (
            '{"v": 1, "request_id": "x", "payload": "", "client_context": 5,'
            ' "cognito_identity": null, "trace_id": "t", "retries_made": 0}',
            "not text",
        ),
        (
            '{"v": 1, "request_id": "x", "payload": "", "client_context": null,'
            ' "cognito_identity": null, "trace_id": "t", "retries_made": -1}',
            "negative",
        ),
    ],
)
def test_a_bad_line_is_named_not_raised(line: str, problem: str) -> None:
    result = decode(line)
    assert isinstance(result, str) and problem in result


def test_save_then_take_gives_every_entry_once_and_removes_the_file(tmp_path: Path) -> None:
    path = str(tmp_path / "spool.jsonl")
    save(path, [spooled(1), spooled(2, retries=1)])
    assert oct(os.stat(path).st_mode & 0o777) == "0o600"
    with open(path, "a") as f:
        f.write("garbage\n")
    items, problems = take(path)
    assert [i.invocation.request_id for i in items] == ["id-1", "id-2"]
    assert [i.retries_made for i in items] == [0, 1]
    assert len(problems) == 1 and "line 3" in problems[0]
    assert sorted(os.listdir(tmp_path)) == []
    assert take(path) == ([], [])


def test_nothing_to_save_leaves_no_file(tmp_path: Path) -> None:
    save(str(tmp_path / "spool.jsonl"), [])
    assert os.listdir(tmp_path) == []


def test_the_spool_sits_beside_the_event_log_unless_set_or_none(tmp_path: Path) -> None:
    log = str(tmp_path / "events.jsonl")
    assert load_config({"LAMBDA_SANDBOX_EVENT_LOG": log}, cwd=".").event_spool == str(
        tmp_path / "event-spool.jsonl"
    )
    assert load_config({}, cwd=".").event_spool is None
    assert (
        load_config(
            {"LAMBDA_SANDBOX_EVENT_LOG": log, "LAMBDA_SANDBOX_EVENT_SPOOL": "none"}, cwd="."
        ).event_spool
        is None
    )
    with pytest.raises(ConfigError, match="LAMBDA_SANDBOX_EVENT_SPOOL"):
        load_config({"LAMBDA_SANDBOX_EVENT_SPOOL": str(tmp_path / "no" / "spool")}, cwd=".")
