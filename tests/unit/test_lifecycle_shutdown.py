"""Shutdown as Lambda does it: the runtime first, then the external extensions; and the
environment frozen while it idles. Pure: events in, actions out.

Sources (FACTS.md, "Shutdown phase"): AWS's graceful-shutdown sample reserves
300 ms (500 ms with only an internal extension) for the runtime and the rest
of the 2,000 ms for external extensions; AWS's emulator shuts the runtime down
(SIGTERM, SIGKILL at its deadline) before it sends SHUTDOWN to the extensions,
with 30 % of the window for the runtime.
"""

from __future__ import annotations

from typing import List

import pytest
from support.machine import T0, Env, only

from lambda_sandbox import lifecycle as lc
from lambda_sandbox.lifecycle import Phase, ShutdownModel, ShutdownRule


def kinds(actions: List[lc.Action]) -> List[str]:
    return [type(a).__name__ for a in actions]


@pytest.mark.parametrize(
    ("rule", "model", "windows"),
    [
        (ShutdownRule.NO_EXTENSIONS, ShutdownModel.DOCS, (0, 0)),
        (ShutdownRule.INTERNAL_ONLY, ShutdownModel.DOCS, (500, 500)),
        (ShutdownRule.EXTERNAL, ShutdownModel.DOCS, (2000, 300)),
        (ShutdownRule.NO_EXTENSIONS, ShutdownModel.EMULATOR, (0, 0)),
        (ShutdownRule.INTERNAL_ONLY, ShutdownModel.EMULATOR, (2000, 600)),
        (ShutdownRule.EXTERNAL, ShutdownModel.EMULATOR, (2000, 600)),
    ],
)
def test_each_model_gives_the_runtime_its_part_of_the_window(
    rule: ShutdownRule, model: ShutdownModel, windows: tuple
) -> None:
    assert lc.shutdown_windows(rule, model) == windows


def test_with_an_external_extension_the_runtime_goes_first() -> None:
    env = Env()
    env.warm(internal=1, external=2)
    actions = env.send(lc.StopRequested())
    start = only(actions, lc.ShutdownStarted)[0]
    assert (start.rule, start.limit_ms, start.runtime_limit_ms) == (
        ShutdownRule.EXTERNAL,
        2000,
        300,
    )
    assert only(actions, lc.SendSignal) == [lc.SendSignal(lc.RUNTIME, "SIGTERM")]
    assert only(actions, lc.DeliverEvent) == [], "no SHUTDOWN while the runtime shuts down"
    timers = {(t.timer, t.delay_ms) for t in only(actions, lc.StartTimer)}
    assert timers == {("runtime-shutdown", 300), ("shutdown", 2000)}

    env.now += 40
    actions = env.send(lc.ProcessExited(lc.RUNTIME, "exit status 0"))
    events = only(actions, lc.DeliverEvent)
    assert [(e.extension_id, e.payload) for e in events] == [
        (
            f"id-ext{i}",
            {"eventType": "SHUTDOWN", "shutdownReason": "spindown", "deadlineMs": T0 + 2000},
        )
        for i in range(2)
    ]
    # The runtime's window is over once it has gone: its timer is stale.
    assert env.fire("runtime-shutdown") == []
    env.send(lc.ProcessExited("ext0", "exit status 0"))
    assert only(env.fire("shutdown"), lc.SendSignal) == [lc.SendSignal("ext1", "SIGKILL")]
    assert env.send(lc.ProcessExited("ext1", "signal: killed"))[0] == lc.ShutdownEnded(
        "spindown", ("ext1",)
    )


def test_a_runtime_that_outlives_its_window_is_killed_before_the_extensions_are_told() -> None:
    env = Env()
    env.warm(external=1)
    env.send(lc.StopRequested())
    actions = env.fire("runtime-shutdown")
    assert env.now == T0 + 300
    assert actions == [lc.SendSignal(lc.RUNTIME, "SIGKILL")]
    actions = env.send(lc.ProcessExited(lc.RUNTIME, "signal: killed"))
    assert kinds(actions) == ["DeliverEvent"]
    assert actions[0].payload["deadlineMs"] == T0 + 2000  # type: ignore[attr-defined]
    actions = env.send(lc.ProcessExited("ext0", "exit status 0"))
    assert only(actions, lc.ShutdownEnded) == [lc.ShutdownEnded("spindown", ("runtime",))]


def test_extensions_not_subscribed_to_shutdown_are_killed_once_the_runtime_is_gone() -> None:
    env = Env()
    env.warm(external=1, unsubscribed=1)
    env.send(lc.StopRequested())
    actions = env.send(lc.ProcessExited(lc.RUNTIME, "exit status 0"))
    assert only(actions, lc.SendSignal) == [lc.SendSignal("quiet0", "SIGKILL")]
    assert [e.extension_id for e in only(actions, lc.DeliverEvent)] == ["id-ext0"]


