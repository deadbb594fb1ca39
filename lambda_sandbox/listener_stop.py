"""What a listening socket's orderly stop needs from Linux: refuse new connections
while the handshakes already begun finish, and tell when none is left.

A classic BPF socket filter on the listener drops every segment that opens a
connection (SYN without ACK): a client that tries now gets no answer, then a
refusal once the listener is closed. Every other segment passes, so a handshake
whose SYN came before the filter completes, and its connection lands in the
backlog to be served. While such a handshake is in flight the kernel lists it in
``/proc/net/tcp`` (or ``tcp6``) as SYN_RECV; closing the listener then would
leave its client with a connection that is reset at its first read. Standard
library only, CPython 3.7+.
"""

from __future__ import annotations

import socket
import struct
from typing import Iterable, Optional

SO_ATTACH_FILTER = 26

# A socket filter on a TCP socket sees the segment from its TCP header on; the
# flags are its byte 13. Instructions: (code, jt, jf, k), struct sock_filter.
_OPENS_A_CONNECTION_DROPPED = (
    (0x30, 0, 0, 13),  # ldb [13]              the flags
    (0x54, 0, 0, 0x12),  # and #0x12           SYN and ACK only
    (0x15, 0, 1, 0x02),  # jeq #0x02, 0, 1     SYN alone?
    (0x06, 0, 0, 0),  # ret #0                 yes: drop it
    (0x06, 0, 0, 0xFFFFFFFF),  # ret #-1       no: keep the whole segment
)

_SYN_RECV = "03"  # the state column of /proc/net/tcp
_TABLES = ("/proc/net/tcp", "/proc/net/tcp6")


def refuse_new_connections(listener: socket.socket) -> bool:
    """Attach the filter that drops connection openings to ``listener``; whether it
    took (Linux only; elsewhere the backlog's drain alone must do)."""
    try:
        import ctypes

        code = b"".join(struct.pack("@HBBI", *op) for op in _OPENS_A_CONNECTION_DROPPED)
        program = ctypes.create_string_buffer(code, len(code))
        fprog = struct.pack("@HP", len(_OPENS_A_CONNECTION_DROPPED), ctypes.addressof(program))
        listener.setsockopt(socket.SOL_SOCKET, SO_ATTACH_FILTER, fprog)
    except (ImportError, OSError, struct.error):
        return False
    return True


def handshakes_in_flight(table_lines: Iterable[str], port: int) -> int:
    """How many connections to local ``port`` are half open (SYN_RECV) in the lines
    of a ``/proc/net/tcp`` or ``tcp6`` table. Pure."""
    wanted = f"{port:04X}"
    count = 0
    for line in table_lines:
        fields = line.split()
        if len(fields) < 4 or ":" not in fields[1]:
            continue  # the heading, or a line that is no socket
        if fields[3] == _SYN_RECV and fields[1].rsplit(":", 1)[1] == wanted:
            count += 1
    return count


def handshakes_in_flight_now(port: int) -> Optional[int]:
    """``handshakes_in_flight`` for this machine's tables; None when none can be read."""
    total: Optional[int] = None
    for path in _TABLES:
        try:
            with open(path) as table:
                found = handshakes_in_flight(table, port)
        except OSError:
            continue
        total = (total or 0) + found
    return total
