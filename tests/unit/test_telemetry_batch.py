"""A subscriber's buffer: a batch is due by count, by size or by age, and memory stays
bounded while the listener is away (the oldest go, and are counted)."""

from __future__ import annotations

from lambda_sandbox.telemetry_batch import Batcher
from lambda_sandbox.telemetry_subscription import Buffering


def test_a_batch_is_due_when_its_first_event_is_timeout_old() -> None:
    b = Batcher(Buffering(max_items=1000, max_bytes=262144, timeout_ms=100))
    b.add(b"x", now_ms=1000)
    b.add(b"y", now_ms=1050)
    assert not b.ready(1099) and b.due_at() == 1100 and b.ready(1100)
    assert b.take(1100) == [b"x", b"y"] and len(b) == 0 and b.due_at() is None


def test_a_batch_is_due_at_max_items_and_holds_no_more() -> None:
    b = Batcher(Buffering(max_items=1000, max_bytes=1048576, timeout_ms=30000))
    for n in range(1500):
        b.add(b"%d" % n, now_ms=0)
    assert b.ready(0)
    assert len(b.take(5)) == 1000 and len(b) == 500
    assert b.due_at() == 5 + 30000, "what stays behind is timed from the take"


def test_a_batch_is_due_at_max_bytes_and_may_pass_it_by_its_last_event() -> None:
    b = Batcher(Buffering(max_items=10000, max_bytes=262144, timeout_ms=30000))
    for _ in range(3):
        b.add(b"x" * 100000, now_ms=0)
    assert b.ready(0)
    assert [len(i) for i in b.take(0)] == [100000, 100000, 100000]


def test_memory_is_bounded_the_oldest_are_dropped_and_counted() -> None:
    b = Batcher(Buffering(max_items=10000, max_bytes=262144, timeout_ms=30000), limit_bytes=1000)
    for n in range(30):
        b.add(b"%02d" % n + b"." * 98, now_ms=0)  # 100 bytes each
    assert b.size <= 1000 and len(b) == 10
    assert b.take(0)[0].startswith(b"20")
    assert b.take_dropped() == (20, 2000) and b.take_dropped() == (0, 0)


def test_an_event_larger_than_the_bound_is_dropped_alone() -> None:
    b = Batcher(Buffering(), limit_bytes=10)
    b.add(b"small", 0)
    b.add(b"x" * 11, 0)
    assert len(b) == 1 and b.take_dropped() == (1, 11)
