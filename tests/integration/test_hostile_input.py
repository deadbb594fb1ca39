"""A catalogue of bad requests: each gets its documented answer, none hurts the sandbox.

Every entry is sent raw over a socket (so that lies about Content-Length,
broken chunking, garbage request lines and clients that stop mid-body are
possible), its status and error type are checked, and a normal invocation
must work right after. At the end every normal invocation must have run
exactly once.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import socket
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Iterator, List, Optional, Tuple

import pytest
from support.resources import BOUND_KB, Held, settle, steady

from harness.sandbox.running import RunningSandbox

pytestmark = [pytest.mark.integration, pytest.mark.timeout(240)]

INVOKE = "/2015-03-31/functions/function/invocations"
RT = "/2018-06-01/runtime"
EXT = "/2020-01-01/extension"
SIX_MB = 6 * 1024 * 1024
CLIENT_TIMEOUT_S = 1.0
UNKNOWN_ID = "00000000-0000-0000-0000-000000000000"


def request(
    method: str,
    path: str,
    body: bytes = b"",
    headers: Optional[Dict[str, str]] = None,
    content_length: Optional[str] = "auto",
) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", "Host: localhost"]
    for name, value in (headers or {}).items():
        lines.append(f"{name}: {value}")
    if content_length == "auto":
        lines.append(f"Content-Length: {len(body)}")
    elif content_length is not None:
        lines.append(f"Content-Length: {content_length}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


def chunked(method: str, path: str, chunks: bytes) -> bytes:
    head = f"{method} {path} HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n"
    return head.encode() + chunks


@dataclass(frozen=True)
class Case:
    name: str
    api: str  # "invoke" | "runtime"
    raw: bytes
    status: Tuple[int, ...]
    error_type: Optional[str] = None
    half_close: bool = False  # shut our write side after sending (a client that gives up)
    stall: bool = False  # send, then keep the connection open and silent
    invokes: int = 0  # invocations the request itself rightly makes


def framed(headers: str, body: bytes) -> bytes:
    """An Invoke request with hand-written framing headers (RFC 9112 cases)."""
    return f"POST {INVOKE} HTTP/1.1\r\nHost: localhost\r\n{headers}\r\n".encode() + body


# A second request hidden in the first one's body: read by Content-Length it is
# the next request on the connection (one request, two invocations).
SMUGGLED = request("POST", INVOKE, b'{"smuggled": true}')


CASES = [
    # ----------------------------------------------------------- Invoke API
    Case("invalid JSON", "invoke", request("POST", INVOKE, b"{nope"), (400,),
         "InvalidRequestContentException"),
    Case("non-UTF-8 body", "invoke", request("POST", INVOKE, b"\xff\xfe\x00"), (400,),
         "InvalidRequestContentException"),
    Case("truncated JSON", "invoke", request("POST", INVOKE, b'{"a": [1, 2'), (400,),
         "InvalidRequestContentException"),
    Case("unknown function", "invoke",
         request("POST", "/2015-03-31/functions/nope/invocations", b"{}"), (404,),
         "ResourceNotFoundException"),
    Case("ARN of another function", "invoke",
         request("POST", "/2015-03-31/functions/arn:aws:lambda:us-east-1:1:function:x/invocations",
                 b"{}"), (404,), "ResourceNotFoundException"),
    Case("NUL in the function name", "invoke",
         request("POST", "/2015-03-31/functions/%00/invocations", b"{}"), (404,),
         "ResourceNotFoundException"),
    Case("unknown operation", "invoke", request("POST", "/2015-03-31/functions", b"{}"), (404,),
         "UnknownOperationException"),
    Case("unknown API version", "invoke", request("POST", "/2099-01-01/functions/function/invocations",
                                                  b"{}"), (404,), "UnknownOperationException"),
    Case("GET on invoke", "invoke", request("GET", INVOKE), (405,), "MethodNotAllowedException"),
    Case("PUT on invoke", "invoke", request("PUT", INVOKE, b"{}"), (405,),
         "MethodNotAllowedException"),
    Case("DELETE on invoke", "invoke", request("DELETE", INVOKE), (405,),
         "MethodNotAllowedException"),
    Case("unsupported method", "invoke", request("PATCH", INVOKE, b"{}"), (501,)),
    Case("payload over 6 MB", "invoke", request("POST", INVOKE, b'"' + b"x" * SIX_MB + b'"'),
         (413,), "RequestTooLargeException"),
    Case("Content-Length of 100 MB, no body", "invoke",
         request("POST", INVOKE, content_length=str(100 * 1024 * 1024)), (413,),
         "RequestTooLargeException"),
    Case("Content-Length larger than the body", "invoke",
         request("POST", INVOKE, b"{}", content_length="1000"), (400,),
         "InvalidRequestContentException", half_close=True),
    Case("Content-Length not a number", "invoke",
         request("POST", INVOKE, b"{}", content_length="two"), (400,),
         "InvalidRequestContentException"),
    Case("negative Content-Length", "invoke", request("POST", INVOKE, b"{}", content_length="-5"),
         (400,), "InvalidRequestContentException"),
    Case("bad invocation type", "invoke",
         request("POST", INVOKE, b"{}", {"X-Amz-Invocation-Type": "Sometimes"}), (400,),
         "InvalidParameterValueException"),
    Case("bad log type", "invoke", request("POST", INVOKE, b"{}", {"X-Amz-Log-Type": "All"}),
         (400,), "InvalidParameterValueException"),
    Case("client context not base64", "invoke",
         request("POST", INVOKE, b"{}", {"X-Amz-Client-Context": "%%%"}), (400,),
         "InvalidRequestContentException"),
    Case("client context base64 but not JSON", "invoke",
         request("POST", INVOKE, b"{}", {"X-Amz-Client-Context": "bm90IGpzb24="}), (400,),
         "InvalidRequestContentException"),
    Case("client context with characters outside Latin-1", "invoke",
         request("POST", INVOKE, b"{}", {"X-Amz-Client-Context": base64.b64encode(
             '{"custom": {"name": "\u0141ukasz \U0001f600"}}'.encode()).decode()}), (200,), invokes=1),
    Case("client context with CR/LF between JSON tokens", "invoke",
         request("POST", INVOKE, b"{}", {"X-Amz-Client-Context": base64.b64encode(
             b'{"custom":\r\n{"a": 1}}').decode()}), (200,), invokes=1),
    Case("client context that is a JSON array", "invoke",
         request("POST", INVOKE, b"{}", {"X-Amz-Client-Context": base64.b64encode(b"[1]").decode()}),
         (400,), "InvalidRequestContentException"),
    Case("JSON nested 100,000 levels deep", "invoke",
         request("POST", INVOKE, b"[" * 100_000 + b"]" * 100_000), (400,),
         "InvalidRequestContentException"),
    Case("register body nested 100,000 levels deep", "runtime",
         request("POST", f"{EXT}/register", b"[" * 100_000 + b"]" * 100_000,
                 {"Lambda-Extension-Name": "deep"}), (400,), "InvalidRequestFormat"),
    Case("multipart body", "invoke",
         request("POST", INVOKE, b"--x--", {"Content-Type": "multipart/form-data; boundary=x"}),
         (415,), "UnsupportedMediaTypeException"),
    Case("image body", "invoke", request("POST", INVOKE, b"\x89PNG", {"Content-Type": "image/png"}),
         (415,), "UnsupportedMediaTypeException"),
    Case("malformed chunk size", "invoke", chunked("POST", INVOKE, b"zz\r\n{}\r\n0\r\n\r\n"),
         (400,), "InvalidRequestContentException"),
    Case("chunked body over 6 MB", "invoke",
         chunked("POST", INVOKE, b"%x\r\n" % (SIX_MB + 1) + b"x" * (SIX_MB + 1) + b"\r\n0\r\n\r\n"),
         (413,), "RequestTooLargeException"),
    # RFC 9112 framing: reject what a server in front could read differently.
    Case("Content-Length with Transfer-Encoding (smuggling)", "invoke",
         framed("Content-Length: 5\r\nTransfer-Encoding: chunked\r\n", b"0\r\n\r\n" + SMUGGLED),
         (400,), "InvalidRequestContentException"),
    Case("Transfer-Encoding gzip", "invoke",
         framed("Transfer-Encoding: gzip\r\n", b"{}"), (501,), "InvalidRequestContentException"),
    Case("Transfer-Encoding chunked twice", "invoke",
         framed("Transfer-Encoding: chunked, chunked\r\n", b"2\r\n{}\r\n0\r\n\r\n"), (501,),
         "InvalidRequestContentException"),
    Case("Content-Length values disagree", "invoke",
         framed("Content-Length: 2\r\nContent-Length: 3\r\n", b"{} "), (400,),
         "InvalidRequestContentException"),
    Case("Content-Length with a sign", "invoke", framed("Content-Length: +2\r\n", b"{}"), (400,),
         "InvalidRequestContentException"),
    Case("chunk size -1", "invoke", chunked("POST", INVOKE, b"-1\r\n{}\r\n0\r\n\r\n"), (400,),
         "InvalidRequestContentException"),
    Case("chunk size -2", "invoke", chunked("POST", INVOKE, b"-2\r\n{}\r\n0\r\n\r\n"), (400,),
         "InvalidRequestContentException"),
    Case("chunk size 0x2", "invoke", chunked("POST", INVOKE, b"0x2\r\n{}\r\n0\r\n\r\n"), (400,),
         "InvalidRequestContentException"),
    Case("chunk data without its CRLF", "invoke", chunked("POST", INVOKE, b"2\r\n{}XY0\r\n\r\n"),
         (400,), "InvalidRequestContentException"),
    Case("chunked body with a trailer field", "invoke",
         chunked("POST", INVOKE, b"2\r\n{}\r\n0\r\nX-Checksum: 1\r\n\r\n"), (200,), invokes=1),
    Case("whitespace before a field's colon (smuggling)", "invoke",
         framed("Content-Length : 7\r\n", b"GET / HTTP/1.1\r\n\r\n"), (400,)),
    Case("obsolete line folding", "invoke",
         framed("X-Folded: a\r\n b\r\nContent-Length: 2\r\n", b"{}"), (400,)),
    Case("header line that is no field", "invoke",
         framed("not a field\r\nContent-Length: 2\r\n", b"{}"), (400,)),
    Case("NUL in a header value", "invoke",
         framed("X-Nul: a\x00b\r\nContent-Length: 2\r\n", b"{}"), (400,)),
    Case("garbage request line", "invoke", b"GARBAGE\r\n\r\n", (400,)),
    Case("unsupported HTTP version", "invoke", b"POST / HTTP/3.0\r\n\r\n", (505,)),
    Case("header line too long", "invoke",
         request("POST", INVOKE, b"{}", {"X-Long": "a" * 70_000}), (400, 431)),
    Case("header section over 64 KiB in lines under the line limit", "invoke",
         request("POST", INVOKE, b"{}", {f"X-Big-{i}": "v" * 2000 for i in range(40)}), (431,)),
    Case("too many headers", "invoke",
         request("POST", INVOKE, b"{}", {f"X-H{i}": "v" for i in range(150)}), (431,)),
    Case("slow client stops mid-body", "invoke", request("POST", INVOKE, b"{", content_length="50"),
         (0, 400, 408), stall=True),
    # --------------------------------------------------- Runtime API
    Case("response for an unknown request id", "runtime",
         request("POST", f"{RT}/invocation/{UNKNOWN_ID}/response", b"{}"), (400,),
         "InvalidRequestID"),
    Case("error for an unknown request id", "runtime",
         request("POST", f"{RT}/invocation/{UNKNOWN_ID}/error",
                 b'{"errorMessage": "x", "errorType": "y"}'), (400,), "InvalidRequestID"),
    Case("oversized response for an unknown id", "runtime",
         request("POST", f"{RT}/invocation/{UNKNOWN_ID}/response", b"x" * (SIX_MB + 1)), (400,),
         "InvalidRequestID"),
    Case("non-JSON error for an unknown id", "runtime",
         request("POST", f"{RT}/invocation/{UNKNOWN_ID}/error", b"\xff"), (400,),
         "InvalidRequestID"),
    Case("init error after init", "runtime",
         request("POST", f"{RT}/init/error", b'{"errorMessage": "late", "errorType": "X"}'),
         (403,), "InvalidStateTransition"),
    Case("unknown runtime path", "runtime", request("GET", f"{RT}/nothing"), (404,), "NotFound"),
    Case("PUT on next", "runtime", request("PUT", f"{RT}/invocation/next"), (405,),
         "MethodNotAllowed"),
    Case("request id with a path separator", "runtime",
         request("POST", f"{RT}/invocation/a/b/response", b"{}"), (404,), "NotFound"),
    Case("slow client on the Runtime API", "runtime",
         request("POST", f"{RT}/invocation/{UNKNOWN_ID}/response", b"{", content_length="80"),
         (0, 400, 408), stall=True),
    # ------------------------------------------------ Extensions API
    Case("register without a name", "runtime", request("POST", f"{EXT}/register", b"{}"),
         (403,), "Extension.InvalidExtensionName"),
    Case("register with bad JSON", "runtime",
         request("POST", f"{EXT}/register", b"{events", {"Lambda-Extension-Name": "x"}), (400,),
         "InvalidRequestFormat"),
    Case("register with events not a list", "runtime",
         request("POST", f"{EXT}/register", b'{"events": "INVOKE"}',
                 {"Lambda-Extension-Name": "x"}), (400,), "InvalidRequestFormat"),
    Case("register with non-UTF-8", "runtime",
         request("POST", f"{EXT}/register", b"\xff", {"Lambda-Extension-Name": "x"}), (400,),
         "InvalidRequestFormat"),
    Case("registration after init", "runtime",
         request("POST", f"{EXT}/register", b'{"events": []}', {"Lambda-Extension-Name": "late"}),
         (403,), "Extension.RegistrationClosed"),
    Case("next without an identifier", "runtime", request("GET", f"{EXT}/event/next"), (403,),
         "Extension.MissingHeader"),
    Case("next with an unknown identifier", "runtime",
         request("GET", f"{EXT}/event/next", headers={"Lambda-Extension-Identifier": UNKNOWN_ID}),
         (403,), "Extension.UnknownExtensionIdentifier"),
    Case("init error from an unknown extension", "runtime",
         request("POST", f"{EXT}/init/error", b"{}", {
             "Lambda-Extension-Identifier": UNKNOWN_ID,
             "Lambda-Extension-Function-Error-Type": "Extension.Bad"}),
         (403,), "Extension.UnknownExtensionIdentifier"),
    Case("exit error without an identifier", "runtime",
         request("POST", f"{EXT}/exit/error", b"{}"), (403,), "Extension.MissingHeader"),
    Case("exit error from an unknown extension", "runtime",
         request("POST", f"{EXT}/exit/error", b"{}", {
             "Lambda-Extension-Identifier": UNKNOWN_ID,
             "Lambda-Extension-Function-Error-Type": "Extension.Bad"}),
         (403,), "Extension.UnknownExtensionIdentifier"),
]  # fmt: skip


def exchange(address: str, case: Case, timeout: float = 15.0) -> Tuple[int, Dict[str, str], bytes]:
    """Send the raw request; status 0 when the server closed without answering."""
    host, port = address.rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=timeout) as sock:
        # The server may refuse a huge body early; then read what it said.
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            sock.sendall(case.raw)
        if case.half_close:
            sock.shutdown(socket.SHUT_WR)
        data = b""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                chunk = sock.recv(65536)
            except (ConnectionResetError, socket.timeout):
                break
            if not chunk:
                break
            data += chunk
            if _complete(data):
                break
    if not data:
        return 0, {}, b""
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return int(lines[0].split()[1]), headers, body


def _complete(data: bytes) -> bool:
    head, sep, body = data.partition(b"\r\n\r\n")
    if not sep:
        return False
    for line in head.split(b"\r\n")[1:]:
        if line.lower().startswith(b"content-length:"):
            return len(body) >= int(line.split(b":", 1)[1])
    return False


def error_type_of(headers: Dict[str, str], body: bytes) -> Optional[str]:
    if "x-amzn-errortype" in headers:
        return headers["x-amzn-errortype"]
    try:
        document = json.loads(body)
    except ValueError:
        return None
    return document.get("errorType") if isinstance(document, dict) else None


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningSandbox]:
    from support.interpreters import awslambdaric_python

    python = awslambdaric_python("3.12")
    workdir = tmp_path_factory.mktemp("hostile")
    env = {
        "FIXTURE_EXTENSION": "internal",
        "LAMBDA_SANDBOX_CLIENT_TIMEOUT": str(CLIENT_TIMEOUT_S),
    }
    with RunningSandbox(python, [str(python), "-m", "awslambdaric", "app.handler"], workdir,
                        env=env) as sb:  # fmt: skip
        sb.normal_invocations = 0  # type: ignore[attr-defined]
        assert sb.invoke({"warm": True}).status == 200
        sb.normal_invocations += 1  # type: ignore[attr-defined]
        assert sb.proc is not None
        sb.idle = steady(sb.proc.pid)  # type: ignore[attr-defined]
        yield sb
        write_table(sb.idle)  # type: ignore[attr-defined]
        assert sb.proc is not None and sb.proc.poll() is None, "the sandbox died"
        assert sb.stop() == 0
    starts = [e["request_id"] for e in sb.of_kind("invoke.start")]
    assert len(starts) == len(set(starts)), "an invocation ran twice"
    assert len(starts) == sb.normal_invocations, "an invocation was lost or one was invented"  # type: ignore[attr-defined]


# (case, status, what the sandbox held after it), in the order run.
MEASURED: List[Tuple[str, int, Held]] = []


def write_table(idle: Held) -> None:
    """With LAB_HOSTILE_TABLE=PATH, the per-input figures as a Markdown table."""
    path = os.environ.get("LAB_HOSTILE_TABLE")
    if not path or not MEASURED:
        return
    rows = [
        "| input | status | threads | fds | RSS kB | peak RSS kB |",
        "|---|---|---|---|---|---|",
        f"| (idle, after warm-up) | | {idle.threads} | {idle.fds} | {idle.rss_kb} | {idle.peak_kb} |",
    ]
    for name, status, after in MEASURED:
        rows.append(
            f"| {name} | {status} | {after.threads} | {after.fds} | {after.rss_kb} | {after.peak_kb} |"
        )
    Path(path).write_text("\n".join(rows) + "\n", encoding="utf-8")


def test_the_catalogue_is_large_and_named_uniquely():
    assert len(CASES) >= 40
    assert len({c.name for c in CASES}) == len(CASES)


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_bad_request_gets_its_answer_and_the_sandbox_keeps_working(sandbox, case):
    ready = sandbox.of_kind("sandbox.ready")[0]
    address = ready["invoke_api"] if case.api == "invoke" else ready["runtime_api"]
    began = time.monotonic()
    status, headers, body = exchange(address, case)
    took = time.monotonic() - began
    assert status in case.status, (status, body[:300])
    if case.error_type is not None:
        assert error_type_of(headers, body) == case.error_type, body[:300]
    if case.stall:
        assert took < CLIENT_TIMEOUT_S + 5, f"a stalled client held the server for {took:.1f} s"
    else:
        assert took < 10, f"answer took {took:.1f} s"
    sandbox.normal_invocations += case.invokes
    reply = sandbox.invoke({"after": case.name})
    assert reply.status == 200, reply.body[:300]
    assert reply.json()["echo"] == {"after": case.name}
    sandbox.normal_invocations += 1
    # Nothing kept: threads and descriptors back to idle, memory within the bound.
    after = settle(sandbox.proc.pid, sandbox.idle)
    MEASURED.append((case.name, status, after))
    assert after.counts == sandbox.idle.counts, f"idle {sandbox.idle}, after {after}"
    assert after.peak_kb - sandbox.idle.rss_kb < BOUND_KB, after


@pytest.mark.parametrize(
    ("raw", "custom"),
    [
        (
            '{"custom": {"name": "\u0141ukasz \U0001f600"}}'.encode(),
            {"name": "\u0141ukasz \U0001f600"},
        ),
        (b'{"custom":\r\n{"line": "two"}}', {"line": "two"}),
    ],
    ids=["outside-latin-1", "crlf-between-tokens"],
)
def test_the_runtime_gets_the_client_context_intact(sandbox, raw, custom):
    # Raw JSON as the invoker wrote it: UTF-8 text, whitespace where JSON allows it.
    inits = len(sandbox.of_kind("init.start"))
    context = base64.b64encode(raw).decode()
    reply = sandbox.invoke({"context": True}, headers={"X-Amz-Client-Context": context})
    sandbox.normal_invocations += 1
    assert reply.status == 200 and "X-Amz-Function-Error" not in reply.headers, reply.body[:300]
    assert reply.json()["client_custom"] == custom
    assert len(sandbox.of_kind("init.start")) == inits, "the runtime crashed and started again"


def test_a_trickling_client_is_dropped_when_its_request_is_late_not_per_byte(sandbox):
    # One header line every 0.25 s: each read is quick, the request never ends.
    host, port = sandbox.of_kind("sandbox.ready")[0]["invoke_api"].rsplit(":", 1)
    began = time.monotonic()
    closed_after = None
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(f"POST {INVOKE} HTTP/1.1\r\nHost: localhost\r\n".encode())
        sock.settimeout(0.25)
        while time.monotonic() - began < CLIENT_TIMEOUT_S + 5:
            try:
                sock.sendall(b"X-Trickle: 1\r\n")
                if sock.recv(4096) == b"":
                    closed_after = time.monotonic() - began
                    break
            except socket.timeout:
                continue
            except (BrokenPipeError, ConnectionResetError):
                closed_after = time.monotonic() - began
                break
    assert closed_after is not None, "the server kept a trickling request open"
    assert closed_after < CLIENT_TIMEOUT_S + 1.5, closed_after
    reply = sandbox.invoke({"after": "trickle"})
    assert reply.status == 200
    sandbox.normal_invocations += 1
