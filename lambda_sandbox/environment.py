"""The driver: carries out the lifecycle machine's actions with real I/O.

The HTTP loop (and the threads of the requests it hands off), the reaper and
timers all come here; every call feeds one event to the machine under one lock
and executes the actions it returns (spawn, deliver, signal, answer, log).
Waits (a runtime or extension parked in next, an invoker waiting for its
result) happen outside the lock: on per-party mailboxes, blocking or with a
callback for the loop, and through each invocation's ``answered`` callback.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import threading
import time
import uuid
from typing import (
    Any,
    Callable,
    Dict,
    List,
    Optional,
    Sequence,
    Tuple,
    Type,
    TypeVar,
)

from lambda_sandbox import lifecycle as lc
from lambda_sandbox import procfs
from lambda_sandbox import telemetry_records as records
from lambda_sandbox.answers import answer_for, oversized_response_body
from lambda_sandbox.child_env import child_environment, log_stream_name
from lambda_sandbox.config import Config
from lambda_sandbox.console import (
    RUNTIME_VERSION,
    Console,
    billed_duration_ms,
    end_line,
    extension_launch_error_line,
    extension_ready_line,
    init_report_line,
    init_start_line,
    iso_timestamp,
    report_line,
    runtime_version_arn,
    start_line,
    timed_out_message,
)
from lambda_sandbox.eventlog import EventLog, Kind
from lambda_sandbox.invocations import (
    Invocation,
    LogTail,
    RuntimeDelivery,
    now_ms,
)
from lambda_sandbox.mailbox import Mailbox
from lambda_sandbox.processes import Child, Supervisor, describe_exit
from lambda_sandbox.procfs import StatusFile
from lambda_sandbox.telemetry import FLUSH_LIMIT_S, TelemetryHub
from lambda_sandbox.telemetry_subscription import SubscriptionError, parse_subscription
from lambda_sandbox.timers import Timer, TimerWheel

log = logging.getLogger("lambda_sandbox")

# How long a thaw before the shutdown's signals waits for the threads to resume.
THAW_SETTLE_S = 0.05


class ExecutionEnvironment:
    """One execution environment: its lifecycle, processes, mailboxes and Runtime API.

    ``index`` tells environments apart in the event log (``env``) when the
    sandbox runs several (MAX_CONCURRENCY). The Supervisor is the sandbox's,
    shared: there is one reaper per process.
    """

    def __init__(
        self,
        index: int,
        config: Config,
        runtime_cmd: Sequence[str],
        event_log: EventLog,
        console: Console,
        supervisor: Supervisor,
        timers: TimerWheel,
    ) -> None:
        self.index = index
        self._timers = timers
        self.config = config
        self.runtime_cmd = list(runtime_cmd)
        self.event_log = event_log
        self.console = console
        self.runtime_api_address = ""  # "host:port", set once the server is bound
        self.exited = threading.Event()
        self.exit_code = 0
        self._lock = threading.RLock()
        self._machine = lc.Lifecycle(
            lc.Limits(
                init_timeout_ms=int(config.init_timeout_s * 1000),
                invoke_timeout_ms=int(config.timeout_s * 1000),
                idle_timeout_ms=(
                    None if config.idle_timeout_s is None else int(config.idle_timeout_s * 1000)
                ),
                shutdown_model=lc.ShutdownModel(config.shutdown_model),
                freeze=config.freeze,
            )
        )
        self._supervisor = supervisor
        self._log_lines: Optional[LogTail] = None  # the current invocation's log (Tail), bounded
        self._current: Optional[Invocation] = None
        self._processes: Dict[str, Child] = {}
        # Every process group the environment started, exited leaders included:
        # what is left in them is killed when the shutdown ends.
        self._groups: List[Child] = []
        self._runtime_box: Mailbox[RuntimeDelivery] = Mailbox()
        self._extension_boxes: Dict[str, Mailbox[Dict[str, Any]]] = {}
        self._extension_names: Dict[str, str] = {}
        self._invocations: Dict[str, Invocation] = {}
        self._invoke_started: Dict[str, float] = {}
        self._init_started: Optional[float] = None
        self._init_duration_ms: Optional[float] = None
        self._shutdown_started: Optional[float] = None
        self._init_error_body = b""
        self.function_arn = (
            f"arn:aws:lambda:{config.region}:000000000000:function:{config.function_name}"
        )
        # Telemetry API and Logs API subscriptions, and what the environment emits to them.
        self.telemetry = TelemetryHub(event_log, index)
        self._init_runtime_done = False
        # The last timer started under each name (a newer one makes it stale).
        self._timer_handles: Dict[str, Timer] = {}
        # The runtime's /proc/<pid>/status, open while it lives (REPORT's memory).
        self._runtime_status: Optional[StatusFile] = None

    # ------------------------------------------------------ invoker side

    def start_invoke(self, invocation: Invocation, answered: Callable[[], None]) -> None:
        """Begin ``invocation``; ``answered`` is called once its result is set (the
        machine always answers: its timers guarantee it), under the lock, from
        whichever thread decided it: it must only hand the result on."""
        invocation.answered = answered
        with self._lock:
            self._invocations[invocation.request_id] = invocation
            self._post(lc.InvokeRequested(invocation.request_id))

    def stop(self, why: str) -> None:
        log.debug("environment %d stopping: %s", self.index, why)
        with self._lock:
            self._post(lc.StopRequested())

    # ------------------------------------------------------ runtime side

    def runtime_next(
        self, abandoned: Callable[[], bool] = lambda: False
    ) -> Optional[RuntimeDelivery]:
        """The next invocation; None when the environment was reset, or the caller
        went away (``abandoned``) first."""
        item = self._at_next().get(abandoned)
        return item if isinstance(item, RuntimeDelivery) else None

    def runtime_next_later(
        self, deliver: Callable[[Optional[RuntimeDelivery]], None]
    ) -> Callable[[], None]:
        """``runtime_next`` without blocking: ``deliver`` gets the invocation (None
        when the environment was reset), under the mailbox's lock, so it must only
        hand it on. Returns what gives the wait up (the caller went away)."""
        box = self._at_next()

        def got(item: object) -> None:
            deliver(item if isinstance(item, RuntimeDelivery) else None)

        token = box.get_later(got)

        def give_up() -> None:
            box.cancel(token)

        return give_up

    def _at_next(self) -> "Mailbox[RuntimeDelivery]":
        """The runtime is at next: tell the machine; the mailbox to wait on."""
        with self._lock:
            self._drain_runtime_output()
            box = self._runtime_box
            if self._machine.phase is lc.Phase.INIT:
                # Before the event: it may end init (initReport follows it).
                self._init_runtime_done_once("success")
            self._post(lc.RuntimeNext())
        return box

    def runtime_response(
        self, request_id: str, body: bytes, oversized: Optional[int] = None
    ) -> None:
        with self._lock:
            self._drain_runtime_output()
            invocation = self._invocations.get(request_id)
            if oversized is None:
                if invocation is not None:
                    invocation.runtime_body = body
                self._runtime_done(request_id, "success", len(body))
                self._post(lc.RuntimeResponded(request_id))
                return
            self._runtime_done(request_id, "failure", oversized, "Function.ResponseSizeTooLarge")
            # Lambda answers the invoker with an error for an oversized response.
            if invocation is not None:
                invocation.runtime_body = oversized_response_body(oversized)
            self._post(lc.RuntimeResponded(request_id, is_error=True))

    def runtime_error(self, request_id: str, body: bytes, error_type: Optional[str]) -> None:
        with self._lock:
            self._drain_runtime_output()
            invocation = self._invocations.get(request_id)
            if invocation is not None:
                invocation.runtime_body = body
                invocation.function_error_type = error_type
            self._runtime_done(request_id, "error", len(body), error_type or "Runtime.Unknown")
            self._post(lc.RuntimeResponded(request_id, is_error=True))

    def runtime_init_error(self, body: bytes, error_type: str) -> None:
        with self._lock:
            self._init_error_body = body
            self._init_runtime_done_once("error", error_type)
            self._post(lc.InitErrorReported(lc.RUNTIME, error_type))

    # ---------------------------------------------------- extension side

    def register_extension(self, name: str, events: Sequence[str]) -> str:
        extension_id = str(uuid.uuid4())
        with self._lock:
            self._extension_boxes[extension_id] = Mailbox()
            self._extension_names[extension_id] = name
            try:
                self._post(lc.ExtensionRegistered(extension_id, name, tuple(events)))
            except lc.Refused as refused:
                del self._extension_boxes[extension_id]
                del self._extension_names[extension_id]
                self._log(
                    Kind.EXTENSION_REFUSED,
                    name=name,
                    status=refused.status,
                    error_type=refused.error_type,
                )
                raise
        return extension_id

    def subscribe_telemetry(self, extension_id: str, api: str, body: bytes) -> None:
        """A Telemetry API or Logs API subscription (Refused when it cannot be taken)."""
        with self._lock:
            extension = self._machine.extensions.get(extension_id)
            if extension is None:
                raise lc.Refused(
                    403, "Extension.UnknownExtensionIdentifier", f"Unknown extension {extension_id}"
                )
            if not extension.external:
                raise lc.Refused(
                    403,
                    "Extension.InternalExtensionNotSupported",
                    "only external extensions may subscribe to telemetry",
                )
        try:
            subscription = parse_subscription(api, body)
            self.telemetry.subscribe(extension_id, extension.name, subscription)
        except SubscriptionError as err:
            raise lc.Refused(err.status, err.error_type, err.message) from None

    def extension_next(
        self, extension_id: str, abandoned: Callable[[], bool] = lambda: False
    ) -> Optional[Dict[str, Any]]:
        with self._lock:
            box = self._extension_boxes.get(extension_id)
            self._post(lc.ExtensionNext(extension_id))
            assert box is not None  # the machine refuses unknown identifiers
        item = box.get(abandoned)
        return item if isinstance(item, dict) else None

    def extension_init_error(self, extension_id: str, error_type: str) -> None:
        with self._lock:
            self._post(lc.InitErrorReported(extension_id, error_type))

    def extension_exit_error(self, extension_id: str, error_type: str) -> None:
        with self._lock:
            self._post(lc.ExitErrorReported(extension_id, error_type))

    # ------------------------------------------------------------ driver

    def _post(self, event: lc.Event) -> None:
        """Feed one event (and the follow-ups its actions produce). Lock held."""
        followups: List[lc.Event] = []
        for action in self._machine.handle(event, now_ms()):
            self._execute(action, followups)
        while followups:
            follow = followups.pop(0)
            for action in self._machine.handle(follow, now_ms()):
                self._execute(action, followups)

    def _execute(self, action: lc.Action, followups: List[lc.Event]) -> None:
        EXECUTORS[type(action)](self, action, followups)

    def _do_phase_changed(self, action: lc.PhaseChanged, followups: List[lc.Event]) -> None:
        log.debug("phase %s -> %s (%s)", action.old.value, action.new.value, action.reason)
        self._log(
            Kind.PHASE,
            **{"from": action.old.value, "to": action.new.value, "reason": action.reason},
        )
        if action.new is lc.Phase.INIT:
            self._init_started = time.monotonic()
            self._init_duration_ms = None
            self._say(
                init_start_line(
                    RUNTIME_VERSION, runtime_version_arn(self.config.region, RUNTIME_VERSION)
                )
            )
            self._log(Kind.INIT_START)
            self._init_runtime_done = False
            self.telemetry.emit(
                "platform.initStart",
                records.init_start(
                    self.config.function_name,
                    self.config.function_version,
                    RUNTIME_VERSION,
                    runtime_version_arn(self.config.region, RUNTIME_VERSION),
                    uuid.uuid4().hex,  # this init's instance
                    self.config.memory_size_mb,
                ),
            )

    def _do_spawn_extensions(self, action: lc.SpawnExtensions, followups: List[lc.Event]) -> None:
        names = []
        for name, path in self._extension_executables():
            try:
                child = self._supervisor.spawn(
                    "extension", name, [path], self._process_env(), self.config.task_root, self
                )
            except OSError as exc:
                log.error("extension %s could not start: %s", name, exc)
                self.console.line(extension_launch_error_line(name, str(exc)))
                followups.append(lc.ExtensionLaunchFailed(name, str(exc)))
                continue
            self._processes[name] = child
            self._groups.append(child)
            self._log_start(child)
            followups.append(lc.ProcessStarted(name))
            names.append(name)
        followups.append(lc.ExtensionsSpawned(tuple(names)))

    def _do_extension_accepted(
        self, action: lc.ExtensionAccepted, followups: List[lc.Event]
    ) -> None:
        self._log(
            Kind.EXTENSION_REGISTER,
            name=action.name,
            id=action.extension_id,
            type="external" if action.external else "internal",
            events=list(action.events),
        )

    def _do_spawn_runtime(self, action: lc.SpawnRuntime, followups: List[lc.Event]) -> None:
        try:
            child = self._supervisor.spawn(
                "runtime",
                lc.RUNTIME,
                self.runtime_cmd,
                self._process_env(),
                self.config.task_root,
                self,
            )
        except OSError as exc:
            log.error("runtime could not start: %s", exc)
            followups.append(lc.ProcessStarted(lc.RUNTIME))
            followups.append(lc.ProcessExited(lc.RUNTIME, f"could not start: {exc}"))
            return
        self._processes[lc.RUNTIME] = child
        self._groups.append(child)
        self._log_start(child)
        followups.append(lc.ProcessStarted(lc.RUNTIME))

    def _do_init_ended(self, action: lc.InitEnded, followups: List[lc.Event]) -> None:
        started = self._init_started or time.monotonic()
        self._init_duration_ms = (time.monotonic() - started) * 1000
        fields: Dict[str, Any] = {
            "status": action.status,
            "duration_ms": round(self._init_duration_ms, 3),
        }
        for name, events in action.ready_extensions:
            self._say(extension_ready_line(name, events))
        # As AWS's emulator: subscriptions close, then platform.extension, then initReport.
        self.telemetry.close_subscriptions()
        for name, events in action.ready_extensions:
            self.telemetry.emit(
                "platform.extension", records.extension_state(name, "Ready", events)
            )
        self.telemetry.emit(
            "platform.initReport",
            records.init_report(action.status, self._init_duration_ms, action.error_type or None),
        )
        if action.error_type:
            fields["error_type"] = action.error_type
            self.console.line(
                init_report_line(self._init_duration_ms, action.status, action.error_type)
            )
        self._log(Kind.INIT_END, **fields)

    def _do_deliver_invoke(self, action: lc.DeliverInvoke, followups: List[lc.Event]) -> None:
        invocation = self._invocations[action.request_id]
        self._runtime_box.put(RuntimeDelivery(invocation, action.deadline_ms, self.function_arn))

    def _do_deliver_event(self, action: lc.DeliverEvent, followups: List[lc.Event]) -> None:
        box = self._extension_boxes.get(action.extension_id)
        if box is None:
            return
        payload = dict(action.payload)
        if payload["eventType"] == lc.EVENT_INVOKE:
            payload["invokedFunctionArn"] = self.function_arn
            invocation = self._invocations.get(payload["requestId"])
            payload["tracing"] = {
                "type": "X-Amzn-Trace-Id",
                "value": invocation.trace_id if invocation else "",
            }
        elif self.telemetry.has_subscribers():
            # The runtime is gone: its last telemetry goes out before SHUTDOWN does.
            threading.Thread(
                target=self._flush_then_shut_down,
                args=(action.extension_id, box, payload),
                name="telemetry-flush",
                daemon=True,
            ).start()
            return
        else:
            self._log_shutdown_event(action.extension_id, payload)
        box.put(payload)

    def _flush_then_shut_down(
        self, extension_id: str, box: "Mailbox[Dict[str, Any]]", payload: Dict[str, Any]
    ) -> None:
        child = self._processes.get(lc.RUNTIME)
        if child is not None:
            self._supervisor.drain(child)
        left_s = payload["deadlineMs"] / 1000.0 - time.time()
        self.telemetry.flush(max(0.0, min(FLUSH_LIMIT_S, left_s / 2)))
        self._log_shutdown_event(extension_id, payload)
        box.put(payload)

    def _log_shutdown_event(self, extension_id: str, payload: Dict[str, Any]) -> None:
        self._log(
            Kind.SHUTDOWN_EVENT,
            name=self._extension_names.get(extension_id),
            id=extension_id,
            reason=payload["shutdownReason"],
            deadline_ms=payload["deadlineMs"],
        )

    def _do_invoke_started(self, action: lc.InvokeStarted, followups: List[lc.Event]) -> None:
        self._invoke_started[action.request_id] = time.monotonic()
        self._current = self._invocations.get(action.request_id)
        self._log_lines = self._current.log_lines if self._current is not None else None
        self._say(start_line(action.request_id, self.config.function_version))
        self._log(Kind.INVOKE_START, request_id=action.request_id)
        if not self.telemetry.active:
            return  # no subscriber, none to come: nothing to build
        self.telemetry.emit(
            "platform.start",
            records.start(
                action.request_id, self.config.function_version, self._trace(action.request_id)
            ),
        )

    def _do_invoke_ended(self, action: lc.InvokeEnded, followups: List[lc.Event]) -> None:
        started = self._invoke_started.pop(action.request_id, time.monotonic())
        duration = (time.monotonic() - started) * 1000
        if action.status == "timeout":
            self._say(
                timed_out_message(
                    iso_timestamp(time.time()),
                    action.request_id,
                    self.config.timeout_s,
                )
            )
        self._say(end_line(action.request_id))
        # Only the first invocation after a cold start reports its init.
        init_duration_ms, self._init_duration_ms = self._init_duration_ms, None
        max_memory_used_mb = self._max_memory_used_mb()
        self._say(
            report_line(
                action.request_id,
                duration,
                self.config.memory_size_mb,
                max_memory_used_mb,
                init_duration_ms,
                action.status,
            )
        )
        if self.telemetry.active:
            trace = self._trace(action.request_id)
            if action.status == "timeout":
                self.telemetry.emit(
                    "platform.runtimeDone",
                    records.runtime_done(action.request_id, "timeout", duration, None, trace),
                )
            self.telemetry.emit(
                "platform.report",
                records.report(
                    action.request_id,
                    action.status,
                    duration,
                    billed_duration_ms(duration),
                    self.config.memory_size_mb,
                    max_memory_used_mb,
                    init_duration_ms,
                    trace,
                ),
            )
        if self._current is not None and self._current.ended is not None:
            self._current.ended.set()
        self._current = None
        self._log_lines = None
        self._log(
            Kind.INVOKE_END,
            request_id=action.request_id,
            status=action.status,
            duration_ms=round(duration, 3),
        )

    def _do_answer_invoker(self, action: lc.AnswerInvoker, followups: List[lc.Event]) -> None:
        invocation = self._invocations.pop(action.request_id, None)
        if invocation is None:
            return
        invocation.result = answer_for(
            action,
            function_version=self.config.function_version,
            runtime_body=invocation.runtime_body,
            function_error_type=invocation.function_error_type,
            init_error_body=self._init_error_body,
            timeout_s=self.config.timeout_s,
            now_s=time.time(),
        )
        if invocation.answered is not None:
            invocation.answered()

    def _do_start_timer(self, action: lc.StartTimer, followups: List[lc.Event]) -> None:
        # The lifecycle holds one token per timer name: the one this replaces is stale.
        stale = self._timer_handles.pop(action.timer, None)
        if stale is not None:
            self._timers.cancel(stale)
        self._timer_handles[action.timer] = self._timers.call_later(
            action.delay_ms / 1000.0, lambda: self._timer_fired(action.timer, action.token)
        )

    def _timer_fired(self, name: str, token: int) -> None:
        with self._lock:
            self._post(lc.TimerFired(name, token))

    def _do_send_signal(self, action: lc.SendSignal, followups: List[lc.Event]) -> None:
        child = self._processes.get(action.name)
        if child is None:
            return
        self._log(
            Kind.SIGNAL_SENT, signal=action.signal, role=child.role, name=child.name, pid=child.pid
        )
        if not self._supervisor.signal(child, action.signal):
            log.debug("%s was already gone for %s", child.name, action.signal)

    def _do_shutdown_started(self, action: lc.ShutdownStarted, followups: List[lc.Event]) -> None:
        self._shutdown_started = time.monotonic()
        self._log(
            Kind.SHUTDOWN_START,
            reason=action.reason,
            rule=action.rule.value,
            limit_ms=action.limit_ms,
            deadline_ms=action.deadline_ms,
            runtime_limit_ms=action.runtime_limit_ms,
            model=action.model.value,
        )

    def _do_freeze(self, action: lc.Freeze, followups: List[lc.Event]) -> None:
        self._signal_all("SIGSTOP", Kind.ENVIRONMENT_FREEZE)
        self.telemetry.pause(True)  # a frozen listener cannot answer

    def _do_thaw(self, action: lc.Thaw, followups: List[lc.Event]) -> None:
        self._signal_all("SIGCONT", Kind.ENVIRONMENT_THAW)
        self.telemetry.pause(False)
        if action.settle:
            # Bounded: a thread that keeps running (CPU-bound) never looks settled.
            deadline = time.monotonic() + THAW_SETTLE_S
            pids = [child.pid for child in self._processes.values()]
            while time.monotonic() < deadline and not all(
                procfs.settled(procfs.read_thread_states(pid)) for pid in pids
            ):
                time.sleep(0.0005)

    def _signal_all(self, signame: str, kind: str) -> None:
        """Every process group of the environment (runtime and external extensions)."""
        names = sorted(self._processes)
        self._log(kind, names=names)
        for name in names:
            self._supervisor.signal(self._processes[name], signame)

    def _do_shutdown_ended(self, action: lc.ShutdownEnded, followups: List[lc.Event]) -> None:
        # Lambda removes the whole environment: whatever a process left in its
        # group (a child that ignores SIGTERM, say) goes with it, also when the
        # group's leader already exited by itself.
        for child in self._groups:
            if self._supervisor.signal(child, "SIGKILL"):
                log.warning("SIGKILL to what was left in the process group of %s", child.name)
        self._groups = []
        self._kill_orphans()
        started = self._shutdown_started or time.monotonic()
        self._log(
            Kind.SHUTDOWN_END,
            reason=action.reason,
            duration_ms=round((time.monotonic() - started) * 1000, 3),
            killed=list(action.killed),
        )

    def _kill_orphans(self) -> None:
        """Processes that left every group (setsid, double fork) were reparented to
        the sandbox (a subreaper, or PID 1): kill them too, when no other
        environment has a live process they could belong to."""
        others = [c for c in self._supervisor.alive() if c.owner is not self]
        if others:
            return  # orphans cannot be told apart by environment: leave them for now
        parents = procfs.read_parents()
        for pid in procfs.descendants(os.getpid(), parents):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
                log.warning("SIGKILL to pid %d, left by the environment outside its groups", pid)

    def _do_environment_reset(self, action: lc.EnvironmentReset, followups: List[lc.Event]) -> None:
        self.telemetry.reset()
        self._runtime_box.close()  # every waiter, not one: none is left blocked
        for box in self._extension_boxes.values():
            box.close()
        self._runtime_box = Mailbox()
        self._extension_boxes = {}
        self._extension_names = {}
        self._processes = {}
        self._init_error_body = b""

    def _do_exit(self, action: lc.Exit, followups: List[lc.Event]) -> None:
        self.exit_code = action.code
        self.exited.set()

    # ------------------------------------------------------------ helpers

    def _extension_executables(self) -> List[Any]:
        directory = self.config.extensions_dir
        try:
            entries = sorted(os.listdir(directory))
        except OSError:
            return []
        found = []
        for entry in entries:
            path = os.path.join(directory, entry)
            # Every entry but a directory is an extension, executable or not: one
            # that cannot be started fails init (AWS's emulator,
            # agents.ListExternalAgentPaths and Extension.LaunchError).
            if not os.path.isdir(path) or os.path.islink(path):
                found.append((entry, path))
        return found

    def _process_env(self) -> Dict[str, str]:
        stream = log_stream_name(self.config.function_version, time.time(), uuid.uuid4().hex)
        return child_environment(
            self.config, os.environ, self.runtime_api_address, self.runtime_cmd, stream
        )

    def _drain_runtime_output(self) -> None:
        """Hand on what the runtime printed before its request (a response, an error,
        next): it is in the runtime's pipes by now, and belongs to the invocation's
        log (Tail) before END, however busy the output pumps are. Lock held; the
        pumps hand lines to ``on_output``, which takes no lock of ours."""
        child = self._processes.get(lc.RUNTIME)
        if child is not None:
            self._supervisor.drain(child)

    def _log(self, kind: str, **fields: Any) -> None:
        self.event_log.write(kind, env=self.index, **fields)

    def _say(self, line: str) -> None:
        """A console line of this environment's (also kept for a Tail log)."""
        self.console.line(line)
        if self._log_lines is not None:
            self._log_lines.append(line)

    @property
    def phase(self) -> lc.Phase:
        return self._machine.phase

    def _log_start(self, child: Child) -> None:
        self._log(
            Kind.PROCESS_START, role=child.role, name=child.name, pid=child.pid, argv=child.argv
        )

    def _init_runtime_done_once(self, status: str, error_type: Optional[str] = None) -> None:
        """platform.initRuntimeDone, at most once per init. Lock held."""
        if not self._init_runtime_done:
            self._init_runtime_done = True
            self.telemetry.emit(
                "platform.initRuntimeDone", records.init_runtime_done(status, error_type)
            )

    def _runtime_done(
        self, request_id: str, status: str, produced: int, error_type: Optional[str] = None
    ) -> None:
        """platform.runtimeDone: the runtime has answered this invocation. Lock held."""
        if not self.telemetry.active:
            return
        started = self._invoke_started.get(request_id)
        duration = 0.0 if started is None else (time.monotonic() - started) * 1000
        self.telemetry.emit(
            "platform.runtimeDone",
            records.runtime_done(
                request_id, status, duration, produced, self._trace(request_id), error_type
            ),
        )

    def _trace(self, request_id: str) -> str:
        """The invocation's trace id; also once its invoker has been answered (the
        answer comes before the invocation ends, and takes it out of the table)."""
        invocation = self._invocations.get(request_id)
        current = self._current
        if invocation is None and current is not None and current.request_id == request_id:
            invocation = current
        return invocation.trace_id if invocation is not None else ""

    def _max_memory_used_mb(self) -> int:
        """The runtime's peak memory, for REPORT. Lock held."""
        child = self._processes.get(lc.RUNTIME)
        if child is None:
            return 0
        status = self._runtime_status
        if status is None or status.pid != child.pid:
            if status is not None:
                status.close()
            status = self._runtime_status = StatusFile(child.pid)
        return status.read_max_memory_used_mb()

    def on_output(self, child: Child, stream: str, line: str) -> None:
        self._say(line)
        if self.telemetry.active:
            self.telemetry.emit("function" if child.role == "runtime" else "extension", line)
        self._log(
            Kind.OUTPUT, role=child.role, name=child.name, pid=child.pid, stream=stream, line=line
        )

    def on_exit(self, child: Child, returncode: Optional[int], signame: Optional[str]) -> None:
        self._log(
            Kind.PROCESS_EXIT,
            role=child.role,
            name=child.name,
            pid=child.pid,
            returncode=returncode,
            signal=signame,
        )
        with self._lock:
            status = self._runtime_status
            if status is not None and status.pid == child.pid:
                status.close()  # its descriptor goes with the process
                self._runtime_status = None
            if self._processes.get(child.name) is not child:
                return
            del self._processes[child.name]
            self._post(lc.ProcessExited(child.name, describe_exit(returncode, signame)))


