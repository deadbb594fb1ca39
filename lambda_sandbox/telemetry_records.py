"""The records the Telemetry API and the Logs API deliver, in Lambda's shapes. Pure.

Every event is ``{"time", "type", "record"}`` ("Telemetry API events schema
reference"; "Logs API"). The sandbox builds one stream of Telemetry API events
from its own measurements (the same figures as its console's START / END /
REPORT lines); ``for_subscription`` turns it into what one subscriber gets: its
types only, and for a Logs API subscriber the Logs API's shapes
(``platform.start``, ``platform.end`` + ``platform.report``,
``platform.logsSubscription``, ``platform.runtimeDone`` only with schema
2021-03-18; no init events).

Function and extension lines are text records (strings, without the
newline, as the guide's examples): the sandbox does not implement Lambda's
JSON log format, so the schema versions' one documented difference (a JSON
record is an object from 2022-12-13 on) never arises.

Standard library only, CPython 3.7+.
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Sequence

from lambda_sandbox.console import iso_timestamp
from lambda_sandbox.telemetry_subscription import LOGS, Subscription

Event = Dict[str, Any]

INIT_TYPE = "on-demand"
DROPPED_REASON = (
    "Some logs were dropped because the downstream consumer is slower than the logs production rate"
)


def event(type_: str, record: Any, now_s: float) -> Event:
    """``time`` as Lambda writes it: ``2022-10-12T00:00:15.064Z`` (UTC, milliseconds)."""
    return {"time": iso_timestamp(now_s), "type": type_, "record": record}


def category(type_: str) -> str:
    """Which of the subscribable ``types`` an event belongs to."""
    return type_ if type_ in ("function", "extension") else "platform"


def tracing(trace_id: str) -> Dict[str, str]:
    return {"type": "X-Amzn-Trace-Id", "value": trace_id}


# ------------------------------------------------------------------ init


def init_start(
    function_name: str,
    function_version: str,
    runtime_version: str,
    runtime_version_arn: str,
    instance_id: str,
    memory_size_mb: int,
) -> Dict[str, Any]:
    return {
        "initializationType": INIT_TYPE,
        "phase": "init",
        "runtimeVersion": runtime_version,
        "runtimeVersionArn": runtime_version_arn,
        "functionName": function_name,
        "functionVersion": function_version,
        "instanceId": instance_id,
        "instanceMaxMemory": memory_size_mb,
    }


def init_runtime_done(status: str, error_type: Optional[str] = None) -> Dict[str, Any]:
    record: Dict[str, Any] = {"initializationType": INIT_TYPE, "phase": "init", "status": status}
    if error_type:
        record["errorType"] = error_type
    return record


def init_report(
    status: str, duration_ms: float, error_type: Optional[str] = None
) -> Dict[str, Any]:
    record: Dict[str, Any] = {
        "initializationType": INIT_TYPE,
        "phase": "init",
        "status": status,
        "metrics": {"durationMs": round(duration_ms, 3)},
    }
    if error_type:
        record["errorType"] = error_type
    return record


def extension_state(name: str, state: str, events: Sequence[str]) -> Dict[str, Any]:
    return {"name": name, "state": state, "events": list(events)}


def subscription_record(name: str, types: Sequence[str]) -> Dict[str, Any]:
    return {"name": name, "state": "Subscribed", "types": list(types)}


# ---------------------------------------------------------------- invoke


def start(request_id: str, version: str, trace_id: str) -> Dict[str, Any]:
    return {"requestId": request_id, "version": version, "tracing": tracing(trace_id)}


def runtime_done(
    request_id: str,
    status: str,
    duration_ms: float,
    produced_bytes: Optional[int],
    trace_id: str,
    error_type: Optional[str] = None,
) -> Dict[str, Any]:
    metrics: Dict[str, Any] = {"durationMs": round(duration_ms, 3)}
    if produced_bytes is not None:
        metrics["producedBytes"] = produced_bytes
    record: Dict[str, Any] = {
        "requestId": request_id,
        "status": status,
        "metrics": metrics,
        "tracing": tracing(trace_id),
    }
    if error_type:
        record["errorType"] = error_type
    return record


def report(
    request_id: str,
    status: str,
    duration_ms: float,
    billed_duration_ms: int,
    memory_size_mb: int,
    max_memory_used_mb: int,
    init_duration_ms: Optional[float],
    trace_id: str,
) -> Dict[str, Any]:
    metrics: Dict[str, Any] = {
        "durationMs": round(duration_ms, 3),
        "billedDurationMs": billed_duration_ms,
        "memorySizeMB": memory_size_mb,
        "maxMemoryUsedMB": max_memory_used_mb,
    }
    if init_duration_ms is not None:
        metrics["initDurationMs"] = round(init_duration_ms, 3)
    return {
        "requestId": request_id,
        "status": status,
        "metrics": metrics,
        "tracing": tracing(trace_id),
    }


def logs_dropped(records: int, size: int, reason: str = DROPPED_REASON) -> Dict[str, Any]:
    return {"droppedBytes": size, "droppedRecords": records, "reason": reason}


# ----------------------------------------------------------- per subscriber

# Telemetry API event types with no Logs API counterpart.
_NOT_IN_LOGS_API = frozenset(
    {"platform.initStart", "platform.initRuntimeDone", "platform.initReport"}
)


def for_subscription(subscription: Subscription, item: Event) -> List[Event]:
    """What ``subscription`` receives of one Telemetry API event (nothing, when
    it did not subscribe to the event's type)."""
    type_ = item["type"]
    if category(type_) not in subscription.types:
        return []
    if subscription.api != LOGS:
        return [item]
    if type_ in _NOT_IN_LOGS_API:
        return []
    record = item["record"]
    if type_ == "platform.telemetrySubscription":
        return [dict(item, type="platform.logsSubscription")]
    if type_ == "platform.start":
        return [dict(item, record={"requestId": record["requestId"], "version": record["version"]})]
    if type_ == "platform.runtimeDone":
        if subscription.schema_version != "2021-03-18":
            return []
        return [dict(item, record={"requestId": record["requestId"], "status": record["status"]})]
    if type_ == "platform.report":
        return [
            dict(item, type="platform.end", record={"requestId": record["requestId"]}),
            dict(item, record={"requestId": record["requestId"], "metrics": record["metrics"]}),
        ]
    return [item]
