"""An external extension that cannot be launched fails init with Extension.LaunchError,
as AWS's emulator does (fatalerror.AgentLaunchError), instead of being skipped: a skip
would quietly change the shutdown rule the function then runs under."""

from __future__ import annotations

from pathlib import Path

import pytest
from support.interpreters import awslambdaric_python

from harness.sandbox.running import RunningSandbox

pytestmark = [pytest.mark.integration, pytest.mark.timeout(90)]


@pytest.mark.parametrize(
    ("content", "mode", "why"),
    [
        (b"#!/bin/sh\nexit 0\n", 0o644, "Permission denied"),  # not executable
        (b"\x7fELF not really\n", 0o755, "Exec format error"),
    ],
    ids=["not-executable", "exec-format-error"],
)
def test_an_extension_that_cannot_start_fails_init(
    tmp_path: Path, content: bytes, mode: int, why: str
) -> None:
    extensions = tmp_path / "extensions"
    extensions.mkdir()
    broken = extensions / "broken-extension"
    broken.write_bytes(content)
    broken.chmod(mode)
    (tmp_path / "run").mkdir()
    python = awslambdaric_python("3.12")
    runtime = [str(python), "-m", "awslambdaric", "app.handler"]
    with RunningSandbox(
        python, runtime, tmp_path / "run", env={"LAB_STRATEGY": "none"}, extensions_dir=extensions
    ) as sb:
        reply = sb.invoke({})
        assert reply.headers.get("X-Amz-Function-Error") == "Unhandled", reply.body
        answer = reply.json()
        assert answer["errorType"] == "Extension.LaunchError", answer
        assert "broken-extension" in answer["errorMessage"] and why in answer["errorMessage"]
        assert sb.stop() == 0
