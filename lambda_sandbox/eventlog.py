"""The event log: the one contract between the sandbox and whoever judges it.

Everything about the log lives here and nowhere else: the schema version, the
kind names and the keys each kind carries (the README's table is checked
against ``KIND_FIELDS`` by a test), the writer the sandbox uses, and the one
reader (``parse_line`` / ``parse_events``) that the harness's judge, timeline,
log tail and the benchmarks all use. The harness imports this module and no
other module of the sandbox.

The writer is used from many threads; each line is written whole under a lock
and flushed at once, so a reader tailing the file never sees half a line and
nothing is lost when the sandbox is killed right after.

Sealed logs: given a key (``LAMBDA_SANDBOX_EVIDENCE_KEY``, which the function
never sees), the writer ends every line with ``"mac"``, an HMAC-SHA256 over the
previous line's mac and the line's own text. A line the function appended,
altered or removed then fails ``verify_seals`` with the same key: the log is
evidence only the sandbox can write (issue 17).

Standard library only, CPython 3.7+: it runs inside every image.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import math
import os
import re
import secrets
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable, Dict, Iterable, List, Mapping, Optional, Tuple, Union

SCHEMA_VERSION = 1

# Keys on every line.
COMMON_FIELDS = ("v", "ts", "mono", "kind")


class Kind:
    """The kind names, as constants: a typo is a NameError that mypy sees, not a silent miss."""

    SANDBOX_START = "sandbox.start"
    SANDBOX_READY = "sandbox.ready"
    SANDBOX_SIGNAL = "sandbox.signal"
    SANDBOX_EXIT = "sandbox.exit"
    ENVIRONMENT_CREATED = "environment.created"
    ENVIRONMENT_FREEZE = "environment.freeze"
    ENVIRONMENT_THAW = "environment.thaw"
    PHASE = "phase"
    PROCESS_START = "process.start"
    PROCESS_EXIT = "process.exit"
    EXTENSION_REGISTER = "extension.register"
    EXTENSION_REFUSED = "extension.refused"
    INIT_START = "init.start"
    INIT_END = "init.end"
    INVOKE_START = "invoke.start"
    INVOKE_END = "invoke.end"
    INVOKE_DROPPED = "invoke.dropped"
    INVOKE_SPOOLED = "invoke.spooled"
    INVOKE_REPLAYED = "invoke.replayed"
    SHUTDOWN_START = "shutdown.start"
    SHUTDOWN_EVENT = "shutdown.event"
    SIGNAL_SENT = "signal.sent"
    SHUTDOWN_END = "shutdown.end"
    OUTPUT = "output"
    TELEMETRY_SUBSCRIBE = "telemetry.subscribe"
    TELEMETRY_DELIVERY = "telemetry.delivery"
    TELEMETRY_DROPPED = "telemetry.dropped"
    AMQP_CONNECT = "amqp.connect"
    AMQP_DISCONNECT = "amqp.disconnect"
    AMQP_INVOKE = "amqp.invoke"
    AMQP_REPLY = "amqp.reply"
    AMQP_REQUEUE = "amqp.requeue"
    AMQP_UNACKED = "amqp.unacked"
    AMQP_REJECT = "amqp.reject"
    AMQP_UNAVAILABLE = "amqp.unavailable"
    AMQP_STOP = "amqp.stop"


# The keys each kind carries beyond COMMON_FIELDS (and ``env``, which every
# event about one execution environment carries). The README documents the
# same table; tests/unit/test_eventlog_contract.py keeps the two equal.
KIND_FIELDS: Dict[str, Tuple[str, ...]] = {
    Kind.SANDBOX_START: (
        "pid",
        "function_name",
        "function_version",
        "config",
        "hardening",
        "sealed",
    ),
    Kind.SANDBOX_READY: ("invoke_api", "runtime_api"),
    Kind.SANDBOX_SIGNAL: ("signal",),
    Kind.SANDBOX_EXIT: ("code",),
    Kind.ENVIRONMENT_CREATED: ("runtime_api",),
    Kind.ENVIRONMENT_FREEZE: ("names",),
    Kind.ENVIRONMENT_THAW: ("names",),
    Kind.PHASE: ("from", "to", "reason"),
    Kind.PROCESS_START: ("role", "name", "pid", "argv"),
    Kind.PROCESS_EXIT: ("role", "name", "pid", "returncode", "signal"),
    Kind.EXTENSION_REGISTER: ("name", "id", "type", "events"),
    Kind.EXTENSION_REFUSED: ("name", "status", "error_type"),
    Kind.INIT_START: (),
    Kind.INIT_END: ("status", "duration_ms", "error_type"),
    Kind.INVOKE_START: ("request_id",),
    Kind.INVOKE_END: ("request_id", "status", "duration_ms"),
    Kind.INVOKE_DROPPED: ("request_id", "reason"),
    Kind.INVOKE_SPOOLED: ("request_id", "spool", "retries_made"),
    Kind.INVOKE_REPLAYED: ("request_id", "spool", "retries_made"),
    Kind.SHUTDOWN_START: (
        "reason",
        "rule",
        "limit_ms",
        "deadline_ms",
        "runtime_limit_ms",
        "model",
    ),
    Kind.SHUTDOWN_EVENT: ("name", "id", "reason", "deadline_ms"),
    Kind.SIGNAL_SENT: ("signal", "role", "name", "pid"),
    Kind.SHUTDOWN_END: ("reason", "duration_ms", "killed"),
    Kind.OUTPUT: ("role", "name", "pid", "stream", "line"),
    Kind.TELEMETRY_SUBSCRIBE: ("name", "id", "api", "schema", "types", "destination"),
    Kind.TELEMETRY_DELIVERY: ("name", "records", "bytes", "attempts", "delivered", "error"),
    Kind.TELEMETRY_DROPPED: ("name", "records", "bytes", "reason"),
    Kind.AMQP_CONNECT: ("broker", "queue", "prefetch"),
    Kind.AMQP_DISCONNECT: ("broker", "error", "retry_in_s"),
    Kind.AMQP_INVOKE: ("request_id", "correlation_id", "reply_to", "redelivered", "bytes"),
    Kind.AMQP_REPLY: ("request_id", "correlation_id", "reply_to", "function_error"),
    Kind.AMQP_REQUEUE: ("request_id", "correlation_id", "reason"),
    Kind.AMQP_UNACKED: ("request_id", "correlation_id", "error"),
    Kind.AMQP_REJECT: ("reason", "correlation_id", "reply_to", "redelivered", "bytes", "replied"),
    Kind.AMQP_UNAVAILABLE: ("reason",),
    Kind.AMQP_STOP: ("broker",),
}

ALL_KINDS = frozenset(KIND_FIELDS)
# What the optional AMQP consumer logs: about the transport, never about a
# runtime's lifecycle.
AMQP_KINDS = frozenset(k for k in ALL_KINDS if k.startswith("amqp."))


# ----------------------------------------------------------------- reading


@dataclass(frozen=True)
class Event:
    """One line of the log, parsed. ``n`` is its 0-based line number in the file."""

    n: int
    kind: str
    mono: float
    record: Mapping[str, Any]

    def get(self, key: str, default: Any = None) -> Any:
        return self.record.get(key, default)

    def __getitem__(self, key: str) -> Any:
        return self.record[key]


@dataclass(frozen=True)
class Reading:
    """A whole log: its events in order, and what was wrong with the lines that are not."""

    events: Tuple[Event, ...]
    problems: Tuple[str, ...]

    def of_kind(self, kind: str) -> List[Event]:
        return [e for e in self.events if e.kind == kind]


def parse_line(n: int, line: Union[str, bytes]) -> Union[Event, str, None]:
    """The event on line ``n`` (0-based), a problem description, or None for a blank line.

    A line from another schema version is still returned as an event (the
    problem is reported by ``parse_events``): a reader may decide to go on.
    """
    if not line.strip():
        return None
    try:
        record = json.loads(line)
    except ValueError:
        # A line cut short by a kill is the only expected cause; say so.
        text = line.decode("utf-8", "replace") if isinstance(line, bytes) else line
        return f"event log line {n + 1} is not JSON: {text[:80]!r}"
    if not isinstance(record, dict) or "kind" not in record or "mono" not in record:
        return f"event log line {n + 1} lacks 'kind' or 'mono'"
    try:
        mono = float(record["mono"])
    except (TypeError, ValueError):
        return f"event log line {n + 1} has a 'mono' that is not a number"
    return Event(n=n, kind=str(record["kind"]), mono=mono, record=record)


def parse_events(lines: Iterable[Union[str, bytes]]) -> Reading:
    """Every event of a log, in order, with a problem per unreadable or foreign line
    (whether the sandbox wrote each line is ``verify_seals``'s to say)."""
    events: List[Event] = []
    problems: List[str] = []
    for n, line in enumerate(lines):
        parsed = parse_line(n, line)
        if parsed is None:
            continue
        if isinstance(parsed, str):
            problems.append(parsed)
            continue
        version = parsed.get("v")
        if version != SCHEMA_VERSION:
            problems.append(f"event log line {n + 1} has schema version {version!r}")
        events.append(parsed)
    return Reading(events=tuple(events), problems=tuple(problems))


def read_event_log(path: str) -> Reading:
    """``parse_events`` of a file; a missing file reads as an empty log."""
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            return parse_events(handle.read().splitlines())
    except FileNotFoundError:
        return Reading(events=(), problems=())


# ----------------------------------------------------------------- seals

# `, "mac": "<64 hex digits>"}` closes every sealed line.
_SEAL = re.compile(r', "mac": "([0-9a-f]{64})"\}$')


def mac_of(body: str, key: bytes, previous: str) -> str:
    """The mac of ``body`` (one JSON object's text) after the line whose mac was
    ``previous``. Pure. It covers the previous mac too, so lines cannot be removed
    or reordered without a later line failing."""
    return hmac.new(key, (previous + "\n" + body).encode("utf-8"), hashlib.sha256).hexdigest()


def seal(body: str, mac: str) -> str:
    """``body`` with ``mac`` as its last key. Pure."""
    return body[:-1] + ', "mac": "' + mac + '"}'


def verify_seals(lines: Iterable[Union[str, bytes]], key: bytes) -> List[str]:
    """A problem per non-blank line that is not the sandbox's (empty when all are). Pure.

    A line that fails is skipped, and the chain goes on from the last line that
    held: one appended forgery is one problem, not a cascade. A removed line
    shows as the next line failing."""
    problems: List[str] = []
    previous = ""
    for n, raw in enumerate(lines):
        line = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw
        line = line.rstrip("\r\n")
        if not line.strip():
            continue
        found = _SEAL.search(line)
        if found is None:
            problems.append(f"event log line {n + 1} has no seal: the sandbox did not write it")
            continue
        body = line[: found.start()] + "}"
        if not hmac.compare_digest(mac_of(body, key, previous), found.group(1)):
            problems.append(
                f"event log line {n + 1} fails its seal: it was altered, forged, or a line "
                "before it was removed"
            )
            continue
        previous = found.group(1)
    return problems


def new_key() -> bytes:
    """A fresh evidence key, for whoever starts a sandbox and judges its log.

    The key is in the caller's memory from now on, so the caller becomes
    non-dumpable as the sandbox does (``hardening``), without dropping any
    capability of its own."""
    from lambda_sandbox import hardening

    hardening.protect(drop_ptrace=False)
    return secrets.token_bytes(32)


# ----------------------------------------------------------------- writing


def encode(kind: str, fields: Mapping[str, Any], ts: float, mono: float) -> str:
    """One line of the log (without its newline). Pure.

    The same text as encoding the whole record at once; the four leading
    fields are formatted directly (a float costs the JSON encoder a call back
    into Python), the rest encoded as one object."""
    if _LEADING.isdisjoint(fields) and math.isfinite(ts) and math.isfinite(mono):
        head = f'{{"v": {SCHEMA_VERSION}, "ts": {ts!r}, "mono": {mono!r}, "kind": {_ENCODER.encode(kind)}'
        return head + (", " + _ENCODE_OBJECT(fields)[1:] if fields else "}")
    record: Dict[str, Any] = {"v": SCHEMA_VERSION, "ts": ts, "mono": mono, "kind": kind}
    record.update(fields)
    return _ENCODER.encode(record)


_LEADING = frozenset(("v", "ts", "mono", "kind"))


# One encoder for every line (``json.dumps`` with ``default`` builds a new one each call).
_ENCODER = json.JSONEncoder(default=str)


def _object_encoder() -> Callable[[Mapping[str, Any]], str]:
    """``_ENCODER.encode`` for a dict, the same text without building the C encoder
    again for each line (``JSONEncoder.iterencode`` does): the C encoder
    ``iterencode`` makes for these settings, made once. Its marker table (the
    check for a dict inside itself) is left out: a line's fields never hold one."""
    make = getattr(json.encoder, "c_make_encoder", None)
    if make is None:
        return _ENCODER.encode
    encoder = make(
        None, str, json.encoder.encode_basestring_ascii, None, ": ", ", ", False, False, True
    )
    return lambda fields: "".join(encoder(fields, 0))


_ENCODE_OBJECT = _object_encoder()


class EventLog:
    """The sandbox's writer; with no path it writes nothing; with a key it seals each line."""

    def __init__(self, path: Optional[str], key: Optional[bytes] = None) -> None:
        self._lock = threading.Lock()
        self._fd: Optional[int] = None
        self._key = key
        self._previous = ""
        if path:
            # Unbuffered: each line is one write(2) to the end of the file, whole
            # in the file the moment it returns.
            flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | getattr(os, "O_CLOEXEC", 0)
            self._fd = os.open(path, flags, 0o666)

    def write(self, kind: str, **fields: Any) -> None:
        if self._fd is None:
            return
        line = encode(kind, fields, time.time(), time.monotonic())
        with self._lock:
            if self._key is not None:
                self._previous = mac_of(line, self._key, self._previous)
                line = seal(line, self._previous)
            data = memoryview((line + "\n").encode("utf-8"))
            while data:
                data = data[os.write(self._fd, data) :]

    def close(self) -> None:
        with self._lock:
            if self._fd is not None:
                os.close(self._fd)
                self._fd = None
