"""The sandbox: up to MAX_CONCURRENCY execution environments for one function.

Environments start lazily, one more each time an invocation finds every
existing one busy, and are reused while warm (Lambda's scaling, in one
process). Past MAX_CONCURRENCY an invocation waits in a bounded queue; past
the queue it is refused with 429 TooManyRequestsException. Asynchronous
(``Event``) invocations go through a queue of their own and are retried on
429, so none is lost while the sandbox runs. Stopping the sandbox shuts every
environment down in parallel, each by Lambda's rules, and exits once all have.
"""

from __future__ import annotations

import collections
import logging
import resource
import threading
import time
from typing import Callable, Deque, Dict, List, NamedTuple, Optional, Sequence

from lambda_sandbox import lifecycle as lc
from lambda_sandbox import spool
from lambda_sandbox.config import Config
from lambda_sandbox.connections import ConnectionTable, connection_limit
from lambda_sandbox.console import Console
from lambda_sandbox.environment import ExecutionEnvironment
from lambda_sandbox.eventlog import EventLog, Kind
from lambda_sandbox.http_loop import Loop
from lambda_sandbox.http_server import LoopServer
from lambda_sandbox.invocations import Invocation, InvokeResult, retry_of, service_error
from lambda_sandbox.processes import Child, Supervisor
from lambda_sandbox.runtime_api import RuntimeApiHandler, RuntimeRoutes
from lambda_sandbox.timers import TimerWheel

log = logging.getLogger("lambda_sandbox")

# How long an invocation may wait for a free environment: a backstop only,
# since every invocation ahead of it is itself bounded by init + timeout.
QUEUE_WAIT_LIMIT_S = 900.0
ASYNC_RETRY_S = 0.05
# The Event queue is bounded, by count and by bytes: past either, 429. (Lambda's
# own queue is far larger; a sandbox in one process must not grow without end.)
ASYNC_QUEUE_LIMIT = 100
ASYNC_QUEUE_BYTES = 16 * 1024 * 1024
# A thread waiting in ``invoke`` gives up after the queue's limit and this much
# more: a last line of defence against a bug, not a rule of the lifecycle.
INVOKE_MARGIN_S = 10.0

OnResult = Callable[[InvokeResult], None]


class _Waiter(NamedTuple):
    invocation: Invocation
    on_result: OnResult
    deadline: float


