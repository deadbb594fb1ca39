"""The execution environment's lifecycle as a pure state machine.

No sockets, threads, processes or clocks in here (the way h11 keeps HTTP
apart from I/O): the driver feeds *events* (a runtime called next, an
extension registered, a process exited, a timer fired, ...) together with the
current wall-clock time in milliseconds, and gets back *actions* (spawn the
runtime, deliver an invocation, send SIGTERM to a process, answer an invoker,
start a timer, ...). Requests the machine must refuse raise `Refused`, which
carries the HTTP status and Lambda's error type, and leave the state as it was.

The rules are Lambda's, as documented (see FACTS.md): init runs external
extensions first and the runtime once they have registered; init completes
when the runtime and every registered extension have called next; an invoke
completes when the runtime has answered and every extension is back at next;
while idle the environment is frozen; shutdown follows the rule chosen by which
extensions registered, the runtime first (SIGTERM, SIGKILL at the end of its
window), then the external extensions (SHUTDOWN, SIGKILL at the deadline).
"""

from __future__ import annotations

import collections
from dataclasses import dataclass
from typing import Any, Callable, Deque, Dict, List, Optional, Set, Tuple, Type, TypeVar

from lambda_sandbox.lifecycle_events import (
    EVENT_INVOKE,
    EVENT_SHUTDOWN,
    KNOWN_EXTENSION_EVENTS,
    RUNTIME,
    SHUTDOWN_LIMIT_MS,
    TRANSITIONS,
    Action,
    AnswerInvoker,
    DeliverEvent,
    DeliverInvoke,
    EnvironmentReset,
    Event,
    Exit,
    ExitErrorReported,
    ExtensionAccepted,
    ExtensionLaunchFailed,
    ExtensionNext,
    ExtensionRegistered,
    ExtensionsSpawned,
    Freeze,
    InitEnded,
    InitErrorReported,
    InvokeEnded,
    InvokeRequested,
    InvokeStarted,
    Limits,
    Phase,
    PhaseChanged,
    ProcessExited,
    ProcessStarted,
    Refused,
    RuntimeNext,
    RuntimeResponded,
    SendSignal,
    ShutdownEnded,
    ShutdownModel,
    ShutdownRule,
    ShutdownStarted,
    SpawnExtensions,
    SpawnRuntime,
    StartTimer,
    StopRequested,
    Thaw,
    TimerFired,
    shutdown_windows,
)


@dataclass
class Extension:
    extension_id: str
    name: str
    external: bool
    events: Tuple[str, ...]
    at_next: bool = False


@dataclass(frozen=True)
class ShutdownPlan:
    """What the shutdown phase does, decided from who registered.

    The runtime goes first: SIGTERM, then SIGKILL at ``runtime_limit_ms`` if it
    is still there. Once it is gone, the external extensions subscribed to
    SHUTDOWN get the event and the others are SIGKILLed (as AWS's emulator
    does: rapid/shutdown.go, shutdownAgents); whatever lives at ``limit_ms``
    is SIGKILLed.
    """

    rule: ShutdownRule
    model: ShutdownModel
    limit_ms: int
    runtime_limit_ms: int
    deadline_ms: int
    terminate_runtime: bool  # SIGTERM the runtime (else SIGKILL it at once)
    shutdown_event_to: Tuple[str, ...]  # extension ids that get SHUTDOWN
    kill_after_runtime: Tuple[str, ...]  # external extension ids not subscribed to it


def plan_shutdown(
    extensions: List[Extension], now_ms: int, model: ShutdownModel = ShutdownModel.DOCS
) -> ShutdownPlan:
    if not extensions:
        rule = ShutdownRule.NO_EXTENSIONS
    elif any(e.external for e in extensions):
        rule = ShutdownRule.EXTERNAL
    else:
        rule = ShutdownRule.INTERNAL_ONLY
    limit, runtime_limit = shutdown_windows(rule, model)
    external = [e for e in extensions if e.external]
    return ShutdownPlan(
        rule=rule,
        model=model,
        limit_ms=limit,
        runtime_limit_ms=runtime_limit,
        deadline_ms=now_ms + limit,
        terminate_runtime=rule is not ShutdownRule.NO_EXTENSIONS,
        shutdown_event_to=tuple(e.extension_id for e in external if EVENT_SHUTDOWN in e.events),
        kill_after_runtime=tuple(
            e.extension_id for e in external if EVENT_SHUTDOWN not in e.events
        ),
    )


