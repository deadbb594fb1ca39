"""The lifecycle machine as a specification: events in, actions out, no I/O."""

from __future__ import annotations

from typing import Dict, Set, Tuple

import pytest
from support.machine import T0, Env, only

from lambda_sandbox import lifecycle as lc
from lambda_sandbox.lifecycle import Phase, ShutdownRule

# Lambda's documented lifecycle (FACTS.md: "Init phase", "Shutdown phase"),
# written out edge by edge, each with the fact that makes it exist.
LAMBDA_PHASE_GRAPH: Dict[Phase, Set[Phase]] = {
    Phase.UNINITIALIZED: {
        Phase.INIT,  # the first invocation starts init
        Phase.STOPPED,  # stopped with nothing running: exit at once
    },
    Phase.INIT: {
        Phase.READY,  # the runtime and every registered extension called next
        Phase.SHUTDOWN,  # init failed or timed out (reset), or the sandbox was stopped
    },
    Phase.READY: {
        Phase.INVOKE,  # an invocation is delivered
        Phase.SHUTDOWN,  # idle reaping or a stop: spindown
    },
    Phase.INVOKE: {
        Phase.READY,  # the runtime answered and every extension is back at next
        Phase.SHUTDOWN,  # function timeout or runtime failure: the reset shuts down first
    },
    Phase.SHUTDOWN: {
        Phase.UNINITIALIZED,  # a reset: the next invocation starts a fresh init
        Phase.STOPPED,  # the sandbox was stopped: it exits after the shutdown
    },
    Phase.STOPPED: set(),
}


def reachable(start: Phase) -> Set[Phase]:
    seen, todo = {start}, [start]
    while todo:
        for nxt in lc.TRANSITIONS[todo.pop()]:
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    return seen


def test_transition_table_is_lambdas_phase_graph() -> None:
    assert {phase: set(lc.TRANSITIONS[phase]) for phase in Phase} == LAMBDA_PHASE_GRAPH


def test_every_phase_is_reachable_and_every_phase_can_stop() -> None:
    assert reachable(Phase.UNINITIALIZED) == set(Phase)
    for phase in Phase:
        assert Phase.STOPPED in reachable(phase), f"{phase} can never stop"
    assert lc.TRANSITIONS[Phase.STOPPED] == set()


def phase_changes(env: Env) -> Set[Tuple[Phase, Phase]]:
    return {(a.old, a.new) for a in env.log if isinstance(a, lc.PhaseChanged)}


def test_the_machine_takes_every_transition_of_the_table() -> None:
    # Each scenario drives the machine the way the driver would; together they
    # take every edge, so a table entry the machine needs cannot go missing
    # (``_enter`` refuses it) and one it never takes cannot hide in the table.
    taken: Set[Tuple[Phase, Phase]] = set()
    warm = Env(idle_timeout_ms=1000)  # init, invoke, idle reaping, reset
    warm.warm(internal=1)
    warm.fire("idle")
    warm.send(lc.ProcessExited(lc.RUNTIME, "signal: terminated"))
    taken |= phase_changes(warm)
    timeout = Env(invoke_timeout_ms=1000)  # a function timeout resets from invoke
    timeout.warm(internal=1)
    timeout.send(lc.InvokeRequested("r1"))
    timeout.fire("invoke")
    taken |= phase_changes(timeout)
    init_timeout = Env(init_timeout_ms=10_000)  # init times out
    init_timeout.send(lc.InvokeRequested("r0"))
    init_timeout.fire("init")
    taken |= phase_changes(init_timeout)
    stopped_warm = Env()  # a stop: shutdown, then the sandbox stops
    stopped_warm.warm()
    stopped_warm.send(lc.StopRequested())
    stopped_warm.send(lc.ProcessExited(lc.RUNTIME, "signal: killed"))
    taken |= phase_changes(stopped_warm)
    stopped_cold = Env()  # a stop before any invocation
    stopped_cold.send(lc.StopRequested())
    taken |= phase_changes(stopped_cold)
    table = {(old, new) for old, targets in lc.TRANSITIONS.items() for new in targets}
    assert taken == table


