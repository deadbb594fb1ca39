"""Judge a cell at the AMQP broker: what the function's cleanup delivered, and how
its connection ended.

A broker-judged cell runs a function that buffers messages during its
invocations and publishes them only in its SIGTERM cleanup
(``function/outbox.py``). Before the run the harness gives the cell a queue
and a connection name of its own (unique per run, so parallel workers and
concurrent runs never share one); after the shutdown it counts what arrived
in that queue and reads the broker's log for how the broker saw the
connection end:

    closing AMQP connection <0.565.0> (127.0.0.1:36158 -> 127.0.0.1:5672 - NAME, vhost: '/', user: 'guest')
    closing AMQP connection <0.587.0> (127.0.0.1:36172 -> 127.0.0.1:5672 - NAME, vhost: '/', user: 'guest'):
    client unexpectedly closed TCP connection

The first is a clean AMQP close (Connection.Close / Close-Ok); the second,
with its reason on the next line, is a connection that died with its process.
Nothing else tells the two apart from outside: ``rabbitmqctl list_connections``
shows neither once the connection is gone.

Parsing the log, naming things and judging are pure; ``BrokerProbe`` does
the I/O (pika on the host, the broker's log file). ``BrokerKind`` is what the
pipeline sees: settings, a probe per cell, and REPORT.md's section.

Scenario settings (``[probes.broker]``): ``messages_per_invocation``, what the
function buffers per invocation (1 to 10,000); ``delivered`` (optional): what
must arrive, ``all``, ``none`` or ``not-all``, when that does not follow from
the cleanup (a function that ships from a background thread, say); by
default all of them arrive exactly when the cleanup is declared to run.
"""

from __future__ import annotations

import dataclasses
import glob
import os
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, List, Mapping, Optional, Sequence, Tuple

from harness.evidence.result import CellResult
from harness.model.cells import Cell
from harness.probes.base import ProbeObservation, ProbeUnavailable, reject_unknown
from harness.probes.broker_report import render_broker_markdown

DEFAULT_URI = "amqp://guest:guest@127.0.0.1:5672/%2F"
CLOSING = "closing AMQP connection"
LOG_GLOB = "/var/log/rabbitmq/rabbit@*.log"


NAME = "broker"
SETTINGS = ("messages_per_invocation", "delivered")
DELIVERED = ("all", "none", "not-all")


class BrokerUnavailable(ProbeUnavailable):
    """No broker answers (or its log cannot be read)."""


@dataclass(frozen=True)
class BrokerTarget:
    """Where one run of one cell sends its outbox, and the name its connection carries."""

    uri: str
    queue: str
    connection_name: str


@dataclass(frozen=True)
class CloseSeen:
    clean: bool
    detail: str  # the broker's words: "closed by the client" or its reason line


@dataclass(frozen=True)
class BrokerObservation:
    messages_expected: int
    messages_delivered: Optional[int]
    connection_closed_cleanly: Optional[bool]
    close_detail: str
    problems: Tuple[str, ...] = ()


def broker_uri(env: Mapping[str, str]) -> str:
    return env.get("AMQP_URI", "").strip() or DEFAULT_URI


def target_for(cell: Cell, uri: str, token: str) -> BrokerTarget:
    """The cell's queue and connection name for one run (``token`` makes them unique)."""
    name = f"lab.outbox.{cell.id}.{token}"
    return BrokerTarget(uri=uri, queue=name, connection_name=name)


def messages_per_invocation(cell: Cell) -> int:
    return int((cell.probe_settings(NAME) or {}).get("messages_per_invocation", 0))


def messages_expected(cell: Cell) -> int:
    """What reaches the broker when the cleanup runs."""
    return cell.invocations * messages_per_invocation(cell)


def check_settings(settings: Mapping[str, Any]) -> Tuple[Tuple[str, Any], ...]:
    """``[probes.broker]`` validated; ValueError saying what is expected. Pure."""
    reject_unknown(settings, SETTINGS)
    count = settings.get("messages_per_invocation")
    if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= 10_000:
        raise ValueError(f"messages_per_invocation: an integer from 1 to 10000, got {count!r}")
    checked: Tuple[Tuple[str, Any], ...] = (("messages_per_invocation", count),)
    if "delivered" in settings:
        if settings["delivered"] not in DELIVERED:
            raise ValueError(
                f"delivered: one of {', '.join(DELIVERED)}, got {settings['delivered']!r}"
            )
        checked += (("delivered", settings["delivered"]),)
    return checked


