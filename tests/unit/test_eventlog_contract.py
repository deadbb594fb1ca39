"""The event log is one contract with one home (lambda_sandbox/eventlog.py): the README's
table says the same, every reader goes through its parser, and the judge and the
timeline each decide about every kind."""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path
from typing import Any, Dict, FrozenSet, List, Mapping, Tuple

import pytest

from harness.evidence import judge, timeline
from harness.paths import PROJECT_ROOT
from lambda_sandbox.eventlog import (
    ALL_KINDS,
    COMMON_FIELDS,
    KIND_FIELDS,
    SCHEMA_VERSION,
    Event,
    Kind,
    encode,
    parse_events,
    parse_line,
)

ROW = re.compile(r"^\| `([a-z][a-z._]*)` \|([^|]*)\|.*\|$")


def readme_kinds(text: str) -> Dict[str, Tuple[str, ...]]:
    """kind -> its extra keys, from the README's table of kinds (a row per kind)."""
    section = text.split("### The event log", 1)[1].split("\n## ", 1)[0]
    table: Dict[str, Tuple[str, ...]] = {}
    for line in section.splitlines():
        match = ROW.match(line.strip())
        if match is None or match.group(1) in COMMON_FIELDS:
            continue
        # Keys are the backticked names outside parentheses (those list values).
        keys = re.sub(r"\([^)]*\)", "", match.group(2))
        table[match.group(1)] = tuple(re.findall(r"`([a-z_]+)`", keys))
    return table


def test_the_readme_documents_every_kind_with_its_keys() -> None:
    documented = readme_kinds((PROJECT_ROOT / "README.md").read_text(encoding="utf-8"))
    assert set(documented) == set(KIND_FIELDS), "kinds in one and not the other"
    differ = {k: (documented[k], v) for k, v in KIND_FIELDS.items() if set(documented[k]) != set(v)}
    assert differ == {}


def test_the_readme_table_parser_reads_keys_and_only_keys() -> None:
    text = (
        "### The event log\n| kind | extra keys | written when |\n|---|---|---|\n"
        "| `shutdown.start` | `reason` (`spindown`, `timeout`), `rule` | the phase begins |\n"
        "| `init.start` | | init begins |\n"
        "\n## Next\n| `invoke.end` | `status` | not in the section |\n"
    )
    assert readme_kinds(text) == {"shutdown.start": ("reason", "rule"), "init.start": ()}


@pytest.mark.parametrize(
    ("handlers", "ignored"),
    [(judge.HANDLERS, judge.IGNORED), (timeline.HANDLERS, timeline.IGNORED)],
    ids=["judge", "timeline"],
)
def test_each_reader_decides_about_every_kind(
    handlers: Mapping[str, object], ignored: FrozenSet[str]
) -> None:
    # A new kind must be either handled or knowingly ignored by each reader.
    assert set(handlers) | set(ignored) == set(ALL_KINDS)
    assert not set(handlers) & set(ignored)


def test_what_the_writer_encodes_the_reader_parses() -> None:
    line = encode(Kind.SIGNAL_SENT, {"signal": "SIGTERM", "pid": 7}, ts=1.5, mono=2.5)
    event = parse_line(4, line)
    assert isinstance(event, Event)
    assert (event.n, event.kind, event.mono) == (4, "signal.sent", 2.5)
    assert event["signal"] == "SIGTERM" and event.get("missing") is None
    assert json.loads(line)["v"] == SCHEMA_VERSION


@pytest.mark.parametrize(
    "fields",
    [
        {},
        {"signal": "SIGTERM", "pid": 7, "ratio": 0.1, "names": ["a", "b"], "none": None},
        {"line": 'caf\u00e9 "quoted" \n', "at": Path("/x")},  # default=str
        {"ts": "a field that clashes with a leading one"},
        {"nested": {"a": [1.5, float("inf"), -0.0, True], "b": {"c": None}}, "big": 10**20},
    ],
)
def test_a_line_is_the_whole_record_encoded_at_once(fields: Dict[str, Any]) -> None:
    for ts, mono in ((1796013867.2993786, 35804.964237195), (0.0, 1e-07), (float("nan"), 1.0)):
        record = {"v": SCHEMA_VERSION, "ts": ts, "mono": mono, "kind": Kind.OUTPUT, **fields}
        assert encode(Kind.OUTPUT, fields, ts=ts, mono=mono) == json.dumps(record, default=str)


def test_the_reader_names_each_line_it_cannot_use() -> None:
    good = encode(Kind.INIT_START, {}, ts=0.0, mono=1.0)
    reading = parse_events(
        [good, "", '{"v": 1, "kind": "x"', '{"v": 1, "mono": 1}', good.replace('"v": 1', '"v": 9')]
    )
    assert [e.n for e in reading.events] == [0, 4], "a foreign version is still read"
    assert reading.problems == (
        'event log line 3 is not JSON: \'{"v": 1, "kind": "x"\'',
        "event log line 4 lacks 'kind' or 'mono'",
        "event log line 5 has schema version 9",
    )


def kind_literals(source: str) -> List[int]:
    """Lines where a dotted kind name is written as a string literal."""
    dotted = {k for k in ALL_KINDS if "." in k}
    return sorted(
        node.lineno
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.Constant) and node.value in dotted
    )


def test_harness_and_benchmarks_name_kinds_through_the_contract() -> None:
    assert kind_literals('x = "shutdown.start"\ny = Kind.SHUTDOWN_START\n') == [1]
    offences = {}
    for package in ("harness", "bench"):
        for path in sorted((PROJECT_ROOT / package).rglob("*.py")):
            found = kind_literals(path.read_text(encoding="utf-8"))
            if found:
                offences[str(path.relative_to(PROJECT_ROOT))] = found
    assert offences == {}, "use lambda_sandbox.eventlog.Kind"
