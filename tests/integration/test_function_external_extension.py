"""function/extensions/lab-external-extension: an external extension process."""

from __future__ import annotations

import os

import pytest
from support.fakes import (
    CHILD_VERSIONS,
    EXTENSION_SCRIPT,
    ChildProcess,
    FakeLambdaApi,
    child_env,
    python_for,
)


def test_script_is_executable_with_a_python3_shebang() -> None:
    assert os.access(EXTENSION_SCRIPT, os.X_OK)
    assert EXTENSION_SCRIPT.read_text().splitlines()[0] == "#!/usr/bin/env python3"


@pytest.mark.integration
@pytest.mark.parametrize("version", CHILD_VERSIONS)
def test_logs_invoke_and_exits_zero_on_shutdown(version: str) -> None:
    with FakeLambdaApi() as api:
        env = child_env(AWS_LAMBDA_RUNTIME_API=api.address)
        with ChildProcess([python_for(version), str(EXTENSION_SCRIPT)], env) as child:
            register = api.wait_call("register")
            assert register.headers["Lambda-Extension-Name"] == "lab-external-extension"
            assert register.json() == {"events": ["INVOKE", "SHUTDOWN"]}
            next_call = api.wait_call("extension-next")
            api.send_event(next_call.key, {"eventType": "INVOKE", "requestId": "req-7"})
            child.wait_for("[lab-external-extension] INVOKE requestId=req-7")
            api.send_event(
                next_call.key,
                {"eventType": "SHUTDOWN", "shutdownReason": "spindown", "deadlineMs": 1234},
            )
            child.wait_for("[lab-external-extension] SHUTDOWN reason=spindown deadlineMs=1234")
            assert child.wait_exit(timeout=10) == 0


@pytest.mark.integration
def test_refused_registration_exits_nonzero() -> None:
    with FakeLambdaApi(refuse_shutdown_for=("lab-external-extension",)) as api:
        env = child_env(AWS_LAMBDA_RUNTIME_API=api.address)
        with ChildProcess([python_for("3.12"), str(EXTENSION_SCRIPT)], env) as child:
            assert child.wait_exit(timeout=10) == 1
            assert "register refused: 403" in child.output()
