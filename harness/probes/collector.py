"""Judge a cell at its telemetry library's own backend: a local collector.

Before the run the harness starts the cell's collector on 127.0.0.1 (a port
of its own unless the scenario names one) and points the function's library
at it the way its users configure it:

- ``opentelemetry``: an OTLP/HTTP receiver (``POST /v1/traces``, protobuf or
  JSON, gzip or not) that decodes every span's name;
  ``OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:<port>``;
- ``sentry``: a Sentry ingestion endpoint (``POST /api/<project>/envelope/``
  and the legacy ``/store/``) that reads every event's message;
  ``SENTRY_DSN=http://lab@127.0.0.1:<port>/1``.

After the shutdown it counts what arrived, and the function's output says
what was made; ``library_loss`` (pure) declares and judges. A port that is
taken is a clear ``CollectorUnavailable`` naming it.
"""

from __future__ import annotations

import dataclasses
import errno
import http.server
import threading
import time
from typing import Any, Callable, List, Mapping, Optional, Sequence, Tuple

from harness.evidence.result import CellResult
from harness.model.cells import Cell
from harness.model.pins import PinError, load_pins
from harness.probes.base import ProbeObservation, ProbeUnavailable
from harness.probes.library_loss import (
    LIBRARIES,
    NAME,
    Counts,
    arrived_counts,
    check_settings,
    judge,
    observation_fields,
    produced_counts,
    render_markdown,
    settings_of,
)
from harness.probes.otlp_wire import span_names
from harness.probes.sentry_envelope import event_messages
from lambda_sandbox.eventlog import Kind, parse_events

MAX_BODY = 16 << 20
# How long after the sandbox's exit a request still in progress may land.
ARRIVAL_WAIT_S = 0.25

# library -> what the body of one request is worth: the record names, or None
# for a path that is not the library's endpoint.
Decoder = Callable[[str, Mapping[str, str], bytes], Optional[List[str]]]


class CollectorUnavailable(ProbeUnavailable):
    """The collector could not listen where the scenario asked."""


def _otlp(path: str, headers: Mapping[str, str], body: bytes) -> Optional[List[str]]:
    if path != "/v1/traces":
        return None
    return span_names(
        body, headers.get("content-type", ""), headers.get("content-encoding", ""), MAX_BODY
    )


def _sentry(path: str, headers: Mapping[str, str], body: bytes) -> Optional[List[str]]:
    return event_messages(path, body, headers.get("content-encoding", ""), MAX_BODY)


DECODERS: Mapping[str, Decoder] = {"opentelemetry": _otlp, "sentry": _sentry}


def endpoint_env(library: str, port: int) -> Tuple[Tuple[str, str], ...]:
    """The function's configuration that points ``library`` at the collector. Pure."""
    if library == "opentelemetry":
        return (("OTEL_EXPORTER_OTLP_ENDPOINT", f"http://127.0.0.1:{port}"),)
    return (("SENTRY_DSN", f"http://lab@127.0.0.1:{port}/1"),)


class _Collector(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = False  # a port in use must be reported, not shared

    def __init__(self, port: int, decode: Decoder) -> None:
        self.decode = decode
        self.names: List[str] = []
        self.requests = 0
        self.rejected: List[str] = []
        self.lock = threading.Lock()
        super().__init__(("127.0.0.1", port), _Handler)


class _Handler(http.server.BaseHTTPRequestHandler):
    server: _Collector

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if not 0 <= length <= MAX_BODY:
            self._answer(413, f"at most {MAX_BODY} bytes")
            return
        body = self.rfile.read(length)
        headers = {k.lower(): v for k, v in self.headers.items()}
        try:
            names = self.server.decode(self.path.split("?", 1)[0], headers, body)
        except ValueError as err:
            with self.server.lock:
                self.server.rejected.append(f"{self.path}: {err}")
            self._answer(400, str(err))
            return
        if names is None:
            self._answer(404, f"no endpoint {self.path}")
            return
        with self.server.lock:  # counted before it is acknowledged
            self.server.names.extend(names)
            self.server.requests += 1
        self._answer(200, "")

    def _answer(self, status: int, text: str) -> None:
        body = text.encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/plain" if text else "application/x-protobuf")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


def start_collector(library: str, port: int) -> _Collector:
    """A collector for ``library`` listening on 127.0.0.1:``port`` (0: a free one)."""
    where = f"the {library} collector cannot listen on 127.0.0.1:{port}"
    try:
        server = _Collector(port, DECODERS[library])
    except OSError as err:
        if err.errno == errno.EADDRINUSE:
            raise CollectorUnavailable(
                f"{where}: the port is taken (another collector, or another run?)",
                "free it, or set port = 0 in [probes.collector] for a free one",
            ) from None
        raise CollectorUnavailable(f"{where}: {err.strerror or err}", "") from None
    threading.Thread(target=server.serve_forever, args=(0.1,), daemon=True).start()
    return server


def output_lines(event_lines: Sequence[str]) -> List[str]:
    """The runtime's output lines, from the run's event log. Pure."""
    return [
        str(e.get("line", ""))
        for e in parse_events(event_lines).of_kind(Kind.OUTPUT)
        if e.get("role") == "runtime"
    ]


def library_version(library: str) -> str:
    try:
        return load_pins().version(LIBRARIES[library][1])
    except PinError:
        return "unpinned"


class CollectorProbe:
    """One cell's collector: started before the run, counted after, stopped at clean-up."""

    def __init__(self, cell: Cell) -> None:
        self.cell = cell
        self.settings = settings_of(cell)
        self._server: Optional[_Collector] = None

    def prepare(self, cell: Cell) -> Cell:
        self._server = start_collector(self.settings.library, self.settings.port)
        port = int(self._server.server_address[1])
        env = endpoint_env(self.settings.library, port)
        self.cell = dataclasses.replace(cell, env=(*cell.env, *env))
        return self.cell

    def observe(self, event_lines: Sequence[str]) -> ProbeObservation:
        assert self._server is not None
        made = produced_counts(output_lines(event_lines))
        # Every export happens before the runtime exits; one still being read lands here.
        deadline = time.monotonic() + ARRIVAL_WAIT_S
        while time.monotonic() < deadline:
            with self._server.lock:
                names = list(self._server.names)
            if all(a >= m for a, m in zip(arrived_counts(names), made)):
                break
            time.sleep(0.05)  # polling the collector; bounded by the deadline
        with self._server.lock:
            names = list(self._server.names)
            requests = self._server.requests
            rejected = list(self._server.rejected)
        arrived = arrived_counts(names)
        counts = Counts(
            produced_invocations=made[0],
            produced_cleanup=made[1],
            arrived_invocations=arrived[0],
            arrived_cleanup=arrived[1],
            arrived_total=len(names),
            requests=requests,
        )
        reasons = judge(self.cell, self.settings, counts)
        reasons += tuple(f"the collector refused a request: {r}" for r in rejected)
        return ProbeObservation(
            probe=NAME,
            fields=observation_fields(
                self.cell, self.settings, counts, library_version(self.settings.library)
            ),
            reasons=reasons,
        )

    def cleanup(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None


class CollectorKind:
    """The collector probe as the pipeline sees it."""

    name = NAME

    def check_settings(self, settings: Mapping[str, Any]) -> Tuple[Tuple[str, Any], ...]:
        return check_settings(settings)

    def start(self, cell: Cell) -> CollectorProbe:
        return CollectorProbe(cell)

    def report_markdown(self, results: Sequence[CellResult]) -> List[str]:
        return render_markdown(results)
