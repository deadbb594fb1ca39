"""The test doubles of tests/support/fakes.py checked themselves."""

from __future__ import annotations

import http.client
import json
import os
import sys

import pytest
from support.fakes import ChildProcess, FakeLambdaApi, child_env

pytestmark = pytest.mark.integration


def test_fake_api_registers_and_refuses_shutdown_for_internal(fake_api: FakeLambdaApi) -> None:
    conn = http.client.HTTPConnection(fake_api.address, timeout=5)
    try:
        conn.request(
            "POST",
            "/2020-01-01/extension/register",
            body=b'{"events": ["SHUTDOWN"]}',
            headers={"Lambda-Extension-Name": "lab-internal-extension"},
        )
        response = conn.getresponse()
        assert response.status == 403
        body = json.loads(response.read())
        assert body["errorType"] == "Extension.InvalidEventType"
        assert body["errorMessage"].startswith("ShutdownEventNotSupportedForInternalExtension: ")
    finally:
        conn.close()


def test_child_process_is_killed_on_exit() -> None:
    with ChildProcess(
        [sys.executable, "-c", "import time; print('up', flush=True); time.sleep(60)"], child_env()
    ) as c:
        c.wait_for("up", timeout=10)
        pid = c.pid
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
