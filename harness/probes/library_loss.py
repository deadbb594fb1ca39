"""What a telemetry library loses at shutdown: settings, declared arrivals, the judgement
and REPORT.md's section. Pure (``collector.py`` does the I/O).

A collector-judged cell runs a function that uses a real telemetry library
(the OpenTelemetry SDK, sentry-sdk) the way its users write it, pointed at
the cell's own collector. The function makes one record per invocation,
named ``lab.invocation`` (a span, an event), before anything else the
invocation does (so the invocation a timeout cuts off has made its record),
and prints ``produced lab.invocation`` when it has; its cleanup, when it
runs, makes one ``lab.cleanup`` record, prints ``produced lab.cleanup``,
then flushes the library.

What reaches the collector is declared from two facts, before the run:

- whether the cleanup runs (the scenario's expectation, as for every cell);
- when the library sends on its own (``exports``, from its documentation or
  source, cited in ``exports_source``):
  ``each-invocation``: a Lambda wrapper flushes before each invocation's
  result is returned (a cut-off invocation is never flushed);
  ``background``: a worker thread sends each record as soon as it is made,
  so a record made just before the invocation ends races the freeze, and one
  made before a handler sleeps past its timeout is sent;
  nothing (``[]``): records leave only when the cleanup flushes.

So: when the cleanup runs, every record made arrives, its own included;
otherwise the completed invocations' records arrive with ``each-invocation``,
anything from the timed-out invocation's record up to all of them with
``background``, and none without either.

Scenario settings (``[probes.collector]``): ``library`` (``opentelemetry`` or
``sentry``), ``exports`` (a list, may be empty), ``exports_source``, and
``port`` (optional; default 0, a free port chosen per run).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Dict, List, Mapping, Sequence, Tuple

from harness.evidence.result import CellResult
from harness.model.cells import Cell
from harness.probes.base import reject_unknown

NAME = "collector"
SETTINGS = ("library", "exports", "exports_source", "port")
# library -> (what the collector speaks, the package whose version the report names)
LIBRARIES: Dict[str, Tuple[str, str]] = {
    "opentelemetry": ("OTLP/HTTP traces", "opentelemetry-sdk"),
    "sentry": ("Sentry envelopes", "sentry-sdk"),
}
EXPORTS = ("each-invocation", "background")
INVOCATION_RECORD = "lab.invocation"
CLEANUP_RECORD = "lab.cleanup"
PRODUCED = "produced "  # the function prints "produced <record>" once it has made one
CUT_OFF_TRIGGERS = ("timeout", "crash")  # the last invocation never completes


@dataclass(frozen=True)
class Settings:
    library: str
    exports: Tuple[str, ...]
    exports_source: str
    port: int


@dataclass(frozen=True)
class Counts:
    """Records by name: made by the function (its output), and at the collector."""

    produced_invocations: int
    produced_cleanup: int
    arrived_invocations: int
    arrived_cleanup: int
    arrived_total: int  # every record, the library's own (a wrapper's span) included
    requests: int  # export requests the collector answered


@dataclass(frozen=True)
class Expected:
    invocations_low: int
    invocations_high: int
    cleanup_record: bool
    why: str


def check_settings(settings: Mapping[str, Any]) -> Tuple[Tuple[str, Any], ...]:
    """``[probes.collector]`` validated; ValueError saying what is expected."""
    reject_unknown(settings, SETTINGS)
    library = settings.get("library")
    if library not in LIBRARIES:
        raise ValueError(f"library: one of {', '.join(LIBRARIES)}, got {library!r}")
    exports = settings.get("exports")
    if not isinstance(exports, list) or any(e not in EXPORTS for e in exports):
        raise ValueError(
            f"exports: a list of {', '.join(EXPORTS)} (empty: only the cleanup's flush sends), "
            f"got {exports!r}"
        )
    source = settings.get("exports_source")
    if not isinstance(source, str) or not source.strip():
        raise ValueError("exports_source: where the library's sending behaviour is documented")
    port = settings.get("port", 0)
    if not isinstance(port, int) or isinstance(port, bool) or not 0 <= port <= 65535:
        raise ValueError(f"port: 0 (a free one) or 1 to 65535 on 127.0.0.1, got {port!r}")
    return (
        ("library", library),
        ("exports", tuple(sorted(set(exports)))),
        ("exports_source", source.strip()),
        ("port", port),
    )


def settings_of(cell: Cell) -> Settings:
    raw = cell.probe_settings(NAME) or {}
    return Settings(
        library=str(raw.get("library", "")),
        exports=tuple(raw.get("exports", ())),
        exports_source=str(raw.get("exports_source", "")),
        port=int(raw.get("port", 0)),
    )


def produced_counts(output_lines: Sequence[str]) -> Tuple[int, int]:
    """(invocation records, cleanup records) the function says it made."""
    made = [line.split(PRODUCED, 1)[1] for line in output_lines if PRODUCED in line]
    return (
        sum(1 for m in made if m.startswith(INVOCATION_RECORD)),
        sum(1 for m in made if m.startswith(CLEANUP_RECORD)),
    )


def arrived_counts(names: Sequence[str]) -> Tuple[int, int]:
    """(invocation records, cleanup records) among the names the collector received."""
    return (
        sum(1 for n in names if n.startswith(INVOCATION_RECORD)),
        sum(1 for n in names if n.startswith(CLEANUP_RECORD)),
    )


def expected(cell: Cell, settings: Settings) -> Expected:
    """What must reach the collector, from the declarations alone."""
    made = cell.invocations
    cut_off = 1 if cell.trigger in CUT_OFF_TRIGGERS else 0
    if cell.expectation.cleanup:
        return Expected(made, made, True, "the cleanup runs and flushes every record made")
    low = high = 0
    why = ["the cleanup does not run"]
    if "each-invocation" in settings.exports:
        low = high = made - cut_off
        why.append("the wrapper flushed each completed invocation")
    if "background" in settings.exports:
        high = made
        if cell.trigger == "timeout":
            low += cut_off
        why.append("a worker sends each record as it is made (racing the freeze)")
    if len(why) == 1:
        why.append("the library sends only when flushed")
    return Expected(low, high, False, "; ".join(why))


def judge(cell: Cell, settings: Settings, counts: Counts) -> Tuple[str, ...]:
    """Why the arrivals disagree with the declaration (empty: they agree)."""
    want = expected(cell, settings)
    declared = (
        f"(declared: {want.why}; cleanup: {cell.expectation.reason} [{cell.expectation.source}]; "
        f"the library: [{settings.exports_source}])"
    )
    reasons: List[str] = []
    if counts.produced_invocations != cell.invocations:
        reasons.append(
            f"the function made {counts.produced_invocations} {INVOCATION_RECORD} records, "
            f"one per invocation is {cell.invocations}"
        )
    got = counts.arrived_invocations
    if not want.invocations_low <= got <= want.invocations_high:
        span = (
            str(want.invocations_low)
            if want.invocations_low == want.invocations_high
            else f"{want.invocations_low} to {want.invocations_high}"
        )
        reasons.append(
            f"expected {span} {INVOCATION_RECORD} records at the collector, {got} arrived {declared}"
        )
    if (counts.arrived_cleanup > 0) != want.cleanup_record:
        reasons.append(
            f"expected the {CLEANUP_RECORD} record "
            + ("to arrive but it did not " if want.cleanup_record else "to be lost yet it arrived ")
            + declared
        )
    return tuple(reasons)


def observation_fields(
    cell: Cell, settings: Settings, counts: Counts, version: str
) -> Tuple[Tuple[str, Any], ...]:
    """What results.json records under ``probes.collector``."""
    want = expected(cell, settings)
    return (
        ("library", settings.library),
        ("library_version", version),
        ("exports", list(settings.exports)),
        ("requests", counts.requests),
        ("produced", counts.produced_invocations + counts.produced_cleanup),
        ("produced_invocations", counts.produced_invocations),
        ("produced_cleanup", counts.produced_cleanup),
        ("arrived", counts.arrived_invocations + counts.arrived_cleanup),
        ("arrived_invocations", counts.arrived_invocations),
        ("arrived_cleanup", counts.arrived_cleanup),
        ("arrived_total", counts.arrived_total),
        ("expected_invocations", [want.invocations_low, want.invocations_high]),
        ("expected_cleanup_record", want.cleanup_record),
    )


# REPORT.md ---------------------------------------------------------------


def _cell_text(results: Sequence[CellResult]) -> str:
    """'arrived of produced' for one matrix point, across backends (flagged when they differ)."""
    seen = []
    for r in results:
        fields = r.probes.get(NAME, {})
        if r.verdict == "skipped" or "arrived" not in fields:
            seen.append((r.backend, "not run"))
            continue
        lost = int(fields["produced"]) - int(fields["arrived"])
        text = f"{fields['arrived']} of {fields['produced']}"
        if lost > 0:
            text = f"**{text}**"
        if not fields.get("produced_cleanup"):
            text += ", no cleanup"
        if r.verdict == "fail":
            text += " ✗"
        seen.append((r.backend, text))
    texts = {text for _, text in seen}
    if len(texts) == 1:
        return texts.pop()
    return ", ".join(f"{backend}: {text}" for backend, text in seen) + " ⚠"


def render_markdown(results: Sequence[CellResult]) -> List[str]:
    """REPORT.md's section "What your telemetry library loses" (none without such cells)."""
    cells = [r for r in results if NAME in r.probes]
    if not cells:
        return []
    targets = sorted({r.target or f"Python {r.python}" for r in cells})
    rows: Dict[Tuple[str, str, str], Dict[str, List[CellResult]]] = {}
    libraries: Dict[str, str] = {}
    for r in sorted(cells, key=lambda r: (r.scenario, r.strategy, r.trigger, r.backend)):
        fields = r.probes.get(NAME, {})
        if fields.get("library"):
            libraries[str(fields["library"])] = str(fields.get("library_version", ""))
        row = rows.setdefault((r.scenario, r.strategy, r.trigger), {})
        row.setdefault(r.target or f"Python {r.python}", []).append(r)
    lines = [
        "",
        "## What your telemetry library loses",
        "",
        "Each function makes one record per invocation (a span, an event) with a real "
        "library, and one more in its SIGTERM cleanup, which then flushes the library. "
        "Each cell counts the records that reached the cell's own collector (an OTLP/HTTP "
        "receiver, a Sentry envelope endpoint), as *arrived of produced*; **bold**: records "
        "were lost; *no cleanup*: the cleanup never ran, so its record was never made and "
        "nothing was flushed at shutdown. ✗: not what the scenario declared; ⚠: the "
        "backends disagree.",
        "",
        "Libraries: "
        + ", ".join(f"{name} ({LIBRARIES[name][1]} {v})" for name, v in sorted(libraries.items()))
        + ".",
        "",
        "| scenario | strategy | trigger | " + " | ".join(targets) + " |",
        "|---|---|---|" + "---|" * len(targets),
    ]
    for (scenario, strategy, trigger), by_target in rows.items():
        texts = [_cell_text(by_target[t]) if t in by_target else "" for t in targets]
        lines.append(f"| {scenario} | {strategy} | {trigger} | " + " | ".join(texts) + " |")
    return lines
