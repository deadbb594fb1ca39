"""Judge a cell at a telemetry sink: which of the function's log lines an
observability extension shipped at shutdown.

A telemetry-judged cell runs an external extension
(``function/telemetry-extensions/lab-telemetry-shipper``) that subscribes to
the Telemetry API, buffers the function's log lines as Lambda delivers them,
and ships the buffer to a sink only when SHUTDOWN arrives, as observability
extensions do. Before the run the harness starts the cell's own sink (an HTTP
server on loopback, unique per run) and points the extension at it
(``LAB_TELEMETRY_SINK``); after the shutdown it counts what arrived:

- the invocation lines (``[handler] invoked ...``, one per invocation): these
  reach the sink whenever the extension ships at all;
- the cleanup line (the cell's cleanup marker, printed by the SIGTERM
  handler): it reaches the sink only if the cleanup ran within the runtime's
  part of the shutdown window, and Lambda delivered it before SHUTDOWN.

Counting and judging are pure; ``TelemetryProbe`` does the I/O (the sink).
Scenario settings (``[probes.telemetry]``): none are needed; ``invocation_line``
(optional) is the prefix of the line the handler prints per invocation.
"""

from __future__ import annotations

import dataclasses
import http.server
import json
import threading
import time
from dataclasses import dataclass
from typing import Any, List, Mapping, Optional, Sequence, Tuple

from harness.evidence.result import CellResult
from harness.model.cells import Cell
from harness.probes.base import ProbeObservation, reject_unknown

NAME = "telemetry"
SETTINGS = ("invocation_line",)
DEFAULT_INVOCATION_LINE = "[handler] invoked"
# How long after the sandbox's exit the sink may still be receiving.
ARRIVAL_WAIT_S = 2.0


@dataclass(frozen=True)
class SinkCount:
    shipments: int  # POSTs the extension made (0: it never shipped)
    lines: int  # function lines in them
    invocation_lines: int
    cleanup_lines: int


def check_settings(settings: Mapping[str, Any]) -> Tuple[Tuple[str, Any], ...]:
    """``[probes.telemetry]`` validated; ValueError saying what is expected. Pure."""
    reject_unknown(settings, SETTINGS)
    line = settings.get("invocation_line", DEFAULT_INVOCATION_LINE)
    if not isinstance(line, str) or not line.strip():
        raise ValueError(f"invocation_line: the text a handler line starts with, got {line!r}")
    return (("invocation_line", line),)


def invocation_line(cell: Cell) -> str:
    return str((cell.probe_settings(NAME) or {}).get("invocation_line", DEFAULT_INVOCATION_LINE))


def count(cell: Cell, shipments: Sequence[Sequence[str]]) -> SinkCount:
    """What the sink received, counted for ``cell``. Pure."""
    lines = [line for shipment in shipments for line in shipment]
    prefix = invocation_line(cell)
    return SinkCount(
        shipments=len(shipments),
        lines=len(lines),
        invocation_lines=sum(1 for line in lines if line.startswith(prefix)),
        cleanup_lines=sum(1 for line in lines if cell.cleanup_marker in line),
    )


def observation_fields(cell: Cell, seen: SinkCount) -> Tuple[Tuple[str, Any], ...]:
    """What results.json records under ``probes.telemetry``. Pure."""
    return (
        ("shipments", seen.shipments),
        ("function_lines", seen.lines),
        ("invocation_lines_expected", cell.invocations),
        ("invocation_lines", seen.invocation_lines),
        ("cleanup_line_expected", cell.expectation.cleanup),
        ("cleanup_line_arrived", seen.cleanup_lines > 0),
    )


def judge_at_sink(cell: Cell, seen: SinkCount) -> Tuple[str, ...]:
    """Every invocation's line, and the cleanup's exactly when it is declared to run. Pure."""
    want = cell.expectation
    declared = f"(declared: {want.reason} [{want.source}])"
    reasons: List[str] = []
    if seen.shipments == 0:
        reasons.append("the telemetry extension shipped nothing to the sink at shutdown")
    elif seen.invocation_lines != cell.invocations:
        reasons.append(
            f"expected {cell.invocations} invocation lines at the sink, "
            f"{seen.invocation_lines} arrived"
        )
    arrived = seen.cleanup_lines > 0
    if seen.shipments and arrived != want.cleanup:
        reasons.append(
            "expected the cleanup's line "
            + ("to reach the sink " if want.cleanup else "to be lost ")
            + ("but it did not " if want.cleanup else "yet it arrived ")
            + declared
        )
    return tuple(reasons)


