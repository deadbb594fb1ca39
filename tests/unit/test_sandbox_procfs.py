"""Peak memory for REPORT lines, parsed from a /proc/<pid>/status text."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from lambda_sandbox.procfs import max_memory_used_mb, read_max_memory_used_mb, vm_hwm_kb

STATUS = """\
Name:\tpython3
State:\tS (sleeping)
Pid:\t4242
VmPeak:\t   30000 kB
VmHWM:\t   20480 kB
VmRSS:\t   19000 kB
Threads:\t2
"""

ZOMBIE_STATUS = "Name:\tpython3\nState:\tZ (zombie)\nPid:\t4242\nThreads:\t1\n"


def test_vm_hwm_is_read_in_kb() -> None:
    assert vm_hwm_kb(STATUS) == 20480


def test_a_status_without_vm_hwm_has_none() -> None:
    assert vm_hwm_kb(ZOMBIE_STATUS) is None
    assert vm_hwm_kb("") is None


@pytest.mark.parametrize("line", ["VmHWM:", "VmHWM:\tlots kB"])
def test_an_unreadable_vm_hwm_line_has_none(line: str) -> None:
    assert vm_hwm_kb(f"Name:\tx\n{line}\n") is None


@pytest.mark.parametrize(
    ("kb", "mb"),
    [
        (0, 1),  # truncated to whole MB, then one added: never 0 MB for a live process
        (1023, 1),
        (1024, 2),
        (20480, 21),
        (20481, 21),
    ],
)
def test_max_memory_used_is_whole_mb_plus_one(kb: int, mb: int) -> None:
    assert max_memory_used_mb(f"VmHWM:\t{kb} kB\n") == mb


def test_max_memory_used_is_0_when_unknown() -> None:
    assert max_memory_used_mb(ZOMBIE_STATUS) == 0


def test_read_max_memory_used_reads_the_status_file_under_proc_root(tmp_path: Path) -> None:
    (tmp_path / "4242").mkdir()
    (tmp_path / "4242" / "status").write_text(STATUS)
    assert read_max_memory_used_mb(4242, proc_root=str(tmp_path)) == 21


def test_read_max_memory_used_is_0_for_a_process_that_is_gone(tmp_path: Path) -> None:
    assert read_max_memory_used_mb(4242, proc_root=str(tmp_path)) == 0


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="needs /proc (Linux)")
def test_read_max_memory_used_of_this_process_is_positive() -> None:
    assert read_max_memory_used_mb(os.getpid()) > 1
