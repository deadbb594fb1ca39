"""``python -m harness.report.publish``: make the latest run the repository's published findings.

Runs write to ``results/latest/`` (ignored by git), so running the matrix
never touches a tracked file. The findings a reader of the repository sees
are ``results/`` itself: REPORT.md, results.json, report.html, the benchmark
files and the evidence behind every verdict (``cells/<backend>/<id>/``:
the event log, the output and the verdict). Publishing replaces those with
the latest run's, on purpose, in one step.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path
from typing import List, Optional, Sequence, Tuple

from harness.errors import LabError
from harness.paths import LATEST_RESULTS_DIR, RESULTS_DIR

# What a run leaves that is published; anything else in latest/ stays there.
PUBLISHED_FILES = ("REPORT.md", "results.json", "report.html", "bench.json", "BENCH.md")
PUBLISHED_DIRS = ("cells", "experiments", "strategies", "libraries", "check", "bisect")


class NothingToPublish(LabError):
    pass


def plan(latest: Sequence[str], published: Sequence[str]) -> Tuple[List[str], List[str]]:
    """(names to copy from latest, names to remove from the published set). Pure.

    ``latest`` and ``published`` are the top-level names present in each folder.
    A published name the latest run does not have (say, no benchmark was run)
    is removed, so the published set is always one run's, never a mix.
    """
    if "results.json" not in latest:
        raise NothingToPublish(
            "no results/latest/results.json: run the matrix first (./lab matrix)"
        )
    wanted = [n for n in (*PUBLISHED_FILES, *PUBLISHED_DIRS) if n in latest]
    stale = [n for n in (*PUBLISHED_FILES, *PUBLISHED_DIRS) if n in published and n not in latest]
    return wanted, stale


def publish(latest: Path = LATEST_RESULTS_DIR, published: Path = RESULTS_DIR) -> List[Path]:
    names = sorted(p.name for p in latest.iterdir()) if latest.is_dir() else []
    copy, remove = plan(names, sorted(p.name for p in published.iterdir()))
    written = []
    for name in [*copy, *remove]:
        target = published / name
        if target.is_dir():
            shutil.rmtree(target)
        elif target.exists():
            target.unlink()
    for name in copy:
        source, target = latest / name, published / name
        if source.is_dir():
            shutil.copytree(source, target)
        else:
            shutil.copy2(source, target)
        written.append(target)
    return written


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m harness.report.publish", description=__doc__)
    parser.add_argument("--from", dest="latest", type=Path, default=LATEST_RESULTS_DIR)
    parser.add_argument("--to", dest="published", type=Path, default=RESULTS_DIR)
    args = parser.parse_args(argv)
    try:
        written = publish(args.latest, args.published)
    except LabError as err:
        print(f"publish: error: {err}", file=sys.stderr)
        return 2
    print("published: " + ", ".join(str(p) for p in written))
    return 0


if __name__ == "__main__":
    sys.exit(main())