class _Sink(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        self.shipments: List[List[str]] = []
        self.lock = threading.Lock()
        super().__init__(("127.0.0.1", 0), _SinkHandler)


class _SinkHandler(http.server.BaseHTTPRequestHandler):
    server: _Sink

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        try:
            lines = [str(line) for line in json.loads(body).get("lines", [])]
        except (ValueError, AttributeError):
            self.send_response(400)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        with self.server.lock:
            self.server.shipments.append(lines)
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


class TelemetryProbe:
    """One cell's sink: started before the run, counted after, stopped at clean-up."""

    def __init__(self, cell: Cell) -> None:
        self.cell = cell
        self._sink: Optional[_Sink] = None

    def prepare(self, cell: Cell) -> Cell:
        self._sink = _Sink()
        threading.Thread(target=self._sink.serve_forever, args=(0.1,), daemon=True).start()
        url = f"http://127.0.0.1:{self._sink.server_address[1]}/"
        self.cell = dataclasses.replace(cell, env=(*cell.env, ("LAB_TELEMETRY_SINK", url)))
        return self.cell

    def observe(self, event_lines: Sequence[str]) -> ProbeObservation:
        del event_lines  # judged at the broker / sink alone
        assert self._sink is not None
        # The extension ships within the shutdown window, before the sandbox exits;
        # a POST still in progress gets a moment to land.
        deadline = time.monotonic() + ARRIVAL_WAIT_S
        while not self._sink.shipments and time.monotonic() < deadline:
            time.sleep(0.05)  # polling the sink; bounded by the deadline
        with self._sink.lock:
            shipments = [list(s) for s in self._sink.shipments]
        seen = count(self.cell, shipments)
        return ProbeObservation(
            probe=NAME,
            fields=observation_fields(self.cell, seen),
            reasons=judge_at_sink(self.cell, seen),
        )

    def cleanup(self) -> None:
        if self._sink is not None:
            self._sink.shutdown()
            self._sink.server_close()
            self._sink = None


def sink_line(r: CellResult) -> str:
    """One cell's line in REPORT.md. Pure."""
    setup = f"{r.scenario}, Python {r.python} + {r.strategy}"
    detail = (
        f"{r.runtime_client} {r.runtime_client_version}, trigger {r.trigger}, backend {r.backend}"
    )
    seen = r.probes.get(NAME, {})
    if r.verdict == "skipped" or "invocation_lines" not in seen:
        return f"- {setup}: not measured ({r.verdict}: {'; '.join(r.reasons) or 'not observed'})"
    cleanup = "**the cleanup's line was lost**"
    if seen.get("cleanup_line_arrived"):
        cleanup = "the cleanup's line arrived"
    lines = (
        f"{seen.get('invocation_lines')} of {seen.get('invocation_lines_expected')} invocation "
        f"lines, {seen.get('function_lines')} function lines in all"
    )
    mark = "✓" if r.verdict == "pass" else "✗ (not what the scenario declares)"
    return f"- {setup}: {lines}; {cleanup}. {mark} <sub>{detail}</sub>"


def render_markdown(results: Sequence[CellResult]) -> List[str]:
    """REPORT.md's section, or nothing when no cell was judged at a telemetry sink."""
    cells = [r for r in results if NAME in r.probes]
    if not cells:
        return []
    cells.sort(key=lambda r: (r.scenario, r.strategy, r.trigger, r.python, r.backend))
    return [
        "",
        "## Judged at a telemetry sink: what an observability extension ships",
        "",
        "An external extension subscribed to the Telemetry API buffers the function's "
        "log lines and ships them at SHUTDOWN (`function/telemetry-extensions/"
        "lab-telemetry-shipper`). After each shutdown the harness counted the function "
        "lines that reached the cell's own sink.",
        "",
        *[sink_line(r) for r in cells],
    ]


class TelemetryKind:
    """The telemetry probe as the pipeline sees it."""

    name = NAME

    def check_settings(self, settings: Mapping[str, Any]) -> Tuple[Tuple[str, Any], ...]:
        return check_settings(settings)

    def start(self, cell: Cell) -> TelemetryProbe:
        return TelemetryProbe(cell)

    def report_markdown(self, results: Sequence[CellResult]) -> List[str]:
        return render_markdown(results)