@dataclass
class _Invocation:
    request_id: str
    answered: bool = False
    status: str = "success"


class Lifecycle:
    """One execution environment's phases, registrations and deadlines."""

    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self.phase = Phase.UNINITIALIZED
        self.stop_requested = False
        self.pending: Deque[str] = collections.deque()
        self.extensions: Dict[str, Extension] = {}
        self.alive: Set[str] = set()
        self.current: Optional[_Invocation] = None
        self.shutdown_reason: Optional[str] = None
        self._awaiting_registration: Set[str] = set()
        self._extensions_spawned = False
        self._runtime_spawned = False
        self._runtime_at_next = False
        self._killed: List[str] = []
        self._plan: Optional[ShutdownPlan] = None
        self._runtime_step = False  # in shutdown: the runtime's part of the window
        self.frozen = False
        self._timer_tokens: Dict[str, int] = {}
        self._next_token = 0
        self._actions: List[Action] = []
        self._now_ms = 0

    # ------------------------------------------------------------ interface

    def handle(self, event: Event, now_ms: int) -> List[Action]:
        """Apply one event; return the actions the driver must carry out, in order."""
        self._now_ms = now_ms
        self._actions = []
        HANDLERS[type(event)](self, event)
        actions, self._actions = self._actions, []
        return actions

    @property
    def registered_extensions(self) -> List[Extension]:
        return list(self.extensions.values())

    # --------------------------------------------------------------- events

    def _on_invoke_requested(self, event: InvokeRequested) -> None:
        if self.stop_requested or self.phase is Phase.STOPPED:
            self._emit(
                AnswerInvoker(
                    event.request_id,
                    "unavailable",
                    "ServiceException",
                    "the execution environment is shutting down",
                )
            )
            return
        self.pending.append(event.request_id)
        if self.phase is Phase.UNINITIALIZED:
            self._begin_init()
        elif self.phase is Phase.READY:
            self._dispatch()

    def _on_process_started(self, event: ProcessStarted) -> None:
        self.alive.add(event.name)
        if event.name == RUNTIME:
            self._runtime_spawned = True

    def _on_extensions_spawned(self, event: ExtensionsSpawned) -> None:
        self._extensions_spawned = True
        self._awaiting_registration = set(event.names)
        self._maybe_spawn_runtime()

    def _on_extension_registered(self, event: ExtensionRegistered) -> None:
        if self.phase is not Phase.INIT:
            raise Refused(
                403,
                "Extension.RegistrationClosed",
                "extensions can register only during the init phase",
            )
        if len(self.extensions) >= self.limits.max_extensions:
            raise Refused(
                403,
                "Extension.TooManyExtensions",
                f"at most {self.limits.max_extensions} extensions can register",
            )
        unknown = [e for e in event.events if e not in KNOWN_EXTENSION_EVENTS]
        if unknown:
            raise Refused(
                400,
                "Extension.InvalidEventType",
                "unknown event type(s) {}; allowed: INVOKE, SHUTDOWN".format(", ".join(unknown)),
            )
        if any(e.name == event.name for e in self.extensions.values()):
            raise Refused(
                403,
                "Extension.InvalidExtensionName",
                f"an extension named {event.name!r} is already registered",
            )
        # External extensions are the executables this sandbox started from the
        # extensions directory; any other registrant lives inside the runtime.
        external = event.name in self._awaiting_registration
        if not external and EVENT_SHUTDOWN in event.events:
            # AWS's emulator: errorType Extension.InvalidEventType, the reason
            # (its errEventNotSupportedForInternalAgent) first in the message.
            raise Refused(
                403,
                "Extension.InvalidEventType",
                "ShutdownEventNotSupportedForInternalExtension: internal extension "
                f"{event.name!r} cannot subscribe to SHUTDOWN",
            )
        self.extensions[event.extension_id] = Extension(
            extension_id=event.extension_id,
            name=event.name,
            external=external,
            events=tuple(event.events),
        )
        self._emit(ExtensionAccepted(event.extension_id, event.name, external, tuple(event.events)))
        self._awaiting_registration.discard(event.name)
        self._maybe_spawn_runtime()

    def _on_runtime_next(self, event: RuntimeNext) -> None:
        if self.phase is Phase.INIT:
            self._runtime_at_next = True
            self._maybe_finish_init()
        elif self.phase is Phase.READY:
            self._runtime_at_next = True
        elif self.phase is Phase.INVOKE:
            assert self.current is not None
            if not self.current.answered:
                raise Refused(
                    403,
                    "InvalidStateTransition",
                    "the runtime asked for the next invocation before answering "
                    f"request {self.current.request_id}",
                )
            self._runtime_at_next = True
            self._maybe_finish_invoke()
        # In shutdown (or before a restart) a runtime's next is never answered.

    def _on_extension_next(self, event: ExtensionNext) -> None:
        ext = self._extension(event.extension_id)
        ext.at_next = True
        if self.phase is Phase.INIT:
            self._maybe_finish_init()
        elif self.phase is Phase.INVOKE:
            self._maybe_finish_invoke()

    def _on_runtime_responded(self, event: RuntimeResponded) -> None:
        current = self.current
        if (
            self.phase is not Phase.INVOKE
            or current is None
            or current.request_id != event.request_id
            or current.answered
        ):
            raise Refused(
                400,
                "InvalidRequestID",
                f"request {event.request_id} is not the invocation in progress, or was already answered",
            )
        current.answered = True
        current.status = "error" if event.is_error else "success"
        self._emit(AnswerInvoker(current.request_id, "error" if event.is_error else "response"))

    def _on_init_error_reported(self, event: InitErrorReported) -> None:
        if event.source != RUNTIME:
            self._extension(event.source)
        if self.phase is not Phase.INIT:
            raise Refused(403, "InvalidStateTransition", "init/error is accepted only during init")
        if event.source == RUNTIME:
            self._fail_init("error", event.error_type, "init-error", None)
        else:
            name = self.extensions[event.source].name
            self._fail_init("error", event.error_type, "failure", f"extension {name} failed init")

    def _on_exit_error_reported(self, event: ExitErrorReported) -> None:
        self._extension(event.extension_id)
        if self.phase in (Phase.INIT, Phase.READY, Phase.INVOKE):
            if self.phase is Phase.INIT:
                self._fail_init("error", event.error_type, "failure", "extension exit error")
                return
            self._fail_invoke(event.error_type, "extension reported exit error")
            self._begin_shutdown("failure")

    def _on_extension_launch_failed(self, event: ExtensionLaunchFailed) -> None:
        if self.phase is Phase.INIT:
            self._fail_init(
                "error",
                "Extension.LaunchError",
                "failure",
                f"extension {event.name} could not be launched: {event.message}",
            )

    def _on_process_exited(self, event: ProcessExited) -> None:
        self.alive.discard(event.name)
        if self.phase is Phase.SHUTDOWN:
            if event.name == RUNTIME and self._runtime_step:
                self._shutdown_extensions()
            if not self.alive:
                self._end_shutdown()
            return
        if self.phase not in (Phase.INIT, Phase.READY, Phase.INVOKE):
            return
        if event.name == RUNTIME:
            error_type = "Runtime.ExitError"
            message = f"Runtime exited with error: {event.description}"
        else:
            error_type = "Extension.Crash"
            message = f"Extension {event.name} exited: {event.description}"
        if self.phase is Phase.INIT:
            self._fail_init("error", error_type, "failure", message)
        else:
            self._fail_invoke(error_type, message)
            self._begin_shutdown("failure")

    def _on_timer_fired(self, event: TimerFired) -> None:
        if self._timer_tokens.get(event.timer) != event.token:
            return  # superseded or cancelled
        del self._timer_tokens[event.timer]
        if event.timer == "init" and self.phase is Phase.INIT:
            self._fail_init(
                "timeout",
                "Runtime.InitTimeout",
                "failure",
                f"init did not complete within {self.limits.init_timeout_ms} ms",
            )
        elif event.timer == "invoke" and self.phase is Phase.INVOKE:
            assert self.current is not None
            if not self.current.answered:
                self.current.answered = True
                self._emit(AnswerInvoker(self.current.request_id, "timeout"))
            self.current.status = "timeout"
            self._end_invoke()
            self._begin_shutdown("timeout")
        elif event.timer == "idle" and self.phase is Phase.READY:
            self._begin_shutdown("spindown")
        elif event.timer == "runtime-shutdown" and self.phase is Phase.SHUTDOWN:
            # Its window is over; the extensions' turn comes when it is reaped.
            if RUNTIME in self.alive and RUNTIME not in self._killed:
                self._kill(RUNTIME)
        elif event.timer == "shutdown" and self.phase is Phase.SHUTDOWN:
            for name in sorted(self.alive - set(self._killed)):
                self._kill(name)

    def _on_stop_requested(self, event: StopRequested) -> None:
        if self.stop_requested:
            return
        self.stop_requested = True
        while self.pending:
            self._emit(
                AnswerInvoker(
                    self.pending.popleft(),
                    "unavailable",
                    "ServiceException",
                    "the execution environment is shutting down",
                )
            )
        if self.phase is Phase.UNINITIALIZED:
            self._enter(Phase.STOPPED, "sandbox stopped")
            self._emit(Exit(0))
        elif self.phase in (Phase.INIT, Phase.READY, Phase.INVOKE):
            if self.phase is Phase.INIT:
                self._emit(InitEnded("error", "Sandbox.Stopped"))
            if self.phase is Phase.INVOKE:
                # The service, not the function, ended it: an error of the service
                # (an AMQP consumer then requeues the request for another one).
                self._fail_invoke(
                    "Sandbox.Stopped", "the execution environment was shut down", "unavailable"
                )
            self._begin_shutdown("spindown")
        # In SHUTDOWN the flag makes the end of this shutdown stop the sandbox.

    # -------------------------------------------------------------- helpers

    def _emit(self, action: Action) -> None:
        self._actions.append(action)

    def _enter(self, phase: Phase, reason: str) -> None:
        if phase not in TRANSITIONS[self.phase]:
            raise AssertionError(f"no transition {self.phase} -> {phase}")
        old, self.phase = self.phase, phase
        self._emit(PhaseChanged(old, phase, reason))

    def _start_timer(self, timer: str, delay_ms: int) -> None:
        self._next_token += 1
        self._timer_tokens[timer] = self._next_token
        self._emit(StartTimer(timer, delay_ms, self._next_token))

    def _cancel_timer(self, timer: str) -> None:
        self._timer_tokens.pop(timer, None)

    def _extension(self, extension_id: str) -> Extension:
        ext = self.extensions.get(extension_id)
        if ext is None:
            raise Refused(
                403,
                "Extension.UnknownExtensionIdentifier",
                f"unknown extension identifier {extension_id!r}",
            )
        return ext

    def _begin_init(self) -> None:
        self._enter(Phase.INIT, "invocation arrived")
        self._start_timer("init", self.limits.init_timeout_ms)
        self._emit(SpawnExtensions())

    def _maybe_spawn_runtime(self) -> None:
        if (
            self.phase is Phase.INIT
            and self._extensions_spawned
            and not self._awaiting_registration
            and not self._runtime_spawned
        ):
            self._runtime_spawned = True
            self._emit(SpawnRuntime())

    def _ready_extensions(self) -> Tuple[Tuple[str, Tuple[str, ...]], ...]:
        return tuple((e.name, e.events) for e in self.extensions.values() if e.at_next)

    def _everyone_at_next(self) -> bool:
        return self._runtime_at_next and all(e.at_next for e in self.extensions.values())

    def _maybe_finish_init(self) -> None:
        if self._awaiting_registration or not self._everyone_at_next():
            return
        self._cancel_timer("init")
        self._emit(InitEnded("ok", ready_extensions=self._ready_extensions()))
        self._enter(Phase.READY, "init complete")
        self._dispatch()

    def _fail_init(
        self, status: str, error_type: str, answer_kind: str, message: Optional[str]
    ) -> None:
        self._cancel_timer("init")
        self._emit(InitEnded(status, error_type, self._ready_extensions()))
        # The invocation that caused this init gets its error; any others wait
        # for a fresh init, as each would on Lambda.
        if self.pending:
            self._emit(AnswerInvoker(self.pending.popleft(), answer_kind, error_type, message))
        self._begin_shutdown("failure")

    def _dispatch(self) -> None:
        if not self.pending:
            if self.limits.idle_timeout_ms is not None:
                self._start_timer("idle", self.limits.idle_timeout_ms)
            self._maybe_freeze()
            return
        self._cancel_timer("idle")
        self._thaw()
        request_id = self.pending.popleft()
        self.current = _Invocation(request_id)
        self._enter(Phase.INVOKE, f"invocation {request_id}")
        self._emit(InvokeStarted(request_id))
        deadline = self._now_ms + self.limits.invoke_timeout_ms
        self._runtime_at_next = False
        self._emit(DeliverInvoke(request_id, deadline))
        for ext in self.extensions.values():
            if EVENT_INVOKE in ext.events:
                ext.at_next = False
                self._emit(
                    DeliverEvent(
                        ext.extension_id,
                        {
                            "eventType": EVENT_INVOKE,
                            "deadlineMs": deadline,
                            "requestId": request_id,
                        },
                    )
                )
        self._start_timer("invoke", self.limits.invoke_timeout_ms)

    def _maybe_finish_invoke(self) -> None:
        if self.current is None or not self.current.answered or not self._everyone_at_next():
            return
        self._cancel_timer("invoke")
        self._end_invoke()
        self._enter(Phase.READY, "invocation complete")
        self._dispatch()

    def _end_invoke(self) -> None:
        assert self.current is not None
        self._emit(InvokeEnded(self.current.request_id, self.current.status))
        self.current = None

    def _fail_invoke(self, error_type: str, message: str, kind: str = "failure") -> None:
        """The environment broke during (or between) invocations; ``kind``: the
        answer's (``failure`` of the function, ``unavailable`` of the service)."""
        self._cancel_timer("invoke")
        if self.current is None:
            return
        if not self.current.answered:
            self.current.answered = True
            self.current.status = "failure"
            self._emit(
                AnswerInvoker(
                    self.current.request_id,
                    kind,
                    error_type,
                    f"RequestId: {self.current.request_id} Error: {message}",
                )
            )
        # An invocation already answered keeps its status: its caller has it.
        self._end_invoke()

    def _kill(self, name: str) -> None:
        self._killed.append(name)
        self._emit(SendSignal(name, "SIGKILL"))

    def _maybe_freeze(self) -> None:
        """Idle with nothing pending: Lambda freezes the environment (FACTS.md, "Shutdown phase")."""
        if (
            self.limits.freeze
            and not self.frozen
            and self.phase is Phase.READY
            and not self.pending
            and self.alive
            and self._everyone_at_next()
        ):
            self.frozen = True
            self._emit(Freeze())

    def _thaw(self, settle: bool = False) -> None:
        if self.frozen:
            self.frozen = False
            self._emit(Thaw(settle))

    def _begin_shutdown(self, reason: str) -> None:
        for timer in ("init", "invoke", "idle"):
            self._cancel_timer(timer)
        self._enter(Phase.SHUTDOWN, reason)
        self.shutdown_reason = reason
        self._killed = []
        plan = plan_shutdown(self.registered_extensions, self._now_ms, self.limits.shutdown_model)
        self._plan = plan
        self._emit(
            ShutdownStarted(
                reason,
                plan.rule,
                plan.limit_ms,
                plan.deadline_ms,
                plan.runtime_limit_ms,
                plan.model,
            )
        )
        if not plan.terminate_runtime:
            # SIGKILL ends a stopped process too: nothing is thawed first, so
            # nothing of the function runs again (as on Lambda: SIGKILL at once).
            self.frozen = False
            for name in sorted(self.alive):
                self._kill(name)
        else:
            # A frozen process would hold SIGTERM pending and never run its handler.
            self._thaw(settle=True)
            if RUNTIME in self.alive:
                self._runtime_step = True
                self._emit(SendSignal(RUNTIME, "SIGTERM"))
                if plan.runtime_limit_ms < plan.limit_ms:
                    self._start_timer("runtime-shutdown", plan.runtime_limit_ms)
            else:
                self._shutdown_extensions()
        if not self.alive:
            self._end_shutdown()
        elif plan.limit_ms > 0:
            self._start_timer("shutdown", plan.limit_ms)

    def _shutdown_extensions(self) -> None:
        """The runtime is gone: SHUTDOWN to the subscribed external extensions, SIGKILL to the rest."""
        self._runtime_step = False
        self._cancel_timer("runtime-shutdown")
        plan = self._plan
        assert plan is not None
        for extension_id in plan.shutdown_event_to:
            ext = self.extensions[extension_id]
            if ext.name in self.alive:
                self._emit(
                    DeliverEvent(
                        extension_id,
                        {
                            "eventType": EVENT_SHUTDOWN,
                            "shutdownReason": self.shutdown_reason,
                            "deadlineMs": plan.deadline_ms,
                        },
                    )
                )
        for extension_id in plan.kill_after_runtime:
            name = self.extensions[extension_id].name
            if name in self.alive and name not in self._killed:
                self._kill(name)

    def _end_shutdown(self) -> None:
        self._cancel_timer("shutdown")
        self._cancel_timer("runtime-shutdown")
        self._runtime_step = False
        self._plan = None
        assert self.shutdown_reason is not None
        self._emit(ShutdownEnded(self.shutdown_reason, tuple(self._killed)))
        self._emit(EnvironmentReset())
        self.extensions = {}
        self.alive = set()
        self.current = None
        self._awaiting_registration = set()
        self._extensions_spawned = False
        self._runtime_spawned = False
        self._runtime_at_next = False
        self._killed = []
        self.frozen = False
        if self.stop_requested:
            self._enter(Phase.STOPPED, "sandbox stopped")
            self._emit(Exit(0))
        else:
            self._enter(Phase.UNINITIALIZED, "environment reset")
            if self.pending:
                self._begin_init()


