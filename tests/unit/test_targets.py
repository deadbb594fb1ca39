"""Deployment targets as data (targets.toml), and the headline built from their cells."""

from __future__ import annotations

import dataclasses

import pytest
from support.factories import result

from harness.model.targets import TargetError, load_targets, parse_targets, select
from harness.report.headline import COLUMNS, headline_rows

GOOD = """
[[target]]
name = "python3.12"
kind = "managed runtime"
python = "3.12"
client = "awslambdaric"
client_version = "4.2.2"
execution_env = "AWS_Lambda_python3.12"
start = "managed"
sources = ["FACTS.md"]

[[target]]
name = "base image python:3.12"
kind = "AWS base image"
same_as = "python3.12"
sources = ["FACTS.md"]
"""


def test_every_target_names_its_sources_and_the_base_images_follow_a_managed_runtime() -> None:
    targets = load_targets()
    assert all(t.sources for t in targets)
    by_name = {t.name: t for t in targets}
    for t in targets:
        if t.same_as is not None:
            assert by_name[t.same_as].kind == "managed runtime", t.name
    managed = [t for t in targets if t.kind == "managed runtime"]
    assert [t.python for t in managed] == [f"3.{n}" for n in range(7, 16)]
    assert all(t.execution_env == f"AWS_Lambda_python{t.python}" for t in managed)
    customs = [t for t in targets if t.kind.startswith("custom image")]
    assert {t.execution_env for t in customs} == {"AWS_Lambda_Image", None}, "both rows"


def test_a_target_with_cells_and_one_that_borrows_them() -> None:
    managed, base = parse_targets(GOOD, "t.toml")
    assert managed.has_cells and not base.has_cells
    assert managed.slug == "python3.12" and base.slug == "base_image_python_3.12"
    assert select(("all",), (managed, base)) == [managed]
    with pytest.raises(TargetError, match="no target with cells named"):
        select(("base image python:3.12",), (managed, base))


@pytest.mark.parametrize(
    ("change", "error"),
    [
        (('start = "managed"', 'start = "lazy"'), "key 'start'"),
        (('client = "awslambdaric"', 'client = "boto"'), "key 'client'"),
        (('client_version = "4.2.2"\n', ""), "awslambdaric needs its version"),
        (('sources = ["FACTS.md"]\n\n[[target]]', "\n[[target]]"), "key 'sources'"),
        (('same_as = "python3.12"', 'same_as = "python3.99"'), "same_as names no target"),
        (('python = "3.12"', 'python = "3"'), "expected 3.N"),
        (('kind = "managed runtime"', 'kind = "managed runtime"\nflavour = 1'), "unknown keys"),
    ],
)
def test_a_mistake_names_the_target_and_the_key(change: tuple, error: str) -> None:
    with pytest.raises(TargetError, match=error):
        parse_targets(GOOD.replace(*change, 1), "t.toml")


def test_the_headline_answers_per_target_and_lends_evidence_to_same_as() -> None:
    managed, base = parse_targets(GOOD, "t.toml")
    cells = [
        dataclasses.replace(
            result("3.12"),
            id=f"{strategy}-{extension}",
            target="python3.12",
            strategy=strategy,
            extension=extension,
            observed_cleanup=strategy == "wakeup-fd",
            expected_cleanup=strategy == "wakeup-fd",
            event_log=f"cells/process/{strategy}-{extension}/events.jsonl",
        )
        for strategy, extension, _ in COLUMNS
    ]
    rows = headline_rows(cells, (managed, base))
    assert [r.target.name for r in rows] == ["python3.12", "base image python:3.12"]
    assert [a.word for a in rows[0].answers] == ["lost", "lost", "runs", "runs"]
    assert all(a.agrees for a in rows[0].answers)
    assert rows[1].answers == rows[0].answers and rows[1].shown_as == "python3.12"
    assert rows[0].answers[0].evidence == ("cells/process/signal-internal/events.jsonl",)
    docker = dataclasses.replace(cells[0], backend="docker", observed_cleanup=True)
    assert headline_rows([*cells, docker], (managed,))[0].answers[0].word == "differs"
    assert headline_rows([result("3.12")], (managed,)) == [], "no target: no headline"
