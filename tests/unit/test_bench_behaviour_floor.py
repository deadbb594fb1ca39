"""The behaviour floor's pure parts: the warm lifecycle it times, and its table."""

from __future__ import annotations

from bench.behaviour_floor import EVENT_LOG, LIFECYCLE, PARTS, SEALED, table, warm_machine
from lambda_sandbox import lifecycle as lc


def test_the_timed_lifecycle_starts_warm_and_stays_warm() -> None:
    machine = warm_machine()
    assert machine.phase is lc.Phase.READY
    actions = machine.handle(lc.InvokeRequested("r1"), 0)
    assert any(isinstance(a, lc.DeliverInvoke) for a in actions)
    machine.handle(lc.RuntimeResponded("r1"), 0)
    ended = machine.handle(lc.RuntimeNext(), 0)
    assert [a for a in ended if isinstance(a, lc.InvokeEnded)] == [lc.InvokeEnded("r1", "success")]
    assert machine.phase is lc.Phase.READY


def test_the_table_lists_every_part_then_the_sum() -> None:
    figures = {part: 1.5 for part in (*PARTS, SEALED)}
    figures["total"] = 9.0
    lines = table(figures)
    assert len(lines) == len(PARTS) + 2
    assert lines[0].endswith(LIFECYCLE) and lines[1].endswith(EVENT_LOG)
    assert lines[-2].endswith(SEALED)
    assert lines[-1].split()[:2] == ["9.00", "us"]
