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
from typing import Deque, Dict, List, Optional, Sequence

from lambda_sandbox import lifecycle as lc
from lambda_sandbox import spool
from lambda_sandbox.config import Config
from lambda_sandbox.connections import ConnectionTable, connection_limit
from lambda_sandbox.console import Console
from lambda_sandbox.environment import ExecutionEnvironment
from lambda_sandbox.eventlog import EventLog, Kind
from lambda_sandbox.http_common import Server
from lambda_sandbox.invocations import Invocation, InvokeResult, retry_of, service_error
from lambda_sandbox.processes import Child, Supervisor
from lambda_sandbox.runtime_api import RuntimeApiHandler
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
        # One lock for the pool's state, two conditions on it: a freed environment
        # wakes one invoker waiting for it (``_freed``); a queued Event invocation
        # wakes the Event workers (``_queued``, at most MAX_CONCURRENCY of them). (One
        # condition for both, notified to all, woke every waiting thread for each
        # invocation that ended: with 16 clients on 4 environments, a dozen
        # threads took the GIL to find nothing free.)
        self._lock = threading.Lock()
        self._freed = threading.Condition(self._lock)
        self._queued = threading.Condition(self._lock)
        self._environments: List[ExecutionEnvironment] = []
        self._servers: List[Server] = []
        self._busy: List[bool] = []
        self._waiting = 0
        self._stopping = False
        self._async: Deque[Invocation] = collections.deque()
        self._attempts: Dict[str, int] = {}  # retries made, per failed Event request id
        self._retries: Dict[str, "tuple[Invocation, threading.Timer]"] = {}  # waiting to rerun
        self._supervisor = Supervisor(on_output=self._on_output, on_exit=self._on_exit)
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
            self._freed.notify_all()
            self._queued.notify_all()
        for environment in environments:
            environment.stop(why)
        threading.Thread(
            target=self._exit_when_all_stopped, args=(environments,), name="exit-wait", daemon=True
        ).start()

    def close(self) -> None:
        for server in self._servers:
            server.shutdown()
            server.server_close()

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
        """Run one invocation on a free environment; 429 when over capacity."""
        index = self._acquire()
        if isinstance(index, InvokeResult):
            return index
        try:
            return self._environments[index].invoke(invocation)
        finally:
            with self._lock:
                self._busy[index] = False
                # One waiter: whoever wakes takes a free environment before
                # anything else (``_acquire``), so the wake-up is never lost.
                self._freed.notify()

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

    def _acquire(self) -> "int | InvokeResult":
        deadline = time.monotonic() + QUEUE_WAIT_LIMIT_S
        with self._lock:
            while True:
                if self._stopping:
                    return _unavailable()
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
                if self._waiting >= self.config.queue_limit:
                    return too_many_requests()
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return too_many_requests()
                self._waiting += 1
                try:
                    self._freed.wait(remaining)
                finally:
                    self._waiting -= 1

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
        server = Server(
            (self.config.runtime_api_host, port + index if port else 0),
            RuntimeApiHandler,
            environment,
            self.config.client_timeout_s,
            self.connections,
        )
        environment.runtime_api_address = server.address
        threading.Thread(
            target=server.serve_forever, args=(0.1,), name=f"runtime-api-{index}", daemon=True
        ).start()
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
                # (a while, not for ``_freed``: a wake-up meant for an invoker
                # waiting in ``_acquire`` must not end here).
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
