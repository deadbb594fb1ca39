"""A Telemetry API or Logs API subscription request, read and checked. Pure.

``PUT /2022-07-01/telemetry`` and ``PUT /2020-08-15/logs`` take the same body
(Lambda developer guide, "Telemetry API reference" and "Logs API"):
``destination`` (``protocol`` HTTP or TCP, ``URI``), ``types`` (platform,
function, extension), optional ``buffering`` and ``schemaVersion``. What is
refused, and how:

- a body that is not a JSON object, an unknown or missing schema version
  (required for the Telemetry API; the Logs API defaults to 2020-08-15), a
  missing or empty ``types`` or an unknown type, a buffering value out of range
  or not a whole number, a destination that is not HTTP or TCP, an HTTPS URI
  ("Lambda supports only HTTP, not HTTPS"), a URI without a port ("URI port is
  not provided", the documented example), port 9001 ("Lambda reserves port
  9001"), a host outside the execution environment ("Lambda sends telemetry
  only to destinations that are inside the execution environment"): 400
  ``ValidationError`` (Telemetry API) or ``Logs.ValidationError`` (Logs API).

Buffering ranges and defaults: ``maxItems`` 1,000 to 10,000 (default 10,000:
the Telemetry API guide page, the Logs API page and AWS's emulator; the
reference page says 1,000), ``maxBytes`` 262,144 to 1,048,576 (default
262,144), ``timeoutMs`` 25 to 30,000 (default 1,000).

A TCP destination is a URI (``tcp://sandbox.localdomain:PORT``, the documented
field) or, as AWS's emulator takes it, a ``port`` number.

Standard library only, CPython 3.7+.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Tuple
from urllib.parse import urlsplit

TELEMETRY = "telemetry"
LOGS = "logs"

TELEMETRY_SCHEMAS = ("2022-07-01", "2022-12-13", "2025-01-29")
LOGS_SCHEMAS = ("2020-08-15", "2021-03-18")
TYPES = ("platform", "function", "extension")

# Names that mean "inside the execution environment": Lambda's own
# (sandbox.localdomain, sandbox) and the loopback ones a host run uses.
LOCAL_HOSTS = ("sandbox.localdomain", "sandbox", "localhost", "127.0.0.1", "::1")
RESERVED_PORT = 9001

MAX_ITEMS = (1000, 10000, 10000)  # (min, max, default)
MAX_BYTES = (262144, 1048576, 262144)
TIMEOUT_MS = (25, 30000, 1000)


class SubscriptionError(ValueError):
    """The request cannot be taken: ``status`` and Lambda's ``error_type``."""

    def __init__(self, status: int, error_type: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.error_type = error_type
        self.message = message


@dataclass(frozen=True)
class Buffering:
    max_items: int = MAX_ITEMS[2]
    max_bytes: int = MAX_BYTES[2]
    timeout_ms: int = TIMEOUT_MS[2]


@dataclass(frozen=True)
class Destination:
    protocol: str  # "HTTP" | "TCP"
    host: str  # as given (sandbox.localdomain, ...); delivery goes to loopback
    port: int
    path: str  # HTTP only: "/..." ("/" when the URI has none)

    def describe(self) -> str:
        if self.protocol == "TCP":
            return f"tcp://{self.host}:{self.port}"
        return f"http://{self.host}:{self.port}{self.path}"


@dataclass(frozen=True)
class Subscription:
    api: str  # TELEMETRY | LOGS
    schema_version: str
    types: Tuple[str, ...]
    buffering: Buffering
    destination: Destination


def validation_error_type(api: str) -> str:
    return "ValidationError" if api == TELEMETRY else "Logs.ValidationError"


def closed_error(api: str) -> SubscriptionError:
    """After init: 403, as Lambda answers (the message is the service's own)."""
    if api == TELEMETRY:
        return SubscriptionError(
            403, "Telemetry.SubscriptionClosed", "Telemetry API subscription is closed already"
        )
    return SubscriptionError(
        403, "Logs.SubscriptionClosed", "Logs API subscription is closed already"
    )


def parse_subscription(api: str, body: bytes) -> Subscription:
    """The subscription ``body`` asks for, or SubscriptionError naming every problem."""
    try:
        document: Any = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise _invalid(api, "the body is not JSON") from None
    if not isinstance(document, dict):
        raise _invalid(api, "the body is not a JSON object")
    problems: List[str] = []
    schema = _schema(api, document.get("schemaVersion"), problems)
    types = _types(document.get("types"), problems)
    buffering = _buffering(document.get("buffering"), problems)
    destination = _destination(document.get("destination"), problems)
    if problems:
        raise _invalid(api, "; ".join(problems))
    assert schema is not None and destination is not None
    return Subscription(api, schema, types, buffering, destination)


def _invalid(api: str, message: str) -> SubscriptionError:
    return SubscriptionError(400, validation_error_type(api), message)


def _schema(api: str, raw: Any, problems: List[str]) -> Optional[str]:
    allowed = TELEMETRY_SCHEMAS if api == TELEMETRY else LOGS_SCHEMAS
    if raw is None and api == LOGS:
        return LOGS_SCHEMAS[0]
    if raw not in allowed:
        problems.append(
            "schemaVersion should be one of {} (got {})".format(", ".join(allowed), json.dumps(raw))
        )
        return None
    return str(raw)


def _types(raw: Any, problems: List[str]) -> Tuple[str, ...]:
    if not isinstance(raw, list) or not raw:
        problems.append("types should not be empty")
        return ()
    unknown = [t for t in raw if t not in TYPES]
    if unknown:
        problems.append(
            "types should be among {} (got {})".format(", ".join(TYPES), json.dumps(unknown))
        )
        return ()
    return tuple(dict.fromkeys(raw))  # in order, once each


def _buffering(raw: Any, problems: List[str]) -> Buffering:
    if raw is None:
        return Buffering()
    if not isinstance(raw, dict):
        problems.append("buffering should be an object")
        return Buffering()
    values: Dict[str, int] = {}
    for key, (lowest, highest, default) in (
        ("maxItems", MAX_ITEMS),
        ("maxBytes", MAX_BYTES),
        ("timeoutMs", TIMEOUT_MS),
    ):
        value = raw.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int):
            problems.append(f"buffering.{key} should be a whole number")
        elif not lowest <= value <= highest:
            problems.append(f"buffering.{key} should be from {lowest} to {highest} (got {value})")
        else:
            values[key] = value
            continue
        values[key] = default
    return Buffering(values["maxItems"], values["maxBytes"], values["timeoutMs"])


