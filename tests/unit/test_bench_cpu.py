"""The CPU figures the benchmarks report: /proc/stat's cpu line, and the busy share."""

from __future__ import annotations

import pytest

from bench.common import busy_fraction, parse_cpu_line


def test_the_cpu_line_gives_all_ticks_and_idle_with_iowait() -> None:
    # user nice system idle iowait irq softirq steal guest guest_nice
    assert parse_cpu_line("cpu  100 5 50 800 40 1 2 2 0 0\n") == (1000, 840)


def test_an_old_kernels_four_field_line_still_reads() -> None:
    assert parse_cpu_line("cpu 10 0 10 80") == (100, 80)


@pytest.mark.parametrize("line", ["cpu0 1 2 3 4 5", "intr 1 2 3 4", "cpu 1 2"])
def test_anything_but_the_summed_cpu_line_is_refused(line: str) -> None:
    with pytest.raises(ValueError, match="cpu line"):
        parse_cpu_line(line)


def test_busy_is_the_share_of_ticks_that_were_not_idle() -> None:
    assert busy_fraction((1000, 800), (2000, 1050)) == 0.75
    assert busy_fraction((1000, 800), (2000, 1800)) == 0.0
    assert busy_fraction((1000, 800), (2000, 800)) == 1.0


def test_no_ticks_between_readings_is_not_busy() -> None:
    assert busy_fraction((1000, 800), (1000, 800)) == 0.0