# Which method carries out each action: an explicit table rather than a name
# built from the action's class, so that mypy checks each pairing (``_do``) and
# tests/unit/test_sandbox_dispatch.py checks that every action has an executor.
_A = TypeVar("_A", bound=lc.Action)
_Executor = Callable[[ExecutionEnvironment, Any, List[lc.Event]], None]


def _do(
    action_type: Type[_A],
    executor: Callable[[ExecutionEnvironment, _A, List[lc.Event]], None],
) -> Tuple[Type[lc.Action], _Executor]:
    return action_type, executor


def _table(*entries: Tuple[Type[lc.Action], _Executor]) -> Dict[Type[lc.Action], _Executor]:
    table = dict(entries)
    if len(table) != len(entries):
        raise ValueError("an action type has two executors")
    return table


EXECUTORS = _table(
    _do(lc.PhaseChanged, ExecutionEnvironment._do_phase_changed),
    _do(lc.SpawnExtensions, ExecutionEnvironment._do_spawn_extensions),
    _do(lc.ExtensionAccepted, ExecutionEnvironment._do_extension_accepted),
    _do(lc.SpawnRuntime, ExecutionEnvironment._do_spawn_runtime),
    _do(lc.InitEnded, ExecutionEnvironment._do_init_ended),
    _do(lc.DeliverInvoke, ExecutionEnvironment._do_deliver_invoke),
    _do(lc.DeliverEvent, ExecutionEnvironment._do_deliver_event),
    _do(lc.InvokeStarted, ExecutionEnvironment._do_invoke_started),
    _do(lc.InvokeEnded, ExecutionEnvironment._do_invoke_ended),
    _do(lc.AnswerInvoker, ExecutionEnvironment._do_answer_invoker),
    _do(lc.StartTimer, ExecutionEnvironment._do_start_timer),
    _do(lc.SendSignal, ExecutionEnvironment._do_send_signal),
    _do(lc.ShutdownStarted, ExecutionEnvironment._do_shutdown_started),
    _do(lc.Freeze, ExecutionEnvironment._do_freeze),
    _do(lc.Thaw, ExecutionEnvironment._do_thaw),
    _do(lc.ShutdownEnded, ExecutionEnvironment._do_shutdown_ended),
    _do(lc.EnvironmentReset, ExecutionEnvironment._do_environment_reset),
    _do(lc.Exit, ExecutionEnvironment._do_exit),
)
