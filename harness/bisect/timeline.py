"""The release timeline: declared and observed outcomes per release, and where they change. Pure.

A *column* is one (AWS_EXECUTION_ENV, strategy, CPython role) of the sweep,
the role being the oldest or the newest CPython a release was run on (the
CPython itself differs from release to release). Down a column, releases in
version order; a *change point* is a release whose outcome differs from the
previous release's in that column. Declared change points come from the
expectations (releases.toml's facts), observed ones from the runs; the report
puts them side by side, so a disagreement shows.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence, Tuple

from harness.bisect.releases import python_key, version_key
from harness.evidence.result import CellResult

ROLES = ("oldest", "newest")
# The role of a sweep that runs one CPython per release (a subset with python =
# "oldest" or "newest"): one column, not two copies of it.
ONE = "one"


@dataclass(frozen=True)
class Column:
    execution_env: Optional[str]  # None: unset
    strategy: str
    role: str  # "oldest" | "newest"

    @property
    def label(self) -> str:
        env = self.execution_env or "unset"
        role = "one CPython" if self.role == ONE else f"{self.role} CPython"
        return f"{env} / {self.strategy} / {role}"


@dataclass(frozen=True)
class Point:
    """One release in one column."""

    version: str
    python: str
    declared: bool
    observed: Optional[bool]  # None: no observation (skipped, or the run failed early)
    verdict: str
    reasons: Tuple[str, ...]

    @property
    def disagrees(self) -> bool:
        return self.observed is not None and self.observed != self.declared


@dataclass(frozen=True)
class ChangePoint:
    column: Column
    version: str  # the first release with the new outcome
    previous: str  # the release before it in the column
    declared: Optional[Tuple[bool, bool]]  # (before, after) when declared to change here
    observed: Optional[Tuple[bool, bool]]  # (before, after) when observed to change here

    @property
    def status(self) -> str:
        if self.declared and self.observed:
            return "agree" if self.declared == self.observed else "disagree"
        return "declared only" if self.declared else "observed only"


def columns_of(results: Sequence[CellResult]) -> Tuple[Column, ...]:
    """Every column the results fill, env values in first-seen order, then strategy, then role."""
    envs = list(dict.fromkeys(r.execution_env for r in results))
    strategies = list(dict.fromkeys(r.strategy for r in results))
    return tuple(Column(e, s, role) for s in strategies for e in envs for role in roles_of(results))


def roles_of(results: Sequence[CellResult]) -> Tuple[str, ...]:
    """oldest and newest when some release ran on two CPythons, else one column."""
    pythons = release_pythons(results)
    return ROLES if any(low != high for low, high in pythons.values()) else (ONE,)


def release_pythons(results: Sequence[CellResult]) -> Dict[str, Tuple[str, str]]:
    """Per release, the (oldest, newest) CPython it ran on (the same twice when one)."""
    found: Dict[str, List[str]] = {}
    for r in results:
        found.setdefault(r.runtime_client_version, []).append(r.python)
    return {v: (min(ps, key=python_key), max(ps, key=python_key)) for v, ps in found.items()}


def timeline(results: Sequence[CellResult]) -> Dict[Column, List[Point]]:
    """Per column, its points in release order."""
    pythons = release_pythons(results)
    roles = roles_of(results)
    table: Dict[Column, List[Point]] = {c: [] for c in columns_of(results)}
    for r in sorted(results, key=lambda r: version_key(r.runtime_client_version)):
        oldest, newest = pythons[r.runtime_client_version]
        for role, python in zip(roles, (oldest, newest) if roles == ROLES else (oldest,)):
            if r.python != python:
                continue
            point = Point(
                version=r.runtime_client_version,
                python=r.python,
                declared=r.expected_cleanup,
                observed=r.observed_cleanup if r.verdict != "skipped" else None,
                verdict=r.verdict,
                reasons=r.reasons,
            )
            table.setdefault(Column(r.execution_env, r.strategy, role), []).append(point)
    return {c: points for c, points in table.items() if points}


def _changes(points: Sequence[Point], observed: bool) -> Dict[str, Tuple[str, Tuple[bool, bool]]]:
    """release -> (previous release, (before, after)) where the value changes."""
    found: Dict[str, Tuple[str, Tuple[bool, bool]]] = {}
    last: Optional[Tuple[str, bool]] = None
    for p in points:
        value = p.observed if observed else p.declared
        if value is None:
            continue
        if last is not None and last[1] != value:
            found[p.version] = (last[0], (last[1], value))
        last = (p.version, value)
    return found


def change_points(table: Dict[Column, List[Point]]) -> List[ChangePoint]:
    """Every declared or observed change point, column by column, in release order."""
    found: List[ChangePoint] = []
    for column, points in table.items():
        declared, observed = _changes(points, False), _changes(points, True)
        for version in sorted(set(declared) | set(observed), key=version_key):
            d, o = declared.get(version), observed.get(version)
            previous = d[0] if d is not None else o[0] if o is not None else ""
            found.append(
                ChangePoint(
                    column=column,
                    version=version,
                    previous=previous,
                    declared=d[1] if d else None,
                    observed=o[1] if o else None,
                )
            )
    return found