def delivered_expected(cell: Cell) -> str:
    """``all``, ``none`` or ``not-all``: declared, or what the declared cleanup implies."""
    declared = (cell.probe_settings(NAME) or {}).get("delivered")
    if declared:
        return str(declared)
    return "all" if cell.expectation.cleanup else "not-all"


def with_target(cell: Cell, target: BrokerTarget) -> Cell:
    """The cell with the function's outbox settings in its environment. Pure."""
    env = (
        ("LAB_OUTBOX_URI", target.uri),
        ("LAB_OUTBOX_QUEUE", target.queue),
        ("LAB_OUTBOX_CONNECTION_NAME", target.connection_name),
        ("LAB_OUTBOX_PER_INVOCATION", str(messages_per_invocation(cell))),
    )
    return dataclasses.replace(cell, env=cell.env + env)


def close_in_log(text: str, connection_name: str) -> Optional[CloseSeen]:
    """How the broker logged the end of ``connection_name``; None if it has not (yet)."""
    lines = text.splitlines()
    for number, line in enumerate(lines):
        if CLOSING not in line or f" - {connection_name}," not in line:
            continue
        if not line.rstrip().endswith(":"):
            return CloseSeen(clean=True, detail="closed by the client (AMQP Connection.Close)")
        reason = lines[number + 1] if number + 1 < len(lines) else ""
        # The reason line repeats the timestamp, level and Erlang pid first.
        words = reason.split("> ", 1)
        return CloseSeen(clean=False, detail=(words[-1] if words else reason).strip())
    return None


def find_broker_log(env: Mapping[str, str]) -> Optional[Path]:
    """``LAB_RABBITMQ_LOG``, else the node's log under /var/log/rabbitmq."""
    configured = env.get("LAB_RABBITMQ_LOG", "").strip()
    if configured:
        return Path(configured)
    found = [p for p in glob.glob(LOG_GLOB) if not p.endswith("_upgrade.log")]
    return Path(max(found, key=os.path.getmtime)) if found else None


def observe(
    cell: Cell, delivered: Optional[int], close: Optional[CloseSeen], problems: Tuple[str, ...]
) -> BrokerObservation:
    return BrokerObservation(
        messages_expected=messages_expected(cell),
        messages_delivered=delivered,
        connection_closed_cleanly=None if close is None else close.clean,
        close_detail="" if close is None else close.detail,
        problems=problems,
    )


