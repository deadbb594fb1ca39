"""The lifecycle's vocabulary: phases, limits, and the events and actions of the machine.

``lifecycle.Lifecycle`` takes these events and returns these actions; the
driver (environment.py) produces the one and carries out the other. Kept
apart from the machine so that each reads on its own.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any, Dict, Optional, Set, Tuple

RUNTIME = "runtime"  # the runtime's name among the environment's processes

EVENT_INVOKE = "INVOKE"
EVENT_SHUTDOWN = "SHUTDOWN"
KNOWN_EXTENSION_EVENTS = (EVENT_INVOKE, EVENT_SHUTDOWN)


class Phase(enum.Enum):
    UNINITIALIZED = "uninitialized"  # no processes; the next invoke starts init
    INIT = "init"
    READY = "ready"  # warm and idle: runtime and extensions parked in next
    INVOKE = "invoke"
    SHUTDOWN = "shutdown"
    STOPPED = "stopped"  # the sandbox is exiting


# Every allowed phase change. Anything else is a bug in the machine, caught by
# `_enter` rather than silently producing an impossible timeline.
TRANSITIONS: Dict[Phase, Set[Phase]] = {
    Phase.UNINITIALIZED: {Phase.INIT, Phase.STOPPED},
    Phase.INIT: {Phase.READY, Phase.SHUTDOWN},
    Phase.READY: {Phase.INVOKE, Phase.SHUTDOWN},
    Phase.INVOKE: {Phase.READY, Phase.SHUTDOWN},
    Phase.SHUTDOWN: {Phase.UNINITIALIZED, Phase.STOPPED},
    Phase.STOPPED: set(),
}


class ShutdownRule(enum.Enum):
    NO_EXTENSIONS = "no-extensions"
    INTERNAL_ONLY = "internal-only"
    EXTERNAL = "external"


class ShutdownModel(enum.Enum):
    """Which source's shutdown windows to follow (they differ; both shut the runtime down first).

    DOCS (the default): the Extensions API docs' limits (0 / 500 / 2,000 ms)
    and AWS's graceful-shutdown sample, which "reserves up to 300 ms (500 ms
    for a runtime with an internal extension) for the runtime".
    EMULATOR: AWS's Runtime Interface Emulator (internal/lambda/rapid/shutdown.go,
    rapidcore/server.go): any extension gives a 2,000 ms window of which the
    runtime gets ``runtimeDeadlineShare = 0.3``.
    """

    DOCS = "docs"
    EMULATOR = "emulator"


# The shutdown phase's time limits from the Extensions API docs: SIGKILL at
# once with no extension, 500 ms with only internal ones, 2,000 ms with any
# external extension.
SHUTDOWN_LIMIT_MS: Dict[ShutdownRule, int] = {
    ShutdownRule.NO_EXTENSIONS: 0,
    ShutdownRule.INTERNAL_ONLY: 500,
    ShutdownRule.EXTERNAL: 2000,
}
# The runtime's part of it, after which it is SIGKILLed and the external
# extensions get their SHUTDOWN event (graceful-shutdown sample, README).
RUNTIME_LIMIT_MS: Dict[ShutdownRule, int] = {
    ShutdownRule.NO_EXTENSIONS: 0,
    ShutdownRule.INTERNAL_ONLY: 500,
    ShutdownRule.EXTERNAL: 300,
}
EMULATOR_WINDOW_MS = 2000  # rapidcore: resetDefaultTimeoutMs, defaultSigtermResetTimeoutMs
EMULATOR_RUNTIME_SHARE = 0.3  # rapid/shutdown.go: runtimeDeadlineShare


def shutdown_windows(rule: ShutdownRule, model: ShutdownModel) -> Tuple[int, int]:
    """(the whole phase's limit, the runtime's part of it) in ms, for a rule under a model."""
    if rule is ShutdownRule.NO_EXTENSIONS:
        return 0, 0
    if model is ShutdownModel.EMULATOR:
        return EMULATOR_WINDOW_MS, int(EMULATOR_WINDOW_MS * EMULATOR_RUNTIME_SHARE)
    return SHUTDOWN_LIMIT_MS[rule], RUNTIME_LIMIT_MS[rule]


@dataclass(frozen=True)
class Limits:
    init_timeout_ms: int = 10_000
    invoke_timeout_ms: int = 3_000
    idle_timeout_ms: Optional[int] = None
    max_extensions: int = 10
    shutdown_model: ShutdownModel = ShutdownModel.DOCS
    # Freeze the environment's processes while it is idle, as Lambda does
    # (LAMBDA_SANDBOX_FREEZE=0 turns it off, for debugging).
    freeze: bool = True


class Refused(Exception):
    """A request the machine will not accept; the state is unchanged."""

    def __init__(self, status: int, error_type: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.error_type = error_type
        self.message = message


# Events and actions are frozen dataclasses under one base each, so that
# "every event" is a question the code can answer (issubclass), and the
# dispatch tables in lifecycle.py and environment.py can be checked against
# it (tests/unit/test_sandbox_dispatch.py).


class Event:
    """Something that happened, fed to ``Lifecycle.handle``."""


class Action:
    """Something the driver must do, returned by ``Lifecycle.handle``."""


# ---------------------------------------------------------------- events in


@dataclass(frozen=True)
class InvokeRequested(Event):
    request_id: str


@dataclass(frozen=True)
class ProcessStarted(Event):
    name: str


@dataclass(frozen=True)
class ExtensionsSpawned(Event):
    names: Tuple[str, ...]


@dataclass(frozen=True)
class ExtensionRegistered(Event):
    extension_id: str
    name: str
    events: Tuple[str, ...]


@dataclass(frozen=True)
class RuntimeNext(Event):
    pass


@dataclass(frozen=True)
class ExtensionNext(Event):
    extension_id: str


@dataclass(frozen=True)
class RuntimeResponded(Event):
    request_id: str
    is_error: bool = False


@dataclass(frozen=True)
class InitErrorReported(Event):
    source: str  # RUNTIME or an extension id
    error_type: str


@dataclass(frozen=True)
class ExitErrorReported(Event):
    extension_id: str
    error_type: str


@dataclass(frozen=True)
class ProcessExited(Event):
    name: str
    description: str  # "exit status 1", "signal: killed"


@dataclass(frozen=True)
class ExtensionLaunchFailed(Event):
    """An external extension could not be started (not executable, exec format
    error): init fails with Extension.LaunchError (AWS's emulator:
    fatalerror.AgentLaunchError, ``rapid/handlers.go``)."""

    name: str
    message: str


@dataclass(frozen=True)
class TimerFired(Event):
    timer: str
    token: int


@dataclass(frozen=True)
class StopRequested(Event):
    pass


# --------------------------------------------------------------- actions out


@dataclass(frozen=True)
class PhaseChanged(Action):
    old: Phase
    new: Phase
    reason: str


@dataclass(frozen=True)
class SpawnExtensions(Action):
    pass


@dataclass(frozen=True)
class SpawnRuntime(Action):
    pass


@dataclass(frozen=True)
class ExtensionAccepted(Action):
    """A registration was accepted. Emitted before anything it triggers (the last
    external extension's registration spawns the runtime), so that the driver
    records the registration before the runtime's start."""

    extension_id: str
    name: str
    external: bool
    events: Tuple[str, ...]


@dataclass(frozen=True)
class InitEnded(Action):
    status: str  # "ok" | "error" | "timeout"
    error_type: Optional[str] = None
    # (name, events) of each extension that registered and called next, in
    # registration order: Lambda writes an EXTENSION line for each.
    ready_extensions: Tuple[Tuple[str, Tuple[str, ...]], ...] = ()


@dataclass(frozen=True)
class DeliverInvoke(Action):
    request_id: str
    deadline_ms: int


@dataclass(frozen=True)
class DeliverEvent(Action):
    extension_id: str
    payload: Dict[str, Any]


@dataclass(frozen=True)
class InvokeStarted(Action):
    request_id: str


@dataclass(frozen=True)
class InvokeEnded(Action):
    request_id: str
    status: str  # "success" | "error" | "timeout" | "failure"


@dataclass(frozen=True)
class AnswerInvoker(Action):
    """Tell the waiting invoker how its invocation went.

    kind: "response" / "error" (the runtime's own body), "init-error" (the
    body posted to init/error), "timeout", "failure" (error_type and message
    given here), "unavailable" (the sandbox is stopping; a service error).
    """

    request_id: str
    kind: str
    error_type: Optional[str] = None
    message: Optional[str] = None


@dataclass(frozen=True)
class StartTimer(Action):
    timer: str
    delay_ms: int
    token: int


@dataclass(frozen=True)
class SendSignal(Action):
    name: str  # RUNTIME or an extension's name
    signal: str  # "SIGTERM" | "SIGKILL"


@dataclass(frozen=True)
class ShutdownStarted(Action):
    reason: str
    rule: ShutdownRule
    limit_ms: int
    deadline_ms: int
    runtime_limit_ms: int = 0
    model: ShutdownModel = ShutdownModel.DOCS


@dataclass(frozen=True)
class Freeze(Action):
    """Stop every process of the environment (SIGSTOP to their groups): it is idle."""


@dataclass(frozen=True)
class Thaw(Action):
    """Let them run again (SIGCONT), before the next event or the shutdown's signals.

    ``settle``: wait (bounded) until every thread has resumed before the next
    action. A process-directed signal sent while a process's threads are still
    waking from SIGSTOP may be given to any of them (the kernel prefers a
    thread with no signal pending), so a SIGTERM could miss the main thread
    blocked in a call; Lambda's freezer involves no signal, so there the
    runtime gets SIGTERM as if it had never been frozen.
    """

    settle: bool = False


@dataclass(frozen=True)
class ShutdownEnded(Action):
    reason: str
    killed: Tuple[str, ...]


@dataclass(frozen=True)
class EnvironmentReset(Action):
    """Forget the dead environment: close its mailboxes, drop registrations."""


@dataclass(frozen=True)
class Exit(Action):
    code: int
