"""A request's line and header fields, parsed strictly (RFC 9112). Pure.

http.server parses the request line itself and hands the header section to
the ``email`` package, which costs about a third of the sandbox's CPU per
warm invoke (``python -m bench.invoke_profile``) and accepts what RFC 9112
says a server must reject: whitespace between a field name and its colon
(a name that then matches nothing, so ``Content-Length : 5`` frames no
body), obsolete line folding, lines that are no field at all. This module
does both parts with the same answers as http.server for the request line
(400, 505), the same limits for the header section (65,536 bytes a line,
100 fields: 431), and a 400 for every malformed field line.
"""

from __future__ import annotations

import re
from typing import Dict, List, NamedTuple, Optional, Tuple, overload

MAX_LINE = 65536  # http.client's limit for one header line
MAX_FIELDS = 100  # http.client's limit for the number of header fields
_TOKEN = re.compile(rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]+\Z")
_FORBIDDEN_IN_VALUE = re.compile(rb"[\x00\r\n]")
_PLAIN_HTTP11 = re.compile(rb"([!#$%&'*+\-.^_`|~0-9A-Za-z]+) ([!-~]+) HTTP/1\.1\r?\n?\Z")


class BadRequest(Exception):
    """The request cannot be served; ``status`` and ``message`` are the answer's."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class RequestLine(NamedTuple):
    command: str
    path: str
    version: str  # "HTTP/1.1"; the default for a two-word (HTTP/0.9) line
    keep_alive: bool  # HTTP/1.1 or later: the connection stays open by default


def parse_request_line(raw: bytes, default_version: str = "HTTP/1.1") -> Optional[RequestLine]:
    """The request line (with its line end), or None for a blank line (no request).

    The checks and messages are http.server's: a version of two decimal
    numbers under 11 digits each, at most 1.x, two or three words, and a
    two-word line only for GET.
    """
    fast = _PLAIN_HTTP11.match(raw)
    if fast is not None and not fast.group(2).startswith(b"//"):
        # The usual line (a token, a target of visible ASCII, HTTP/1.1): the
        # answer of the general parse, in one match.
        command, path = fast.group(1).decode("ascii"), fast.group(2).decode("ascii")
        return RequestLine(command, path, "HTTP/1.1", True)
    return parse_request_line_in_full(raw, default_version)


def parse_request_line_in_full(
    raw: bytes, default_version: str = "HTTP/1.1"
) -> Optional[RequestLine]:
    """``parse_request_line`` without its shortcut for the usual line."""
    text = str(raw, "iso-8859-1").rstrip("\r\n")
    words = text.split()
    if not words:
        return None
    version = default_version
    keep_alive = False
    if len(words) >= 3:
        version = words[-1]
        numbers = version[len("HTTP/") :].split(".") if version.startswith("HTTP/") else []
        if (
            len(numbers) != 2
            or not all(n.isdigit() for n in numbers)
            or any(len(n) > 10 for n in numbers)
        ):
            raise BadRequest(400, f"Bad request version ({version!r})")
        major, minor = int(numbers[0]), int(numbers[1])
        if (major, minor) >= (2, 0):
            raise BadRequest(505, f"Invalid HTTP version ({version[len('HTTP/') :]})")
        keep_alive = (major, minor) >= (1, 1)
    if not 2 <= len(words) <= 3:
        raise BadRequest(400, f"Bad request syntax ({text!r})")
    command, path = words[:2]
    if len(words) == 2:
        keep_alive = False
        if command != "GET":
            raise BadRequest(400, f"Bad HTTP/0.9 request type ({command!r})")
    if path.startswith("//"):
        path = "/" + path.lstrip("/")  # not an authority (gh-87389)
    return RequestLine(command, path, version, keep_alive)


def keeps_alive(line: RequestLine, fields: "Fields") -> bool:
    """Whether the connection stays open after this request: its version's default,
    unless a Connection field says ``close`` or ``keep-alive`` (as http.server)."""
    connection = fields.get("Connection", "").lower()
    if connection == "close":
        return False
    if connection == "keep-alive":
        return True
    return line.keep_alive


def parse_field(line: bytes) -> Tuple[str, str]:
    """One header field line (with its line end): (name, value without surrounding
    whitespace). BadRequest (400) for obsolete folding, a name that is not a
    token (whitespace before the colon included), or a value holding CR or NUL."""
    if line[:1] in (b" ", b"\t"):
        raise BadRequest(400, "Bad header line (obsolete line folding)")
    name, colon, value = line.partition(b":")
    if not colon or not _TOKEN.match(name):
        raise BadRequest(400, "Bad header line (not a field name and a colon)")
    value = value.rstrip(b"\r\n").strip(b" \t")
    if _FORBIDDEN_IN_VALUE.search(value):
        raise BadRequest(400, "Bad header line (CR or NUL in a value)")
    return name.decode("ascii"), value.decode("iso-8859-1")


class Fields:
    """A request's header fields: names case-insensitive, every value of a repeated
    name kept in order (``get`` gives the first, as ``email.message`` does)."""

    __slots__ = ("_by_name",)

    def __init__(self) -> None:
        self._by_name: Dict[str, List[str]] = {}

    def add(self, name: str, value: str) -> None:
        self._by_name.setdefault(name.lower(), []).append(value)

    @overload
    def get(self, name: str) -> Optional[str]: ...

    @overload
    def get(self, name: str, default: str) -> str: ...

    def get(self, name: str, default: Optional[str] = None) -> Optional[str]:
        values = self._by_name.get(name.lower())
        return values[0] if values else default

    def get_all(self, name: str) -> Optional[List[str]]:
        values = self._by_name.get(name.lower())
        return list(values) if values else None

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name.lower() in self._by_name

    def __len__(self) -> int:
        return sum(len(values) for values in self._by_name.values())


# A well-formed field line, from the start of a line to its LF (CR LF): a section
# whose every line is one (as many matches as LFs, and nothing after the last)
# is parsed in one search instead of a call per line. Any other section is
# parsed line by line (and perhaps refused). The value keeps its trailing
# blanks here; they are stripped after.
_FIELD_LINE = re.compile(rb"^([!#$%&'*+\-.^_`|~0-9A-Za-z]+):[ \t]*([^\x00\r\n]*)\r?\n", re.M)


def parse_fields(section: bytes) -> Fields:
    """A header section's field lines (each ending in LF; the blank line that ends
    the section not included; a last line cut off by the end of the stream
    allowed). BadRequest: 431 past ``MAX_FIELDS`` fields or for a line over
    ``MAX_LINE`` bytes, 400 for a line ``parse_field`` rejects."""
    fields = Fields()
    if not section:
        return fields
    if len(section) < MAX_LINE and section.endswith(b"\n"):
        pairs = _FIELD_LINE.findall(section)
        if len(pairs) == section.count(b"\n") and len(pairs) <= MAX_FIELDS:
            by_name = fields._by_name
            for name, value in pairs:
                key = name.decode("ascii").lower()
                text = value.rstrip(b" \t").decode("iso-8859-1")
                values = by_name.get(key)
                if values is None:
                    by_name[key] = [text]
                else:
                    values.append(text)
            return fields
    return _parse_fields_line_by_line(section, fields)


def _parse_fields_line_by_line(section: bytes, fields: Fields) -> Fields:
    lines = section.split(b"\n")
    if not lines[-1]:
        lines.pop()  # what follows the last LF
    if len(lines) > MAX_FIELDS:
        raise BadRequest(431, "Too many headers")
    for line in lines:
        if len(line) >= MAX_LINE:
            raise BadRequest(431, "Line too long")
        name, value = parse_field(line)
        fields.add(name, value)
    return fields
