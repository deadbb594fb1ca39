"""The sandbox's timer thread: timers fire in order of their time, and a cancelled
one leaves the heap and never fires."""

from __future__ import annotations

import threading
import time
from typing import List

from lambda_sandbox.timers import TimerWheel


def test_timers_fire_in_the_order_of_their_time() -> None:
    wheel = TimerWheel()
    fired: List[str] = []
    done = threading.Event()
    wheel.call_later(0.06, lambda: (fired.append("late"), done.set()))
    wheel.call_later(0.02, lambda: fired.append("early"))
    assert done.wait(2)
    assert fired == ["early", "late"] and len(wheel) == 0


def test_a_cancelled_timer_never_fires_and_leaves_the_heap() -> None:
    wheel = TimerWheel()
    fired: List[str] = []
    done = threading.Event()
    stale = wheel.call_later(0.02, lambda: fired.append("stale"))
    wheel.call_later(0.08, lambda: (fired.append("kept"), done.set()))
    wheel.cancel(stale)
    assert len(wheel) == 1
    assert done.wait(2)
    assert fired == ["kept"]


def test_cancelling_a_timer_that_fired_does_nothing() -> None:
    wheel = TimerWheel()
    done = threading.Event()
    timer = wheel.call_later(0.0, done.set)
    assert done.wait(2)
    wheel.cancel(timer)
    wheel.cancel(timer)
    assert len(wheel) == 0


def test_a_timer_due_before_the_thread_would_wake_wakes_it() -> None:
    wheel = TimerWheel()
    wheel.call_later(60.0, lambda: None)
    threading.Event().wait(0.05)  # the thread now sleeps until the 60 s timer
    done = threading.Event()
    started = time.monotonic()
    wheel.call_later(0.02, done.set)
    assert done.wait(2) and time.monotonic() - started < 1.0
