"""A user's own function: it buffers telemetry records and ships them in its cleanup.

This is the worked example from the README: a function that is not this
project's, run through the matrix to learn whether its cleanup survives each
runtime. It keeps records in memory during invocations (as telemetry and
outbox code does) and writes them out only at shutdown; whatever the cleanup
does not write is lost. The two files beside it are the project's drop-in fix,
copied (here: linked) into the function as a user would.

The lab passes LAB_STRATEGY ("signal" or "wakeup-fd"); on its own the function
uses the fix.
"""

from __future__ import annotations

import json
import os
import tempfile
from typing import Any, Dict, List

import graceful_shutdown

BUFFER: List[Dict[str, Any]] = []
SINK = os.environ.get("TELEMETRY_SINK") or os.path.join(tempfile.gettempdir(), "telemetry.jsonl")


def flush() -> None:
    print(f"[telemetry] flushing {len(BUFFER)} records", flush=True)
    with open(SINK, "a", encoding="utf-8") as sink:
        for record in BUFFER:
            sink.write(json.dumps(record) + "\n")
    BUFFER.clear()
    print("[telemetry] flushed", flush=True)


graceful_shutdown.install(flush, strategy=os.environ.get("LAB_STRATEGY", "wakeup-fd"))


def handler(event: Any, context: Any) -> Dict[str, Any]:
    BUFFER.append({"request_id": context.aws_request_id, "event": event})
    return {"buffered": len(BUFFER)}
