"""REPORT.md's section for cells judged at the broker: the loss in words. Pure."""

from __future__ import annotations

from typing import List, Sequence

from harness.evidence.result import CellResult

NAME = "broker"

STRATEGY_WORDS = {
    "signal": "signal handler",
    "wakeup-fd": "wakeup-fd fix",
    "none": "no handler",
}


def _pyver(version: str) -> List[int]:
    return [int(p) for p in version.split(".") if p.isdigit()]


def delivery_line(r: CellResult) -> str:
    """ "Python 3.8 + signal handler: 0 of 50 messages delivered; ..." for one cell."""
    setup = f"{r.scenario}, Python {r.python} + {STRATEGY_WORDS.get(r.strategy, r.strategy)}"
    detail = (
        f"{r.runtime_client} {r.runtime_client_version}, "
        f"AWS_EXECUTION_ENV {r.execution_env or 'unset'}, extension {r.extension}, "
        f"trigger {r.trigger}, backend {r.backend}"
    )
    seen = r.probes.get(NAME, {})
    delivered = seen.get("messages_delivered")
    if r.verdict == "skipped" or delivered is None:
        why = "; ".join(r.reasons) or "not observed"
        return f"- {setup} ({detail}): not measured ({r.verdict}: {why})"
    expected = int(seen.get("messages_expected") or 0)
    lost = expected - int(delivered)
    count = f"{delivered} of {expected} messages delivered"
    count = f"**{count}** ({lost} lost)" if lost > 0 else count
    clean = seen.get("connection_closed_cleanly")
    if clean is None:
        close = "how the connection ended is unknown"
    elif clean:
        close = "the connection was closed cleanly"
    else:
        close = f"the broker saw the connection drop ({seen.get('connection_close') or 'no reason given'})"
    mark = "✓" if r.verdict == "pass" else "✗ (not what the scenario declares)"
    return f"- {setup}: {count}; {close}. {mark} <sub>{detail}</sub>"


def render_broker_markdown(results: Sequence[CellResult]) -> List[str]:
    """The section, or nothing when no cell was judged at the broker."""
    cells = [r for r in results if NAME in r.probes]
    if not cells:
        return []
    cells.sort(key=lambda r: (r.scenario, r.strategy, r.trigger, _pyver(r.python), r.backend))
    return [
        "",
        "## Judged at the broker: what the cleanup saves",
        "",
        "Functions that buffer messages during their invocations and ship them to RabbitMQ: "
        "`function/outbox.py` only in its SIGTERM cleanup, `function/flusher.py` from a "
        "background thread a moment later (no cleanup at all). After each shutdown the "
        "harness counted what reached the cell's own queue and read the broker's log for "
        "how the connection ended.",
        "",
        *[delivery_line(r) for r in cells],
    ]