def test_a_crashed_runtime_leaves_the_extensions_their_whole_window() -> None:
    env = Env()
    env.warm(external=1)
    env.send(lc.InvokeRequested("r1"))
    actions = env.send(lc.ProcessExited(lc.RUNTIME, "exit status 3"))
    start = only(actions, lc.ShutdownStarted)[0]
    assert start.reason == "failure"
    assert only(actions, lc.SendSignal) == [], "nobody to SIGTERM"
    (event,) = only(actions, lc.DeliverEvent)
    assert event.payload == {
        "eventType": "SHUTDOWN",
        "shutdownReason": "failure",
        "deadlineMs": T0 + 2000,
    }


def test_with_internal_extensions_only_the_runtime_has_the_whole_500_ms() -> None:
    env = Env()
    env.warm(internal=1)
    actions = env.send(lc.StopRequested())
    assert [(t.timer, t.delay_ms) for t in only(actions, lc.StartTimer)] == [("shutdown", 500)]
    actions = env.fire("shutdown")
    assert actions == [lc.SendSignal(lc.RUNTIME, "SIGKILL")], "killed once"


def test_the_emulator_model_gives_the_runtime_600_ms_of_2000() -> None:
    env = Env(shutdown_model=ShutdownModel.EMULATOR)  # type: ignore[arg-type]
    env.warm(internal=1)
    actions = env.send(lc.StopRequested())
    start = only(actions, lc.ShutdownStarted)[0]
    assert (start.limit_ms, start.runtime_limit_ms, start.model) == (
        2000,
        600,
        ShutdownModel.EMULATOR,
    )
    assert env.fire("runtime-shutdown") == [lc.SendSignal(lc.RUNTIME, "SIGKILL")]
    assert env.now == T0 + 600


# ------------------------------------------------------------------ freezing


def test_the_environment_freezes_when_everyone_waits_in_next_with_nothing_pending() -> None:
    env = Env()
    env.warm(external=1, invoke_subscribers=True)
    assert kinds(env.log).count("Freeze") == 1
    assert isinstance(env.log[-1], lc.Freeze), "the last thing after the first invoke"
    assert env.machine.frozen


def test_it_thaws_before_the_next_event_is_delivered() -> None:
    env = Env()
    env.warm(external=1, invoke_subscribers=True)
    actions = env.send(lc.InvokeRequested("r1"))
    order = kinds(actions)
    assert order.index("Thaw") < order.index("DeliverInvoke")
    assert order.index("Thaw") < order.index("DeliverEvent")
    env.send(lc.RuntimeResponded("r1"))
    actions = env.send(lc.RuntimeNext())
    assert "Freeze" not in kinds(actions), "the extension is still working on INVOKE"
    assert kinds(env.send(lc.ExtensionNext("id-ext0")))[-1] == "Freeze"


def test_it_thaws_before_any_shutdown_signal() -> None:
    env = Env(idle_timeout_ms=1000)
    env.warm(internal=1)
    actions = env.fire("idle")
    order = kinds(actions)
    assert order.index("Thaw") < order.index("SendSignal")
    assert not env.machine.frozen


def test_a_queued_invocation_keeps_it_thawed() -> None:
    env = Env()
    env.warm()
    env.send(lc.InvokeRequested("r1"))
    env.send(lc.InvokeRequested("r2"))
    env.send(lc.RuntimeResponded("r1"))
    actions = env.send(lc.RuntimeNext())
    assert "Freeze" not in kinds(actions) and only(actions, lc.DeliverInvoke)


def test_freezing_can_be_turned_off() -> None:
    env = Env(freeze=False)  # type: ignore[arg-type]
    env.warm(internal=1)
    env.send(lc.InvokeRequested("r1"))
    env.send(lc.StopRequested())
    assert not {"Freeze", "Thaw"} & set(kinds(env.log))


def test_a_reset_forgets_that_it_was_frozen() -> None:
    env = Env(invoke_timeout_ms=1000)
    env.warm(internal=1)
    env.send(lc.InvokeRequested("r1"))
    env.fire("invoke")
    env.send(lc.ProcessExited(lc.RUNTIME, "signal: terminated"))
    assert env.machine.phase is Phase.UNINITIALIZED and not env.machine.frozen


def test_only_the_shutdowns_thaw_waits_for_every_thread_to_resume() -> None:
    env = Env(idle_timeout_ms=1000)
    env.warm(internal=1)
    (for_invoke,) = only(env.send(lc.InvokeRequested("r1")), lc.Thaw)
    assert for_invoke == lc.Thaw(settle=False), "an event needs no settling"
    env.send(lc.RuntimeResponded("r1"))
    env.send(lc.RuntimeNext())
    (for_shutdown,) = only(env.fire("idle"), lc.Thaw)
    assert for_shutdown == lc.Thaw(settle=True), "SIGTERM must find the main thread"


def test_with_no_extension_a_frozen_environment_is_killed_without_a_thaw() -> None:
    # A thaw would let the function's threads run again before the SIGKILL.
    env = Env(idle_timeout_ms=1000)
    env.warm()
    assert env.machine.frozen
    actions = env.fire("idle")
    assert only(actions, lc.Thaw) == []
    assert only(actions, lc.SendSignal) == [lc.SendSignal(lc.RUNTIME, "SIGKILL")]
