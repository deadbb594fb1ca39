"""Write a run's report files: results.json, REPORT.md, report.html. The only I/O of the report."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Sequence

from harness.evidence.result import CellResult
from harness.report.html import render_report_html
from harness.report.markdown import render_json, render_markdown
from harness.report.meta import RunMeta

BENCH_FILE = "bench.json"


def render_html(
    results: Sequence[CellResult],
    meta: RunMeta,
    logs: Optional[Mapping[str, Sequence[str]]] = None,
    bench: Optional[Mapping[str, Any]] = None,
) -> str:
    """report.html (see ``harness.report.html``); ``logs`` maps cell ids to event log lines."""
    return render_report_html(results, meta, logs or {}, bench)


def _write_atomic(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix="." + path.name + "-")
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
    os.chmod(tmp, 0o644)  # mkstemp makes it 0600; a report is for reading
    os.replace(tmp, path)


def read_event_logs(results_dir: Path, results: Sequence[CellResult]) -> Dict[str, List[str]]:
    """Each cell's event log lines, by ``CellResult.key``; cells without a readable log are left out."""
    logs: Dict[str, List[str]] = {}
    for r in results:
        if not r.event_log:
            continue
        path = Path(r.event_log)
        path = path if path.is_absolute() else results_dir / path
        try:
            logs[r.key] = path.read_text(encoding="utf-8", errors="replace").splitlines()
        except OSError:
            continue
    return logs


def read_bench(results_dir: Path) -> Optional[Dict[str, Any]]:
    """results/bench.json when a benchmark run left one there."""
    try:
        data = json.loads((results_dir / BENCH_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _render_pages(
    results_dir: Path, results: Sequence[CellResult], meta: RunMeta
) -> Dict[Path, str]:
    bench = read_bench(results_dir)
    logs = read_event_logs(results_dir, results)
    return {
        results_dir / "REPORT.md": render_markdown(results, meta, bench),
        results_dir / "report.html": render_html(results, meta, logs, bench),
    }


def write_report(results_dir: Path, results: Sequence[CellResult], meta: RunMeta) -> List[Path]:
    return write_results(results_dir, results, meta, _render_pages(results_dir, results, meta))


def write_results(
    results_dir: Path,
    results: Sequence[CellResult],
    meta: RunMeta,
    pages: Mapping[Path, str],
) -> List[Path]:
    """results.json and the given pages, each written whole or not at all."""
    results_dir.mkdir(parents=True, exist_ok=True)
    outputs = {
        results_dir / "results.json": json.dumps(render_json(results, meta), indent=2) + "\n",
        **pages,
    }
    for path, text in outputs.items():
        _write_atomic(path, text)
    return list(outputs)


def rewrite_report(results_dir: Path) -> List[Path]:
    """Render REPORT.md and report.html again from results.json (e.g. after a benchmark run).

    results.json itself is left as the matrix wrote it; nothing is written
    when there is none.
    """
    try:
        data = json.loads((results_dir / "results.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []
    results = [CellResult.from_json(cell) for cell in data.get("cells", [])]
    pages = _render_pages(results_dir, results, RunMeta.from_results_json(data))
    for path, text in pages.items():
        _write_atomic(path, text)
    return list(pages)
