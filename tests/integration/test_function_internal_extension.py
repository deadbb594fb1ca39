"""function/internal_extension.py against a fake Extensions API."""

from __future__ import annotations

import pytest
from support.fakes import (
    CHILD_VERSIONS,
    ChildProcess,
    FakeLambdaApi,
    child_env,
    load_function_module,
    python_for,
)


def test_register_without_runtime_api_says_what_is_missing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("AWS_LAMBDA_RUNTIME_API", raising=False)
    module = load_function_module("internal_extension")
    with pytest.raises(module.ExtensionError, match="AWS_LAMBDA_RUNTIME_API is not set"):
        module.register()


def test_register_sends_name_and_events_and_returns_the_identifier() -> None:
    module = load_function_module("internal_extension")
    with FakeLambdaApi() as api:
        identifier = module.register_only(api.address, "lab-internal-extension", [])
        call = api.wait_call("register")
    assert identifier
    assert call.headers["Lambda-Extension-Name"] == "lab-internal-extension"
    assert call.json() == {"events": []}


def test_shutdown_subscription_refusal_is_reported_with_status_and_type() -> None:
    module = load_function_module("internal_extension")
    with FakeLambdaApi() as api, pytest.raises(module.ExtensionError) as refused:
        module.register_only(api.address, "lab-internal-extension", ["SHUTDOWN"])
    message = str(refused.value)
    assert (
        "403 Extension.InvalidEventType: ShutdownEventNotSupportedForInternalExtension: " in message
    )
    assert "'lab-internal-extension'" in message and "SHUTDOWN" in message


def test_unreachable_api_is_reported() -> None:
    module = load_function_module("internal_extension")
    with FakeLambdaApi() as api:
        address = api.address  # closed on exit: nothing listens there afterwards
    with pytest.raises(module.ExtensionError, match="POST /2020-01-01/extension/register failed"):
        module.register_only(address, "x", [])


def test_event_descriptions() -> None:
    module = load_function_module("internal_extension")
    invoke = {"eventType": "INVOKE", "requestId": "r-1", "deadlineMs": 1}
    shutdown = {"eventType": "SHUTDOWN", "shutdownReason": "spindown", "deadlineMs": 9}
    assert module.describe_event(invoke) == "event INVOKE requestId=r-1"
    assert module.describe_event(shutdown) == "event SHUTDOWN reason=spindown deadlineMs=9"


CHILD = r"""
import internal_extension, signal
ident = internal_extension.register(events=["INVOKE"])
print("[child] id " + ident, flush=True)
signal.pause()
"""


@pytest.mark.integration
@pytest.mark.parametrize("version", CHILD_VERSIONS)
def test_registered_extension_waits_on_next_and_logs_events(version: str) -> None:
    with FakeLambdaApi() as api:
        env = child_env(AWS_LAMBDA_RUNTIME_API=api.address)
        with ChildProcess([python_for(version), "-c", CHILD], env) as child:
            line = child.wait_for("[child] id ")
            identifier = line.split()[-1]
            assert "[internal-extension] registered name=lab-internal-extension events=INVOKE" in (
                child.output()
            )
            api.wait_call("extension-next", where=lambda c: c.key == identifier)
            api.send_event(identifier, {"eventType": "INVOKE", "requestId": "req-42"})
            child.wait_for("[internal-extension] event INVOKE requestId=req-42")
