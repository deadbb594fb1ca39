"""What the sandbox reads from /proc: a process's peak memory, for REPORT lines.

The parsing is pure (it takes the text of /proc/<pid>/status) so it is tested
on a given text; ``read_max_memory_used_mb`` is the one place that opens the
file.
"""

from __future__ import annotations

from typing import Optional


def vm_hwm_kb(status_text: str) -> Optional[int]:
    """The ``VmHWM`` (peak resident set size) of a /proc/<pid>/status text, in kB.

    None when the line is missing or unreadable: a kernel without it, or a
    process that is already a zombie (whose status has no Vm* lines).
    """
    for line in status_text.splitlines():
        if line.startswith("VmHWM:"):
            parts = line.split()
            if len(parts) < 2:
                return None
            try:
                return int(parts[1])
            except ValueError:
                return None
    return None


def max_memory_used_mb(status_text: str) -> int:
    """REPORT's ``Max Memory Used`` from a status text: VmHWM in MB, plus one; 0 if unknown.

    Truncated to whole MB and one added, so a process that used any memory at
    all never reports 0 MB.
    """
    kb = vm_hwm_kb(status_text)
    if kb is None:
        return 0
    return int(kb / 1024) + 1


def read_max_memory_used_mb(pid: int, proc_root: str = "/proc") -> int:
    """``max_memory_used_mb`` of a live process; 0 when its status cannot be read."""
    try:
        with open(f"{proc_root}/{pid}/status") as status:
            text = status.read()
    except (OSError, ValueError):
        # Gone already (reaped), or not Linux: the REPORT line says 0 MB.
        return 0
    return max_memory_used_mb(text)
