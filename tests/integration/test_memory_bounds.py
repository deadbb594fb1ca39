"""The sandbox's memory stays bounded whatever the function prints: a line without end
is handed on in 256 KiB pieces, and an invocation keeps only what its Tail log needs.

The bound: the sandbox's resident size grows by less than 64 MB over the run
(issue 17's figure), measured from /proc/<pid>/status (VmRSS, VmHWM).
"""

from __future__ import annotations

import base64
from pathlib import Path

import pytest
from support.interpreters import awslambdaric_python
from support.resources import BOUND_KB, held

from harness.sandbox.running import RunningSandbox

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(180)]


def test_a_100_mb_line_without_newline_does_not_grow_the_sandbox(tmp_path: Path) -> None:
    python = awslambdaric_python("3.12")
    runtime = [str(python), "-m", "awslambdaric", "app.handler"]
    with RunningSandbox(python, runtime, tmp_path) as sb:
        assert sb.invoke({"warm": True}).status == 200
        assert sb.proc is not None
        idle = held(sb.proc.pid)
        reply = sb.invoke({"print_bytes": 100 * 1024 * 1024}, headers={"X-Amz-Log-Type": "Tail"})
        assert reply.status == 200, reply.body[:300]
        after = held(sb.proc.pid)
        tail = base64.b64decode(reply.headers["X-Amz-Log-Result"])
        assert len(tail) == 4096 and tail.endswith(b"\n") and b"REPORT RequestId" in tail
        assert sb.stop() == 0
    grown = after.peak_kb - idle.rss_kb
    print(f"sandbox memory: idle {idle.rss_kb} kB, peak {after.peak_kb} kB")
    assert grown < BOUND_KB, f"the sandbox grew by {grown} kB printing one 100 MB line"