@pytest.mark.parametrize(
    ("internal", "external", "rule", "limit"),
    [
        (0, 0, ShutdownRule.NO_EXTENSIONS, 0),
        (1, 0, ShutdownRule.INTERNAL_ONLY, 500),
        (3, 0, ShutdownRule.INTERNAL_ONLY, 500),
        (0, 1, ShutdownRule.EXTERNAL, 2000),
        (1, 2, ShutdownRule.EXTERNAL, 2000),
    ],
)
def test_shutdown_rule_depends_only_on_who_registered(internal, external, rule, limit):
    extensions = [lc.Extension(f"i{n}", f"i{n}", False, ()) for n in range(internal)] + [
        lc.Extension(f"e{n}", f"e{n}", True, ("SHUTDOWN",)) for n in range(external)
    ]
    plan = lc.plan_shutdown(extensions, T0)
    assert (plan.rule, plan.limit_ms, plan.deadline_ms) == (rule, limit, T0 + limit)
    assert plan.terminate_runtime is (rule is not ShutdownRule.NO_EXTENSIONS)
    assert len(plan.shutdown_event_to) == external


def test_external_extension_without_shutdown_subscription_gets_no_event():
    plan = lc.plan_shutdown([lc.Extension("e", "e", True, ("INVOKE",))], T0)
    assert plan.rule is ShutdownRule.EXTERNAL and plan.shutdown_event_to == ()


def test_init_waits_for_external_registration_before_starting_runtime():
    env = Env()
    env.send(lc.InvokeRequested("r0"))
    env.send(lc.ProcessStarted("ext"))
    assert not only(env.send(lc.ExtensionsSpawned(("ext",))), lc.SpawnRuntime)
    assert only(env.send(lc.ExtensionRegistered("id", "ext", ("INVOKE",))), lc.SpawnRuntime)


def test_an_accepted_registration_is_an_action_before_the_runtime_spawn_it_triggers():
    # The driver logs extension.register when it executes ExtensionAccepted and
    # process.start when it executes SpawnRuntime: this order is the log's order.
    env = Env()
    env.send(lc.InvokeRequested("r0"))
    env.send(lc.ProcessStarted("a"))
    env.send(lc.ProcessStarted("b"))
    env.send(lc.ExtensionsSpawned(("a", "b")))
    first = env.send(lc.ExtensionRegistered("id-a", "a", ("INVOKE",)))
    assert first == [lc.ExtensionAccepted("id-a", "a", True, ("INVOKE",))]
    last = env.send(lc.ExtensionRegistered("id-b", "b", ("INVOKE", "SHUTDOWN")))
    assert last == [
        lc.ExtensionAccepted("id-b", "b", True, ("INVOKE", "SHUTDOWN")),
        lc.SpawnRuntime(),
    ]
    env.send(lc.ProcessStarted(lc.RUNTIME))
    internal = env.send(lc.ExtensionRegistered("id-c", "c", ()))
    assert internal == [lc.ExtensionAccepted("id-c", "c", False, ())]


def test_a_refused_registration_emits_nothing():
    env = Env()
    env.send(lc.InvokeRequested("r0"))
    env.send(lc.ExtensionsSpawned(()))
    with pytest.raises(lc.Refused):
        env.send(lc.ExtensionRegistered("x", "internal", ("SHUTDOWN",)))
    assert not only(env.log, lc.ExtensionAccepted)


def test_init_completes_only_when_runtime_and_every_extension_called_next():
    env = Env()
    env.send(lc.InvokeRequested("r0"))
    env.send(lc.ExtensionsSpawned(()))
    env.send(lc.ProcessStarted(lc.RUNTIME))
    env.send(lc.ExtensionRegistered("int", "internal", ()))
    assert not only(env.send(lc.RuntimeNext()), lc.InitEnded)
    assert env.machine.phase is Phase.INIT
    actions = env.send(lc.ExtensionNext("int"))
    assert only(actions, lc.InitEnded) == [lc.InitEnded("ok", None, (("internal", ()),))]
    assert only(actions, lc.DeliverInvoke)[0].deadline_ms == T0 + 3000
    assert env.machine.phase is Phase.INVOKE