# Which method handles each event: an explicit table rather than a name built
# from the event's class, so that mypy checks each pairing (``_on``) and
# tests/unit/test_sandbox_dispatch.py checks that every event has a handler.
_E = TypeVar("_E", bound=Event)
_Handler = Callable[[Lifecycle, Any], None]


def _on(
    event_type: Type[_E], handler: Callable[[Lifecycle, _E], None]
) -> Tuple[Type[Event], _Handler]:
    return event_type, handler


def _table(*entries: Tuple[Type[Event], _Handler]) -> Dict[Type[Event], _Handler]:
    table = dict(entries)
    if len(table) != len(entries):
        raise ValueError("an event type has two handlers")
    return table


HANDLERS = _table(
    _on(InvokeRequested, Lifecycle._on_invoke_requested),
    _on(ProcessStarted, Lifecycle._on_process_started),
    _on(ExtensionsSpawned, Lifecycle._on_extensions_spawned),
    _on(ExtensionRegistered, Lifecycle._on_extension_registered),
    _on(RuntimeNext, Lifecycle._on_runtime_next),
    _on(ExtensionNext, Lifecycle._on_extension_next),
    _on(RuntimeResponded, Lifecycle._on_runtime_responded),
    _on(InitErrorReported, Lifecycle._on_init_error_reported),
    _on(ExitErrorReported, Lifecycle._on_exit_error_reported),
    _on(ProcessExited, Lifecycle._on_process_exited),
    _on(ExtensionLaunchFailed, Lifecycle._on_extension_launch_failed),
    _on(TimerFired, Lifecycle._on_timer_fired),
    _on(StopRequested, Lifecycle._on_stop_requested),
)