class BrokerProbe:
    """One cell's queue at the broker: made empty before the run, counted and removed after."""

    def __init__(
        self,
        cell: Cell,
        env: Optional[Mapping[str, str]] = None,
        close_wait_s: float = 10.0,
    ) -> None:
        env = os.environ if env is None else env
        self.target = target_for(cell, broker_uri(env), uuid.uuid4().hex[:8])
        self.cell = with_target(cell, self.target)
        self.log_path = find_broker_log(env)
        self.close_wait_s = close_wait_s
        self._log_offset = 0

    def _connect(self) -> Any:
        try:
            import pika
        except ImportError:
            raise BrokerUnavailable(
                "pika is not installed on the host", "install requirements.txt (tox does)"
            ) from None
        params = pika.URLParameters(self.target.uri)
        params.connection_attempts = 1
        params.socket_timeout = 5
        try:
            return pika.BlockingConnection(params)
        except pika.exceptions.AMQPError as exc:
            raise BrokerUnavailable(
                f"no AMQP broker answers at {self.target.uri.split('@')[-1]} ({exc!r})",
                "start one with scripts/start-rabbitmq.sh or set AMQP_URI",
            ) from None

    def prepare(self, cell: Cell) -> Cell:
        """Declare the cell's queue empty, note where the broker's log ends; the cell
        with the outbox settings in its environment."""
        if self.log_path is None or not os.access(self.log_path, os.R_OK):
            raise BrokerUnavailable(
                f"cannot read the broker's log ({self.log_path or LOG_GLOB})",
                "set LAB_RABBITMQ_LOG to the RabbitMQ node's log file",
            )
        connection = self._connect()
        try:
            channel = connection.channel()
            channel.queue_declare(queue=self.target.queue, durable=True)
            channel.queue_purge(queue=self.target.queue)
        finally:
            connection.close()
        self._log_offset = self.log_path.stat().st_size
        return with_target(cell, self.target)

    def observe(self, event_lines: Sequence[str]) -> ProbeObservation:
        del event_lines  # judged at the broker / sink alone
        at_broker = self.observe_broker()
        return ProbeObservation(
            probe=NAME,
            fields=observation_fields(at_broker),
            reasons=judge_at_broker(self.cell, at_broker),
        )

    def observe_broker(self) -> BrokerObservation:
        """Count the queue, then wait (bounded) for the broker to log the connection's end."""
        problems = []
        delivered: Optional[int] = None
        try:
            connection = self._connect()
        except BrokerUnavailable as exc:
            problems.append(f"counting at the broker: {exc}")
        else:
            try:
                channel = connection.channel()
                declared = channel.queue_declare(queue=self.target.queue, passive=True)
                delivered = int(declared.method.message_count)
            finally:
                connection.close()
        close = self._wait_for_close()
        if close is None:
            problems.append(
                f"the broker's log ({self.log_path}) has no end for connection "
                f"{self.target.connection_name!r} within {self.close_wait_s:g} s"
            )
        return observe(self.cell, delivered, close, tuple(problems))

    def _wait_for_close(self) -> Optional[CloseSeen]:
        assert self.log_path is not None
        deadline = time.monotonic() + self.close_wait_s
        while True:
            with self.log_path.open("rb") as handle:
                handle.seek(self._log_offset)
                text = handle.read().decode("utf-8", "replace")
            seen = close_in_log(text, self.target.connection_name)
            # A reason arrives on the line after the closing line: wait for it too.
            if seen is not None and (seen.clean or seen.detail):
                return seen
            if time.monotonic() >= deadline:
                return seen
            time.sleep(0.1)  # polling the log file; bounded by the deadline

    def cleanup(self) -> None:
        """Delete the cell's queue (best effort: the broker may be gone)."""
        try:
            connection = self._connect()
        except BrokerUnavailable:
            return
        try:
            connection.channel().queue_delete(queue=self.target.queue)
        finally:
            connection.close()


def observation_fields(at_broker: BrokerObservation) -> Tuple[Tuple[str, Any], ...]:
    """What results.json records under ``probes.broker``. Pure."""
    return (
        ("messages_expected", at_broker.messages_expected),
        ("messages_delivered", at_broker.messages_delivered),
        ("connection_closed_cleanly", at_broker.connection_closed_cleanly),
        ("connection_close", at_broker.close_detail or None),
    )


def judge_at_broker(cell: Cell, at_broker: BrokerObservation) -> Tuple[str, ...]:
    """Every message and a clean close exactly when cleanup is declared. Pure."""
    reasons = [f"broker: {p}" for p in at_broker.problems]
    want = cell.expectation
    expected, delivered = at_broker.messages_expected, at_broker.messages_delivered
    declared = f"(declared: {want.reason} [{want.source}])"
    should = delivered_expected(cell)
    if delivered is not None:
        if should == "all" and delivered != expected:
            reasons.append(
                f"expected all {expected} buffered messages at the broker, {delivered} arrived "
                + declared
            )
        if should == "not-all" and delivered >= expected:
            reasons.append(
                f"expected the buffered messages to be lost, yet {delivered} of {expected} "
                "arrived " + declared
            )
        if should == "none" and delivered != 0:
            reasons.append(f"expected no message at the broker, {delivered} arrived " + declared)
    clean = at_broker.connection_closed_cleanly
    if clean is not None and clean != want.cleanup:
        reasons.append(
            f"expected the broker to see the connection {'closed' if want.cleanup else 'dropped'}"
            f", it logged: {at_broker.close_detail}"
        )
    return tuple(reasons)


class BrokerKind:
    """The broker probe as the pipeline sees it."""

    name = NAME

    def check_settings(self, settings: Mapping[str, Any]) -> Tuple[Tuple[str, Any], ...]:
        return check_settings(settings)

    def start(self, cell: Cell) -> BrokerProbe:
        return BrokerProbe(cell)

    def report_markdown(self, results: Sequence[CellResult]) -> List[str]:
        return render_broker_markdown(results)