def test_init_end_names_the_ready_extensions_in_registration_order():
    env = Env()
    env.send(lc.InvokeRequested("r0"))
    env.send(lc.ProcessStarted("ext"))
    env.send(lc.ExtensionsSpawned(("ext",)))
    env.send(lc.ExtensionRegistered("id-ext", "ext", ("SHUTDOWN", "INVOKE")))
    env.send(lc.ProcessStarted(lc.RUNTIME))
    env.send(lc.ExtensionRegistered("id-int", "int", ()))
    env.send(lc.ExtensionNext("id-int"))
    env.send(lc.ExtensionNext("id-ext"))
    actions = env.send(lc.RuntimeNext())
    assert only(actions, lc.InitEnded)[0].ready_extensions == (
        ("ext", ("SHUTDOWN", "INVOKE")),
        ("int", ()),
    )


def test_a_failed_init_names_only_the_extensions_that_called_next():
    env = Env()
    env.send(lc.InvokeRequested("r0"))
    env.send(lc.ProcessStarted("ext"))
    env.send(lc.ExtensionsSpawned(("ext",)))
    env.send(lc.ExtensionRegistered("id-ext", "ext", ("INVOKE",)))
    env.send(lc.ProcessStarted(lc.RUNTIME))
    env.send(lc.ExtensionRegistered("id-int", "int", ()))
    env.send(lc.ExtensionNext("id-ext"))
    actions = env.send(lc.InitErrorReported(lc.RUNTIME, "Runtime.ImportModuleError"))
    assert only(actions, lc.InitEnded) == [
        lc.InitEnded("error", "Runtime.ImportModuleError", (("ext", ("INVOKE",)),))
    ]


def test_internal_extension_may_not_subscribe_to_shutdown():
    env = Env()
    env.send(lc.InvokeRequested("r0"))
    env.send(lc.ExtensionsSpawned(()))
    env.send(lc.ProcessStarted(lc.RUNTIME))
    with pytest.raises(lc.Refused) as refused:
        env.send(lc.ExtensionRegistered("x", "internal", ("SHUTDOWN",)))
    assert refused.value.status == 403
    assert refused.value.error_type == "Extension.InvalidEventType"
    assert refused.value.message.startswith("ShutdownEventNotSupportedForInternalExtension: ")
    assert env.machine.extensions == {}


def test_registration_is_refused_after_init_and_past_ten():
    env = Env()
    env.send(lc.InvokeRequested("r0"))
    env.send(lc.ExtensionsSpawned(()))
    env.send(lc.ProcessStarted(lc.RUNTIME))
    for i in range(10):
        env.send(lc.ExtensionRegistered(f"id{i}", f"n{i}", ()))
    with pytest.raises(lc.Refused, match="at most 10") as too_many:
        env.send(lc.ExtensionRegistered("id10", "n10", ()))
    assert too_many.value.error_type == "Extension.TooManyExtensions"
    warm = Env()
    warm.warm()
    with pytest.raises(lc.Refused) as late:
        warm.send(lc.ExtensionRegistered("late", "late", ()))
    assert late.value.error_type == "Extension.RegistrationClosed"


def test_unknown_extension_id_and_stale_request_id_are_refused():
    env = Env()
    env.warm(internal=1)
    with pytest.raises(lc.Refused) as unknown:
        env.send(lc.ExtensionNext("nope"))
    assert (unknown.value.status, unknown.value.error_type) == (
        403,
        "Extension.UnknownExtensionIdentifier",
    )
    with pytest.raises(lc.Refused) as stale:
        env.send(lc.RuntimeResponded("r0"))
    assert (stale.value.status, stale.value.error_type) == (400, "InvalidRequestID")


def test_second_response_for_one_request_is_refused():
    env = Env()
    env.warm()
    env.send(lc.InvokeRequested("r1"))
    env.send(lc.RuntimeResponded("r1"))
    with pytest.raises(lc.Refused):
        env.send(lc.RuntimeResponded("r1"))