class Sandbox:
    def __init__(
        self,
        config: Config,
        runtime_cmd: Sequence[str],
        event_log: EventLog,
        console: Console,
    ) -> None:
        self.config = config
        self.runtime_cmd = list(runtime_cmd)
        self.event_log = event_log
        self.console = console
        self.exited = threading.Event()
        self.exit_code = 0
        # One bound on open connections for the Invoke API and every Runtime API.
        self.connections = ConnectionTable(
            connection_limit(
                resource.getrlimit(resource.RLIMIT_NOFILE)[0],
                config.max_concurrency,
                config.max_connections,
            )
        )
        # One lock for the pool's state. Invocations that find every environment
        # busy wait in ``_waiters``, in order: an environment that frees goes to
        # the first (on the loop's thread). A queued Event invocation wakes the
        # Event workers (``_queued``, at most MAX_CONCURRENCY of them).
        self._lock = threading.Lock()
        self._queued = threading.Condition(self._lock)
        self._waiters: Deque[_Waiter] = collections.deque()
        self._environments: List[ExecutionEnvironment] = []
        self._servers: List[LoopServer] = []
        self._busy: List[bool] = []
        # Every HTTP connection of the sandbox: the Invoke API's and each
        # environment's Runtime API's.
        self.loop = Loop()
        self._stopping = False
        self._async: Deque[Invocation] = collections.deque()
        self._attempts: Dict[str, int] = {}  # retries made, per failed Event request id
        self._retries: Dict[str, "tuple[Invocation, threading.Timer]"] = {}  # waiting to rerun
        # The loop reads the processes' output too: no thread per stream to wake.
        self._supervisor = Supervisor(
            on_output=self._on_output, on_exit=self._on_exit, watcher=self.loop
        )
        self._timers = TimerWheel()

    # ------------------------------------------------------------ lifecycle

    def start(self) -> None:
        """Bind the first environment's Runtime API (OSError if it cannot)."""
        with self._lock:
            self._add_environment()
        for n in range(self.config.max_concurrency):
            threading.Thread(target=self._run_async, name=f"event-invokes-{n}", daemon=True).start()

    @property
    def runtime_api_address(self) -> str:
        return self._environments[0].runtime_api_address

    def stop(self, why: str) -> None:
        with self._lock:
            if self._stopping:
                return
            log.info("stopping: %s", why)
            self._stopping = True
            environments = list(self._environments)
            waiters, self._waiters = list(self._waiters), collections.deque()
            self._queued.notify_all()
        for waiter in waiters:
            self._answer(waiter.on_result, _unavailable())
        for environment in environments:
            environment.stop(why)
        threading.Thread(
            target=self._exit_when_all_stopped, args=(environments,), name="exit-wait", daemon=True
        ).start()

    def close(self) -> None:
        for server in self._servers:
            server.shutdown()
            server.server_close()
        self.loop.close()

    def _exit_when_all_stopped(self, environments: List[ExecutionEnvironment]) -> None:
        for environment in environments:
            environment.exited.wait()
        self.exit_code = max((e.exit_code for e in environments), default=0)
        with self._lock:
            pending = list(self._async)
            self._async.clear()
            for again, timer in self._retries.values():
                timer.cancel()
                pending.append(again)
            self._retries.clear()
        self._keep(pending)
        self.exited.set()

    def _keep(self, pending: List[Invocation]) -> None:
        """Spool the Event invocations the stop left unrun (or record them dropped
        when there is no spool, or it cannot be written)."""
        path = self.config.event_spool
        items = [spool.Spooled(i, self._attempts.get(i.request_id, 0)) for i in pending]
        why = "the sandbox stopped before this Event invocation ran (no spool)"
        if path is not None and items:
            try:
                spool.save(path, items)
            except OSError as err:
                why = f"the sandbox stopped and the spool {path} cannot be written: {err.strerror}"
            else:
                self._log_spool(Kind.INVOKE_SPOOLED, path, items)
                return
        for item in items:
            self.event_log.write(
                Kind.INVOKE_DROPPED, request_id=item.invocation.request_id, reason=why
            )

    def replay_spool(self) -> int:
        """Queue the Event invocations an earlier stop spooled, first; how many."""
        path = self.config.event_spool
        if path is None:
            return 0
        try:
            items, problems = spool.take(path)
        except OSError as err:
            log.error("the Event spool %s cannot be read: %s", path, err.strerror)
            return 0
        for problem in problems:
            log.error("the Event spool: %s (skipped)", problem)
        with self._lock:
            for item in items:
                if item.retries_made:
                    self._attempts[item.invocation.request_id] = item.retries_made
                self._async.append(item.invocation)
            self._queued.notify_all()
        self._log_spool(Kind.INVOKE_REPLAYED, path, items)
        return len(items)

    def _log_spool(self, kind: str, path: str, items: List[spool.Spooled]) -> None:
        """``invoke.spooled`` or ``invoke.replayed``, one per invocation."""
        for item in items:
            self.event_log.write(
                kind,
                request_id=item.invocation.request_id,
                spool=path,
                retries_made=item.retries_made,
            )

    # ------------------------------------------------------------ invoking

    def invoke(self, invocation: Invocation) -> InvokeResult:
        """Run one invocation and wait for its answer (not on the loop's thread)."""
        done = threading.Event()
        results: List[InvokeResult] = []

        def on_result(result: InvokeResult) -> None:
            results.append(result)
            done.set()

        self.submit(invocation, on_result)
        bound = (
            QUEUE_WAIT_LIMIT_S
            + self.config.init_timeout_s
            + self.config.timeout_s
            + INVOKE_MARGIN_S
        )
        if not done.wait(bound):
            log.error("no answer for %s within %.1f s", invocation.request_id, bound)
            return service_error(500, "ServiceException", "the sandbox did not answer in time")
        return results[0]

    def submit(self, invocation: Invocation, on_result: OnResult) -> None:
        """Run one invocation on a free environment; ``on_result`` gets its answer (429
        when over capacity) once, on the loop's thread."""
        with self._lock:
            if self._stopping:
                refusal: Optional[InvokeResult] = _unavailable()
            else:
                index_or_refusal = self._take_environment()
                if isinstance(index_or_refusal, int):
                    refusal = None
                    index = index_or_refusal
                elif index_or_refusal is not None:
                    refusal = index_or_refusal
                elif len(self._waiters) >= self.config.queue_limit:
                    refusal = too_many_requests()
                else:
                    deadline = time.monotonic() + QUEUE_WAIT_LIMIT_S
                    self._waiters.append(_Waiter(invocation, on_result, deadline))
                    return
        if refusal is not None:
            self._answer(on_result, refusal)
            return
        self._run(index, invocation, on_result)

    def _take_environment(self) -> "int | InvokeResult | None":
        """A free environment marked busy, a new one if there is room, or None. Lock held."""
        index = self._free_environment()
        if index is None and len(self._environments) < self.config.max_concurrency:
            try:
                index = self._add_environment()
            except OSError as exc:
                log.error("could not start another environment: %s", exc)
                return service_error(500, "ServiceException", str(exc))
        if index is not None:
            self._busy[index] = True
        return index

    def _run(self, index: int, invocation: Invocation, on_result: OnResult) -> None:
        def answered() -> None:
            # Under the environment's lock. On the loop's thread (the runtime's
            # response, read there) the invoker's answer goes out at once, before
            # the runtime's own answer and what follows it: the invoker can go on
            # meanwhile. From another thread (a timeout, a crash) the loop answers.
            if self.loop.in_loop():
                assert invocation.result is not None
                on_result(invocation.result)
                self.loop.call_soon(lambda: self._free(index))
            else:
                self.loop.call_soon(lambda: self._finished(index, invocation, on_result))

        self._environments[index].start_invoke(invocation, answered)

    def _finished(self, index: int, invocation: Invocation, on_result: OnResult) -> None:
        """The loop's thread: answer the invoker, then free the environment."""
        assert invocation.result is not None
        on_result(invocation.result)
        self._free(index)

    def _free(self, index: int) -> None:
        """The loop's thread: give the environment to the first invocation waiting
        for one (or mark it free)."""
        now = time.monotonic()
        expired: List[_Waiter] = []
        with self._lock:
            waiter = None
            while self._waiters and not self._stopping:
                candidate = self._waiters.popleft()
                if candidate.deadline <= now:
                    expired.append(candidate)  # the backstop: never reached in practice
                    continue
                waiter = candidate
                break
            if waiter is None:
                self._busy[index] = False
        for late in expired:
            late.on_result(too_many_requests())
        if waiter is not None:
            self._run(index, waiter.invocation, waiter.on_result)

    def _answer(self, on_result: OnResult, result: InvokeResult) -> None:
        """``on_result`` on the loop's thread."""
        self.loop.call_soon(lambda: on_result(result))

    def invoke_later(self, invocation: Invocation) -> Optional[InvokeResult]:
        """An ``Event`` invocation: None when accepted (it runs when an environment is
        free), or the refusal: the sandbox is stopping, or the Event queue is full."""
        with self._lock:
            if self._stopping:
                return _unavailable()
            queued = sum(len(i.payload) for i in self._async)
            if (
                len(self._async) >= ASYNC_QUEUE_LIMIT
                or queued + len(invocation.payload) > ASYNC_QUEUE_BYTES
            ):
                return too_many_requests()
            self._async.append(invocation)
            self._queued.notify_all()
            return None

    def _free_environment(self) -> Optional[int]:
        """A free environment, warm ones first (as Lambda reuses warm ones)."""
        free = [i for i, busy in enumerate(self._busy) if not busy]
        for index in free:
            if self._environments[index].phase is lc.Phase.READY:
                return index
        return free[0] if free else None

    def _add_environment(self) -> int:
        index = len(self._environments)
        environment = ExecutionEnvironment(
            index,
            self.config,
            self.runtime_cmd,
            self.event_log,
            self.console,
            self._supervisor,
            self._timers,
        )
        port = self.config.runtime_api_port
        server = LoopServer(
            self.loop,
            (self.config.runtime_api_host, port + index if port else 0),
            RuntimeApiHandler,
            environment,
            RuntimeRoutes(environment, self.loop),
            self.config.client_timeout_s,
            self.connections,
        )
        environment.runtime_api_address = server.address
        self._environments.append(environment)
        self._servers.append(server)
        self._busy.append(False)
        self.event_log.write(Kind.ENVIRONMENT_CREATED, env=index, runtime_api=server.address)
        return index

    def _run_async(self) -> None:
        while True:
            with self._lock:
                while not self._async and not self._stopping:
                    self._queued.wait()
                if self._stopping:
                    return
                invocation = self._async.popleft()
            result = self.invoke(invocation)
            with self._lock:
                if self._stopping and result.status == 500:
                    # Cut off (or never started) by the stop: the spool keeps it.
                    self._async.appendleft(invocation)
                    return
            if result.status == 429:
                # Nothing lost: an Event invocation over capacity waits its turn
                # (a while, then it is submitted again).
                with self._lock:
                    self._async.appendleft(invocation)
                    self._queued.wait(ASYNC_RETRY_S)
            elif "X-Amz-Function-Error" in result.headers:
                self._retry_later(invocation)

    def _retry_later(self, invocation: Invocation) -> None:
        """A failed Event invocation runs again, with the same request id, after the
        next of the configured delays (Lambda retries twice)."""
        attempt = self._attempts.get(invocation.request_id, 0)
        delays = self.config.event_retry_delays_s
        if attempt >= len(delays):
            self._attempts.pop(invocation.request_id, None)
            log.warning("Event %s failed after %d retries", invocation.request_id, attempt)
            return
        self._attempts[invocation.request_id] = attempt + 1
        again = retry_of(invocation)
        log.warning(
            "Event %s failed; retry %d in %g s", invocation.request_id, attempt + 1, delays[attempt]
        )

        def requeue() -> None:
            with self._lock:
                if self._retries.pop(again.request_id, None) is None:
                    return  # taken for the spool at stop meanwhile
                # When stopping, the queue is what the stop spools.
                self._async.append(again)
                self._queued.notify_all()

        timer = threading.Timer(delays[attempt], requeue)
        timer.daemon = True
        with self._lock:
            self._retries[again.request_id] = (again, timer)
        timer.start()

    # -------------------------------------------------------- supervision

    def _on_output(self, child: Child, stream: str, line: str) -> None:
        child.owner.on_output(child, stream, line)

    def _on_exit(self, child: Child, returncode: Optional[int], signame: Optional[str]) -> None:
        child.owner.on_exit(child, returncode, signame)


def too_many_requests() -> InvokeResult:
    return service_error(429, "TooManyRequestsException", "Rate Exceeded.")


def _unavailable() -> InvokeResult:
    return service_error(500, "ServiceException", "the execution environment is shutting down")
