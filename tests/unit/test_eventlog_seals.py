"""Sealed event logs: every line the sandbox writes carries a chained HMAC, so a
line anyone else appends, alters or removes is reported, never believed."""

from __future__ import annotations

import json
from pathlib import Path
from typing import List

import pytest

from lambda_sandbox.config import ConfigError, load_config
from lambda_sandbox.eventlog import EventLog, Kind, parse_events, verify_seals

KEY = bytes(range(32))


def sealed_log(tmp_path: Path, key: bytes = KEY) -> List[str]:
    log = EventLog(str(tmp_path / "events.jsonl"), key)
    log.write(Kind.SANDBOX_READY, invoke_api="127.0.0.1:1", runtime_api="127.0.0.1:2")
    log.write(Kind.OUTPUT, role="runtime", name="runtime", pid=7, stream="stdout", line="hi")
    log.write(Kind.SANDBOX_EXIT, code=0)
    log.close()
    return (tmp_path / "events.jsonl").read_text().splitlines()


def forged(kind: str = Kind.OUTPUT, line: str = "cleaning up") -> str:
    return json.dumps({"v": 1, "ts": 1.0, "mono": 1.0, "kind": kind, "line": line})


def test_the_sandbox_s_own_lines_verify_and_still_parse_as_events(tmp_path: Path) -> None:
    lines = sealed_log(tmp_path)
    assert verify_seals(lines, KEY) == []
    reading = parse_events(lines)
    assert reading.problems == ()
    assert [e.kind for e in reading.events] == [Kind.SANDBOX_READY, Kind.OUTPUT, Kind.SANDBOX_EXIT]
    assert all(len(e["mac"]) == 64 for e in reading.events)


@pytest.mark.parametrize(
    "tamper, bad_lines",
    [
        (lambda ls: [*ls, forged()], [4]),  # appended, no seal
        (lambda ls: [ls[0], forged(), *ls[1:]], [2]),  # inserted: the chain goes on around it
        (lambda ls: [ls[0], ls[1].replace('"hi"', '"cleaning up"'), ls[2]], [2, 3]),  # altered
        (lambda ls: [ls[0], ls[2]], [2]),  # a line removed: the next one fails
        (lambda ls: [ls[1], ls[0], ls[2]], [1, 3]),  # swapped: both out of place
        (lambda ls: [*ls, ls[1]], [4]),  # a sealed line replayed
    ],
    ids=["appended", "inserted", "altered", "removed", "reordered", "replayed"],
)
def test_a_line_the_sandbox_did_not_write_there_is_reported(
    tmp_path: Path, tamper, bad_lines: List[int]
) -> None:
    problems = verify_seals(tamper(sealed_log(tmp_path)), KEY)
    assert [int(p.split()[3]) for p in problems] == bad_lines, problems


def test_another_key_verifies_nothing(tmp_path: Path) -> None:
    assert len(verify_seals(sealed_log(tmp_path), b"k" * 32)) == 3


def test_without_a_key_nothing_is_checked_and_nothing_is_sealed(tmp_path: Path) -> None:
    log = EventLog(str(tmp_path / "plain.jsonl"))
    log.write(Kind.SANDBOX_EXIT, code=0)
    log.close()
    lines = (tmp_path / "plain.jsonl").read_text().splitlines()
    assert "mac" not in json.loads(lines[0])
    assert parse_events([*lines, forged()]).problems == ()
    assert len(verify_seals(lines, KEY)) == 1  # expected sealed, is not


@pytest.mark.parametrize("raw", ["abc", "zz" * 16, "00" * 15, "00" * 65])
def test_a_malformed_key_is_a_config_error_that_does_not_echo_it(raw: str) -> None:
    with pytest.raises(ConfigError) as err:
        load_config({"LAMBDA_SANDBOX_EVIDENCE_KEY": raw}, cwd=".")
    assert "LAMBDA_SANDBOX_EVIDENCE_KEY" in str(err.value) and raw not in str(err.value)


def test_the_key_is_read_and_kept_out_of_the_config_s_description() -> None:
    config = load_config({"LAMBDA_SANDBOX_EVIDENCE_KEY": KEY.hex()}, cwd=".")
    assert config.evidence_key == KEY
    assert KEY.hex() not in json.dumps(config.describe()) and KEY.hex() not in repr(config)