def test_no_extensions_shutdown_kills_the_runtime_at_once():
    env = Env()
    env.warm()
    actions = env.send(lc.StopRequested())
    assert only(actions, lc.SendSignal) == [lc.SendSignal(lc.RUNTIME, "SIGKILL")]
    assert only(actions, lc.StartTimer) == []
    actions = env.send(lc.ProcessExited(lc.RUNTIME, "signal: killed"))
    assert only(actions, lc.ShutdownEnded) == [lc.ShutdownEnded("spindown", (lc.RUNTIME,))]
    assert only(actions, lc.Exit) == [lc.Exit(0)]
    assert env.machine.phase is Phase.STOPPED


def test_internal_only_shutdown_terms_then_kills_at_500_ms():
    env = Env()
    env.warm(internal=1)
    actions = env.send(lc.StopRequested())
    assert only(actions, lc.SendSignal) == [lc.SendSignal(lc.RUNTIME, "SIGTERM")]
    assert only(actions, lc.DeliverEvent) == [], "internal extensions get no SHUTDOWN event"
    assert [(t.timer, t.delay_ms) for t in only(actions, lc.StartTimer)] == [("shutdown", 500)]
    actions = env.fire("shutdown")
    assert only(actions, lc.SendSignal) == [lc.SendSignal(lc.RUNTIME, "SIGKILL")]
    actions = env.send(lc.ProcessExited(lc.RUNTIME, "signal: killed"))
    assert only(actions, lc.Exit) == [lc.Exit(0)]


def test_runtime_exiting_on_sigterm_ends_the_shutdown_early():
    env = Env()
    env.warm(internal=1)
    env.send(lc.StopRequested())
    actions = env.send(lc.ProcessExited(lc.RUNTIME, "signal: terminated"))
    assert only(actions, lc.ShutdownEnded) == [lc.ShutdownEnded("spindown", ())]
    # The 500 ms timer firing later is stale and does nothing.
    assert env.fire("shutdown") == []


def test_invoke_completes_when_runtime_and_subscribed_extensions_are_back():
    env = Env()
    env.warm(external=1, invoke_subscribers=True)
    actions = env.send(lc.InvokeRequested("r1"))
    invoke_events = only(actions, lc.DeliverEvent)
    assert invoke_events[0].payload["eventType"] == "INVOKE"
    assert invoke_events[0].payload["requestId"] == "r1"
    answer = env.send(lc.RuntimeResponded("r1"))
    assert only(answer, lc.AnswerInvoker) == [lc.AnswerInvoker("r1", "response")]
    assert not only(env.send(lc.RuntimeNext()), lc.InvokeEnded)
    assert only(env.send(lc.ExtensionNext("id-ext0")), lc.InvokeEnded) == [
        lc.InvokeEnded("r1", "success")
    ]
    assert env.machine.phase is Phase.READY


def test_function_timeout_answers_and_resets_with_reason_timeout():
    env = Env(invoke_timeout_ms=1000)
    env.warm(internal=1)
    env.send(lc.InvokeRequested("r1"))
    actions = env.fire("invoke")
    assert only(actions, lc.AnswerInvoker) == [lc.AnswerInvoker("r1", "timeout")]
    assert only(actions, lc.InvokeEnded) == [lc.InvokeEnded("r1", "timeout")]
    assert only(actions, lc.ShutdownStarted)[0].reason == "timeout"
    actions = env.send(lc.ProcessExited(lc.RUNTIME, "signal: terminated"))
    assert env.machine.phase is Phase.UNINITIALIZED
    # The next invocation starts a fresh init.
    assert only(env.send(lc.InvokeRequested("r2")), lc.SpawnExtensions)


def test_runtime_crash_fails_the_invocation_and_resets_with_reason_failure():
    env = Env()
    env.warm(internal=1)
    env.send(lc.InvokeRequested("r1"))
    actions = env.send(lc.ProcessExited(lc.RUNTIME, "exit status 3"))
    answer = only(actions, lc.AnswerInvoker)[0]
    assert (answer.kind, answer.error_type) == ("failure", "Runtime.ExitError")
    assert "exit status 3" in (answer.message or "")
    assert only(actions, lc.ShutdownStarted)[0].reason == "failure"
    assert only(actions, lc.ShutdownEnded), "nothing left alive: the shutdown ends at once"
    assert env.machine.phase is Phase.UNINITIALIZED


