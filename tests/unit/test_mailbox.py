"""A mailbox hands each item to one waiter, wakes every waiter when closed, and lets a
waiter whose caller went away give up."""

from __future__ import annotations

import threading
from typing import List

from lambda_sandbox.mailbox import ABANDONED, CLOSED, Mailbox


def waiters(box: Mailbox[int], count: int, got: List[object]) -> List[threading.Thread]:
    threads = [
        threading.Thread(target=lambda: got.append(box.get(poll_s=0.01))) for _ in range(count)
    ]
    for t in threads:
        t.start()
    return threads


def test_an_item_goes_to_one_waiter() -> None:
    box: Mailbox[int] = Mailbox()
    box.put(7)
    assert box.get() == 7


def test_close_wakes_every_waiter_not_one() -> None:
    box: Mailbox[int] = Mailbox()
    got: List[object] = []
    threads = waiters(box, 4, got)
    while box.waiting < 4:
        threading.Event().wait(0.005)
    box.close()
    for t in threads:
        t.join(timeout=2)
    assert got == [CLOSED] * 4 and box.waiting == 0


def test_nothing_is_delivered_after_close() -> None:
    box: Mailbox[int] = Mailbox()
    box.put(1)
    box.close()
    box.put(2)
    assert box.get() is CLOSED


def test_a_waiter_whose_caller_went_away_gives_up() -> None:
    box: Mailbox[int] = Mailbox()
    asked = []

    def gone() -> bool:
        asked.append(1)
        return len(asked) >= 3

    assert box.get(gone, poll_s=0.001) is ABANDONED
    assert box.waiting == 0


def test_an_item_wins_over_a_caller_that_just_went_away() -> None:
    box: Mailbox[int] = Mailbox()
    box.put(5)
    assert box.get(lambda: True, poll_s=0.001) == 5


# -- waiting without blocking (the HTTP loop's next) -------------------------------


def test_a_later_waiter_gets_an_item_already_there_at_once() -> None:
    box: Mailbox[int] = Mailbox()
    box.put(3)
    got: List[object] = []
    box.get_later(got.append)
    assert got == [3] and box.waiting == 0


def test_later_waiters_are_served_in_order_as_items_come() -> None:
    box: Mailbox[int] = Mailbox()
    got: List[object] = []
    box.get_later(lambda item: got.append(("first", item)))
    box.get_later(lambda item: got.append(("second", item)))
    assert got == [] and box.waiting == 2
    box.put(1)
    box.put(2)
    box.put(3)  # nobody waits for this one: it stays for the next get
    assert got == [("first", 1), ("second", 2)] and box.waiting == 0
    assert box.get() == 3


def test_close_answers_every_later_waiter_with_closed() -> None:
    box: Mailbox[int] = Mailbox()
    got: List[object] = []
    for _ in range(3):
        box.get_later(got.append)
    box.close()
    assert got == [CLOSED] * 3 and box.waiting == 0
    box.get_later(got.append)
    assert got[-1] is CLOSED


def test_a_cancelled_later_waiter_gets_nothing() -> None:
    box: Mailbox[int] = Mailbox()
    got: List[object] = []
    token = box.get_later(lambda item: got.append(("gone", item)))
    box.get_later(lambda item: got.append(("kept", item)))
    assert box.cancel(token) is True
    assert box.cancel(token) is False  # already taken back
    box.put(9)
    assert got == [("kept", 9)] and box.waiting == 0
