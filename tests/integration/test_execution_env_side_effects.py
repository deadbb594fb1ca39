"""Setting AWS_EXECUTION_ENV yourself (the execution-env strategy): its side effect on the
function's JSON responses, seen through the real sandbox and awslambdaric.

From 2.0.8 the same switch that makes awslambdaric poll ``next`` in a thread
(AWS_EXECUTION_ENV=AWS_Lambda_python3.12) makes it serialise responses with
``ensure_ascii=False`` (FACTS.md, awslambdaric releases): a response that was
``"na\\u00efve"`` becomes ``"naïve"`` in UTF-8. Clients that compare bytes see it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Dict

import pytest
from support.interpreters import awslambdaric_python

from harness.paths import FUNCTION_DIR
from harness.sandbox.running import RunningSandbox

pytestmark = [pytest.mark.integration, pytest.mark.timeout(90)]


def respond(python: Path, workdir: Path, env: Dict[str, str]) -> bytes:
    runtime = [str(python), "-m", "awslambdaric", "app.handler"]
    settings = {"LAB_STRATEGY": "none", "LAB_EXTENSION": "none", **env}
    with RunningSandbox(python, runtime, workdir, env=settings, task_root=FUNCTION_DIR) as sb:
        reply = sb.invoke({"word": "na\u00efve"})
        assert reply.status == 200, reply.body
        assert sb.stop() == 0
    return reply.body


@pytest.mark.parametrize("version", ["3.8", "3.12"])
def test_an_allowlisted_execution_env_stops_escaping_non_ascii(
    version: str, tmp_path: Path
) -> None:
    python = awslambdaric_python(version)
    (tmp_path / "unset").mkdir()
    (tmp_path / "set").mkdir()
    plain = respond(python, tmp_path / "unset", {})
    chosen = respond(python, tmp_path / "set", {"AWS_EXECUTION_ENV": "AWS_Lambda_python3.12"})
    assert b'"na\\u00efve"' in plain, plain
    assert '"na\u00efve"'.encode() in chosen, chosen