def test_init_timeout_fails_the_first_invoke_and_a_queued_one_gets_a_fresh_init():
    env = Env(init_timeout_ms=10_000)
    env.send(lc.InvokeRequested("r0"))
    env.send(lc.InvokeRequested("r1"))
    env.send(lc.ExtensionsSpawned(()))
    env.send(lc.ProcessStarted(lc.RUNTIME))
    actions = env.fire("init")
    assert only(actions, lc.InitEnded) == [lc.InitEnded("timeout", "Runtime.InitTimeout")]
    assert [a.request_id for a in only(actions, lc.AnswerInvoker)] == ["r0"]
    assert only(actions, lc.SendSignal) == [lc.SendSignal(lc.RUNTIME, "SIGKILL")]
    actions = env.send(lc.ProcessExited(lc.RUNTIME, "signal: killed"))
    assert only(actions, lc.SpawnExtensions), "r1 is still waiting: init again"


def test_idle_timeout_reaps_with_reason_spindown_and_keeps_the_sandbox():
    env = Env(idle_timeout_ms=1000)
    env.warm(internal=1)
    actions = env.fire("idle")
    assert only(actions, lc.ShutdownStarted)[0].reason == "spindown"
    env.send(lc.ProcessExited(lc.RUNTIME, "signal: terminated"))
    assert env.machine.phase is Phase.UNINITIALIZED
    assert not only(env.log, lc.Exit)


def test_an_invocation_resets_the_idle_timer():
    env = Env(idle_timeout_ms=1000)
    env.warm()
    env.send(lc.InvokeRequested("r1"))
    assert env.machine.phase is Phase.INVOKE
    stale = next(a for a in env.log if isinstance(a, lc.StartTimer) and a.timer == "idle")
    assert env.send(lc.TimerFired("idle", stale.token)) == []


def test_stop_with_nothing_running_exits_at_once_and_refuses_new_work():
    env = Env()
    assert only(env.send(lc.StopRequested()), lc.Exit) == [lc.Exit(0)]
    answer = only(env.send(lc.InvokeRequested("late")), lc.AnswerInvoker)[0]
    assert answer.kind == "unavailable"


def test_stop_during_shutdown_stops_after_it():
    env = Env(idle_timeout_ms=10)
    env.warm(internal=1)
    env.fire("idle")
    assert env.send(lc.StopRequested()) == []
    actions = env.send(lc.ProcessExited(lc.RUNTIME, "signal: terminated"))
    assert only(actions, lc.Exit) == [lc.Exit(0)]


def test_runtime_next_before_answering_is_refused():
    env = Env()
    env.warm()
    env.send(lc.InvokeRequested("r1"))
    with pytest.raises(lc.Refused) as refused:
        env.send(lc.RuntimeNext())
    assert refused.value.error_type == "InvalidStateTransition"


def test_an_extension_that_cannot_be_launched_fails_init_with_launch_error():
    # AWS's emulator: fatalerror.AgentLaunchError ("Extension.LaunchError").
    env = Env()
    env.send(lc.InvokeRequested("r0"))
    actions = env.send(lc.ExtensionLaunchFailed("broken", "[Errno 8] Exec format error"))
    assert only(actions, lc.InitEnded) == [lc.InitEnded("error", "Extension.LaunchError", ())]
    (answer,) = only(actions, lc.AnswerInvoker)
    assert answer.error_type == "Extension.LaunchError"
    assert "broken could not be launched" in (answer.message or "")


def test_an_invocation_in_flight_at_stop_is_answered_as_the_services_error():
    # Not the function's failure: an AMQP consumer requeues a request answered so.
    env = Env()
    env.warm()
    env.send(lc.InvokeRequested("r1"))
    actions = env.send(lc.StopRequested())
    (answer,) = only(actions, lc.AnswerInvoker)
    assert (answer.request_id, answer.kind, answer.error_type) == (
        "r1",
        "unavailable",
        "Sandbox.Stopped",
    )
