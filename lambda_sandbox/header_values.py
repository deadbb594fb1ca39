"""Values an invoker supplies that become headers of the Runtime API: checked and
re-encoded here, so none can break or forge the runtime's response. Pure.

The client context arrives base64-encoded; the runtime gets its JSON as the
``Lambda-Runtime-Client-Context`` header, re-serialised on one ASCII line
(raw JSON may hold CR/LF between tokens and characters outside Latin-1,
which a header cannot carry: one crashed awslambdaric's ``next``). A trace
id is passed on only if it is visible ASCII of a sane length; otherwise the
invocation gets a fresh one (an AMQP property is free text: with CR/LF it
would add ``Lambda-Runtime-*`` headers of its own).
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from typing import Optional

CLIENT_CONTEXT_ERROR = "Client context must be a valid Base64-encoded JSON object."
# Visible ASCII, no separators a header parser would act on.
_TRACE_ID = re.compile(r"^[\x21-\x7e]{1,512}$")


def client_context_header(raw: str) -> str:
    """The header value for a base64 ``X-Amz-Client-Context``; ValueError when it is
    not base64 of a JSON object."""
    try:
        decoded = json.loads(base64.b64decode(raw, validate=True).decode("utf-8"))
    except (binascii.Error, UnicodeDecodeError, ValueError, RecursionError):
        raise ValueError(CLIENT_CONTEXT_ERROR) from None
    if not isinstance(decoded, dict):
        raise ValueError(CLIENT_CONTEXT_ERROR)
    return json.dumps(decoded, separators=(",", ":"), ensure_ascii=True)


def trace_id_header(value: Optional[str]) -> Optional[str]:
    """The invoker's trace id if it can be a header value as it is, else None."""
    if value is None:
        return None
    value = value.strip()
    return value if _TRACE_ID.match(value) else None


def safe_header_value(value: str) -> bool:
    """Whether ``value`` can be written as one header line (no CR, LF or NUL; Latin-1)."""
    return _UNSAFE_IN_HEADER.search(value) is None


# CR, LF, NUL, or a character Latin-1 cannot encode: one search, in C.
_UNSAFE_IN_HEADER = re.compile("[\r\n\x00\u0100-\U0010ffff]")
