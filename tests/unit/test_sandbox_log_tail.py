"""An invocation's Tail log keeps only what X-Amz-Log-Result needs: its last 4 KB, the
same bytes as the whole log's last 4 KB, whatever was printed."""

from __future__ import annotations

import random

import pytest

from lambda_sandbox.invocations import LogTail


def whole_log_tail(lines: list, limit: int) -> bytes:
    return "".join(line + "\n" for line in lines).encode("utf-8", "replace")[-limit:]


@pytest.mark.parametrize("seed", range(20))
def test_the_tail_is_the_whole_logs_last_bytes(seed: int) -> None:
    rng = random.Random(seed)
    alphabet = "ab\u00e9\u0141\U0001f600 "
    lines = [
        "".join(rng.choice(alphabet) for _ in range(rng.choice([0, 1, 30, 900, 5000])))
        for _ in range(rng.randint(0, 60))
    ]
    tail = LogTail(limit=4096)
    for line in lines:
        tail.append(line)
    assert tail.last_bytes() == whole_log_tail(lines, 4096)


def test_what_it_keeps_stays_bounded() -> None:
    tail = LogTail(limit=4096)
    for n in range(100_000):
        tail.append(f"line {n}")
    tail.append("y" * 10_000_000)
    assert tail._chars <= 2 * 4096 + 2  # never the whole log
    assert tail.last_bytes() == b"y" * 4095 + b"\n"