# The vocabulary is re-exported: callers write lifecycle.InvokeRequested, etc.
__all__ = [
    "EVENT_INVOKE",
    "EVENT_SHUTDOWN",
    "HANDLERS",
    "KNOWN_EXTENSION_EVENTS",
    "RUNTIME",
    "SHUTDOWN_LIMIT_MS",
    "TRANSITIONS",
    "Action",
    "AnswerInvoker",
    "DeliverEvent",
    "DeliverInvoke",
    "EnvironmentReset",
    "Event",
    "Exit",
    "ExitErrorReported",
    "Extension",
    "ExtensionAccepted",
    "ExtensionLaunchFailed",
    "ExtensionNext",
    "ExtensionRegistered",
    "ExtensionsSpawned",
    "Freeze",
    "InitEnded",
    "InitErrorReported",
    "InvokeEnded",
    "InvokeRequested",
    "InvokeStarted",
    "Lifecycle",
    "Limits",
    "Phase",
    "PhaseChanged",
    "ProcessExited",
    "ProcessStarted",
    "Refused",
    "RuntimeNext",
    "RuntimeResponded",
    "SendSignal",
    "ShutdownEnded",
    "ShutdownModel",
    "ShutdownPlan",
    "ShutdownRule",
    "ShutdownStarted",
    "SpawnExtensions",
    "SpawnRuntime",
    "StartTimer",
    "StopRequested",
    "Thaw",
    "TimerFired",
    "plan_shutdown",
    "shutdown_windows",
]
