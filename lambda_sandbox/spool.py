"""Accepted ``Event`` invocations survive a stop: written to a spool file at stop,
run at the next start.

An Event invocation is answered 202 before it runs; the invoker will not send
it again. What is still queued when the sandbox stops (waiting for an
environment, waiting for a retry, or cut off mid-run by the stop itself) is
written here, one JSON line each, and the next sandbox started with the same
spool runs them first, with the retries they have left (issue 17). The file
is replaced whole (written beside it, then renamed), and taken whole at start
(renamed away before it is read), so an entry is run by one start only.

``encode`` and ``decode`` are pure; ``save`` and ``take`` do the file's I/O.
Standard library only, CPython 3.7+.
"""

from __future__ import annotations

import base64
import json
import os
from dataclasses import dataclass
from typing import List, Sequence, Tuple, Union

from lambda_sandbox.invocations import Invocation

SPOOL_VERSION = 1


@dataclass(frozen=True)
class Spooled:
    invocation: Invocation
    retries_made: int  # how many of the retries Lambda allows are used up


def encode(item: Spooled) -> str:
    """One line of the spool (without its newline). Pure."""
    inv = item.invocation
    return json.dumps(
        {
            "v": SPOOL_VERSION,
            "request_id": inv.request_id,
            "payload": base64.b64encode(inv.payload).decode("ascii"),
            "client_context": inv.client_context,
            "cognito_identity": inv.cognito_identity,
            "trace_id": inv.trace_id,
            "retries_made": item.retries_made,
        }
    )


def decode(line: str) -> Union[Spooled, str]:
    """The spooled invocation on ``line``, or what is wrong with it. Pure."""
    try:
        record = json.loads(line)
        if not isinstance(record, dict) or record.get("v") != SPOOL_VERSION:
            return "not a spool entry of version 1"
        optional = ("client_context", "cognito_identity")
        if not all(record[k] is None or isinstance(record[k], str) for k in optional):
            return "a context that is not text"
        retries = int(record["retries_made"])
        invocation = Invocation(
            request_id=str(record["request_id"]),
            payload=base64.b64decode(record["payload"], validate=True),
            client_context=record["client_context"],
            cognito_identity=record["cognito_identity"],
            trace_id=str(record["trace_id"]),
        )
    except (ValueError, KeyError, TypeError) as err:
        return f"unreadable ({type(err).__name__})"
    if retries < 0:
        return "a negative retry count"
    return Spooled(invocation, retries)


def save(path: str, items: Sequence[Spooled]) -> None:
    """Replace the spool at ``path`` with ``items`` (none: no file). Raises OSError."""
    if not items:
        return
    partial = f"{path}.partial"
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        for item in items:
            f.write(encode(item) + "\n")
        f.flush()
        os.fsync(f.fileno())
    os.replace(partial, path)


def take(path: str) -> Tuple[List[Spooled], List[str]]:
    """What the spool at ``path`` holds, removing it, with a problem per bad line; a
    missing spool is empty. Raises OSError when it exists but cannot be taken."""
    taking = f"{path}.taking"
    try:
        os.replace(path, taking)
    except FileNotFoundError:
        return [], []
    with open(taking, encoding="utf-8", errors="replace") as f:
        lines = f.read().splitlines()
    os.unlink(taking)
    items: List[Spooled] = []
    problems: List[str] = []
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        decoded = decode(line)
        if isinstance(decoded, str):
            problems.append(f"{path} line {n}: {decoded}")
        else:
            items.append(decoded)
    return items, problems
