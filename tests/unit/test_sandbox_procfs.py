"""Peak memory for REPORT lines, parsed from a /proc/<pid>/status text."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from lambda_sandbox.procfs import (
    StatusFile,
    max_memory_used_mb,
    read_thread_states,
    settled,
    thread_state,
    vm_hwm_kb,
)

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


def test_the_status_file_is_read_under_proc_root(tmp_path: Path) -> None:
    (tmp_path / "4242").mkdir()
    (tmp_path / "4242" / "status").write_text(STATUS)
    status = StatusFile(4242, proc_root=str(tmp_path))
    try:
        assert status.read_max_memory_used_mb() == 21
    finally:
        status.close()
    assert status.read_max_memory_used_mb() == 0  # closed


def test_a_process_that_is_gone_uses_0_mb(tmp_path: Path) -> None:
    assert StatusFile(4242, proc_root=str(tmp_path)).read_max_memory_used_mb() == 0


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="needs /proc (Linux)")
def test_a_kept_status_file_follows_the_process_and_ends_with_it() -> None:
    child = subprocess.Popen(
        [sys.executable, "-c", "import sys; print('up', flush=True); sys.stdin.read()"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    )
    assert child.stdin is not None and child.stdout is not None
    status = StatusFile(child.pid)
    try:
        assert child.stdout.readline() == b"up\n"  # running Python by now
        assert status.read_max_memory_used_mb() > 1
        child.stdin.close()
        child.wait(timeout=10)  # reaped
        assert status.read_max_memory_used_mb() == 0
    finally:
        status.close()
        child.kill()
        child.wait()
        child.stdin.close()
        child.stdout.close()


# ------------------------------------------------------------ thread states


@pytest.mark.parametrize(
    ("stat", "state"),
    [
        ("1234 (python3) S 1 1234 1234 0 -1 4194560 ...", "S"),
        ("1234 (a b) c) T 1 1234", "T"),  # a command with spaces and a ')' in it
        ("1234 (x) R 1", "R"),
        ("garbage", None),
    ],
)
def test_a_threads_state_is_the_field_after_the_command(stat: str, state: str) -> None:
    assert thread_state(stat) == state


def test_threads_have_settled_once_none_is_stopped_or_on_its_way_back() -> None:
    assert settled(["S", "S", "D"])
    assert not settled(["S", "T"]), "still stopped"
    assert not settled(["R", "S"]), "runnable: not yet back in its call"
    assert settled([None, "S"]) and settled([])


def test_the_states_of_a_live_process_are_read_per_thread(tmp_path: Path) -> None:
    (tmp_path / "7" / "task" / "7").mkdir(parents=True)
    (tmp_path / "7" / "task" / "8").mkdir(parents=True)
    (tmp_path / "7" / "task" / "7" / "stat").write_text("7 (py) S 1")
    (tmp_path / "7" / "task" / "8" / "stat").write_text("8 (py) T 1")
    assert sorted(read_thread_states(7, str(tmp_path))) == ["S", "T"]  # type: ignore[type-var]
    assert read_thread_states(99, str(tmp_path)) == []


def test_descendants_walks_the_parent_map_nearest_first() -> None:
    from lambda_sandbox.procfs import descendants, parent_pid

    parents = {10: 1, 11: 10, 12: 10, 20: 11, 30: 99, 31: 30}
    assert descendants(10, parents) == [11, 12, 20]
    assert descendants(99, parents) == [30, 31]
    assert descendants(5, parents) == []
    assert parent_pid("123 (a) b) S 45 123 123 0") == 45  # a name with ') ' in it
    assert parent_pid("garbage") is None