def _destination(raw: Any, problems: List[str]) -> Optional[Destination]:
    if not isinstance(raw, dict):
        problems.append("destination should be an object with protocol and URI")
        return None
    protocol = raw.get("protocol")
    if protocol not in ("HTTP", "TCP"):
        problems.append("destination.protocol should be HTTP or TCP")
        return None
    uri = raw.get("URI")
    if protocol == "TCP" and uri is None and "port" in raw:
        return _port_only(raw.get("port"), problems)
    if not isinstance(uri, str) or not uri:
        problems.append("destination.URI is not provided")
        return None
    return _from_uri(str(protocol), uri, problems)


def _port_only(port: Any, problems: List[str]) -> Optional[Destination]:
    if isinstance(port, bool) or not isinstance(port, int) or not 0 < port < 65536:
        problems.append("destination.port should be a port number")
        return None
    if port == RESERVED_PORT:
        problems.append("port 9001 is reserved by Lambda")
        return None
    return Destination("TCP", "sandbox.localdomain", port, "")


def _from_uri(protocol: str, uri: str, problems: List[str]) -> Optional[Destination]:
    try:
        parts = urlsplit(uri)
        port = parts.port
    except ValueError:
        problems.append(f"destination.URI is not a URI: {uri!r}")
        return None
    scheme = parts.scheme.lower()
    if protocol == "HTTP" and scheme != "http":
        problems.append("Lambda supports only HTTP destinations, not HTTPS" if scheme == "https"
                        else "destination.URI should start with http://")  # fmt: skip
        return None
    if protocol == "TCP" and scheme not in ("tcp", ""):
        problems.append("destination.URI should be tcp://HOST:PORT for TCP")
        return None
    host = (parts.hostname or "").lower()
    if host not in LOCAL_HOSTS:
        problems.append(
            f"destination host {host or '(none)'!r} is not inside the execution environment "
            "(use sandbox.localdomain)"
        )
        return None
    if port is None:
        problems.append("URI port is not provided")
        return None
    if port == RESERVED_PORT:
        problems.append("port 9001 is reserved by Lambda")
        return None
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    return Destination(protocol, host, port, path if protocol == "HTTP" else "")
