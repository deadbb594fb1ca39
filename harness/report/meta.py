"""What a report says about its run, and the orderings every report format shares."""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass
from typing import Any, Dict, List, Mapping, Sequence, Tuple

from harness.evidence.result import CellResult


@dataclass(frozen=True)
class RunMeta:
    tool: str
    tool_version: str
    platform: str
    host_python: str
    backend: str
    backend_note: str
    started: float
    ended: float
    command: str

    @classmethod
    def from_results_json(cls, data: Mapping[str, Any]) -> "RunMeta":
        """Back from results.json (times to the second, as that file keeps them)."""
        return cls(
            tool=str(data.get("tool", "")),
            tool_version=str(data.get("toolversion", "")),
            platform=str(data.get("platform", "")),
            host_python=str(data.get("host_python", "")),
            backend=str(data.get("backend", "")),
            backend_note=str(data.get("backend_note", "")),
            started=_dt.datetime.fromisoformat(str(data["start"])).timestamp(),
            ended=_dt.datetime.fromisoformat(str(data["end"])).timestamp(),
            command=str(data.get("command", "")),
        )


def iso(ts: float) -> str:
    return _dt.datetime.fromtimestamp(ts, tz=_dt.timezone.utc).isoformat(timespec="seconds")


def pyver(version: str) -> Tuple[int, ...]:
    return tuple(int(p) for p in version.split(".") if p.isdigit())


def ordered(results: Sequence[CellResult]) -> List[CellResult]:
    return sorted(results, key=lambda r: (r.variant, r.trigger, pyver(r.python)))


def counts(results: Sequence[CellResult]) -> Dict[str, int]:
    out = {"pass": 0, "fail": 0, "skipped": 0}
    for r in results:
        out[r.verdict] = out.get(r.verdict, 0) + 1
    return out
