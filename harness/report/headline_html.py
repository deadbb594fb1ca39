"""report.html's headline: the per-target table of harness.report.headline, as HTML. Pure."""

from __future__ import annotations

import html
from typing import Sequence

from harness.evidence.result import CellResult
from harness.model.targets import Target
from harness.report import headline
from harness.report.colours import OUTCOME_COLOURS

# An answer in the grids' colours.
COLOURS = {
    "runs": OUTCOME_COLOURS["ran"],
    "lost": OUTCOME_COLOURS["lost"],
    "differs": OUTCOME_COLOURS["fail"],
    "not run": OUTCOME_COLOURS["skipped"],
}


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


def _cell(answer: headline.Answer) -> str:
    mark = "" if answer.agrees is None else (" ✓" if answer.agrees else " ✗")
    title = _e(answer.detail or ("as declared" if answer.agrees else "not as declared"))
    text = _e(answer.word) + mark
    if answer.evidence:
        text = f'<a href="{_e(answer.evidence[0])}">{text}</a>'
    colour = COLOURS[answer.word]
    return f'<td class="h h-{_e(answer.word.replace(" ", "-"))}" style="background:{colour}" title="{title}">{text}</td>'


def render_headline_html(results: Sequence[CellResult], targets: Sequence[Target]) -> str:
    """The tables, or nothing when no result names a deployment target."""
    return "".join(_table(results, targets, table) for table in headline.TABLES)


def _table(results: Sequence[CellResult], targets: Sequence[Target], table: headline.Table) -> str:
    rows = headline.headline_rows(results, targets, table)
    if not rows:
        return ""
    head = "".join(f"<th>{_e(title)}</th>" for _, _, title in table.columns)
    body = "".join(
        f"<tr><th>{_e(row.target.name)}</th><td>{_e(headline.describe(row.target, targets))}</td>"
        + "".join(_cell(a) for a in row.answers)
        + "</tr>"
        for row in rows
    )
    anchor = "headline" if table.scenario is None else f"headline-{table.scenario}"
    return (
        f'<h2 id="{_e(anchor)}">{_e(table.title)}</h2>'
        f"<p>Trigger stop. {_e(table.intro)} Click an answer for its event log.</p>"
        f'<table class="headline"><tr><th>deployment target</th><th>runtime</th>{head}</tr>'
        f"{body}</table>"
    )
