"""Expand releases into cells, each with the outcome its release's facts imply. Pure.

Every release runs the lab's function (``function/``, ``app.handler``) with an
internal extension and the ``stop`` trigger, under each ``AWS_EXECUTION_ENV``
value of the sweep and both strategies, on the oldest and the newest CPython
that has a wheel of it and that the lab can run. The expectation is declared
here, from ``releases.toml``, before anything runs; a run that disagrees is a
finding for the report, never a reason to change it.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, List, Optional, Tuple

from harness.bisect.releases import Release, ReleaseBook, Subset, python_key
from harness.model.cells import Cell, Expectation
from harness.paths import FUNCTION_DIR

SCENARIO = "bisect"
CLIENT = "awslambdaric"
EXTENSION = "internal"
TRIGGER = "stop"
STRATEGIES = ("signal", "wakeup-fd")
HANDLER = "app.handler"
CLEANUP_MARKER = "[runtime] SIGTERM received: cleaning up"
# A custom image's value on Lambda (FACTS.md, "Managed Python runtimes and
# images"); no release lists it, PR #212 (open) would.
IMAGE_ENV = "AWS_Lambda_Image"
# The sandbox and the function run under the cell's interpreter and need
# CPython 3.7 or later (README, "lambda_sandbox/": CPython 3.7 to 3.13): a
# release's wheels for older CPythons cannot be run here.
SANDBOX_OLDEST_PYTHON = "3.7"


@dataclass(frozen=True)
class Plan:
    """The cells of a sweep, and why anything the releases offer is not among them."""

    cells: Tuple[Cell, ...]
    left_out: Tuple[str, ...]


def sweep_envs(book: ReleaseBook, subset: Subset) -> Tuple[Optional[str], ...]:
    """The subset's AWS_EXECUTION_ENV values; by default unset, a custom image's value and
    every value any release polls in a thread for, so that each column runs on every
    release and a change between two releases shows."""
    if subset.execution_env:
        return subset.execution_env
    return (None, IMAGE_ENV, *book.managed_envs)


def runnable_pythons(release: Release, available: Iterable[str]) -> Tuple[str, ...]:
    """The available CPythons with a wheel of ``release`` that the sandbox runs on, oldest first."""
    return tuple(
        sorted(
            (
                p
                for p in set(available)
                if release.has_wheel_for(p) and python_key(p) >= python_key(SANDBOX_OLDEST_PYTHON)
            ),
            key=python_key,
        )
    )


def chosen_pythons(release: Release, subset: Subset, available: Iterable[str]) -> Tuple[str, ...]:
    """The oldest and/or newest runnable CPython of ``release``, as the subset says."""
    found = runnable_pythons(release, available)
    if not found:
        return ()
    picks = {"oldest": (found[0],), "newest": (found[-1],), "both": (found[0], found[-1])}
    return tuple(dict.fromkeys(picks[subset.python]))


def _env_name(env: Optional[str]) -> str:
    return f"AWS_EXECUTION_ENV={env}" if env else "AWS_EXECUTION_ENV unset"


def expectation_for(release: Release, env: Optional[str], strategy: str) -> Expectation:
    """What the release's code implies for one cell (releases.toml's facts, with their sources)."""
    v = release.version
    polls = release.polls_in_thread(env)
    allowlist = ", ".join(release.thread_polling) or "none"
    if strategy == "signal":
        if polls:
            return Expectation(
                cleanup=True,
                reason=f"awslambdaric {v} polls `next` in a worker thread for {_env_name(env)}: "
                "the main thread is free to run the Python handler",
                source=release.thread_polling_source,
            )
        return Expectation(
            cleanup=False,
            reason=f"awslambdaric {v} calls its native `next` on the main thread for "
            f"{_env_name(env)} (thread polling only for: {allowlist}): the handler stays "
            "pending until SIGKILL",
            source=release.thread_polling_source,
        )
    if polls or release.next_releases_gil:
        return Expectation(
            cleanup=True,
            reason=f"awslambdaric {v}'s `next` releases the GIL while it waits: the watcher "
            "thread woken through the wakeup fd runs the cleanup",
            source=release.next_releases_gil_source,
        )
    return Expectation(
        cleanup=False,
        reason=f"awslambdaric {v}'s native `next` holds the GIL on the main thread: the "
        "watcher thread's read returns in C but it cannot run Python before `next` "
        "returns, which it does not before SIGKILL",
        source=release.next_releases_gil_source,
    )


def cell_for(
    release: Release, python: str, env: Optional[str], strategy: str, scenario_file: Path
) -> Cell:
    return Cell(
        scenario=SCENARIO,
        python=python,
        runtime_client=CLIENT,
        runtime_client_version=release.version,
        execution_env=env,
        extension=EXTENSION,
        strategy=strategy,
        trigger=TRIGGER,
        invocations=1,
        function_dir=FUNCTION_DIR,
        handler=HANDLER,
        cleanup_marker=CLEANUP_MARKER,
        extensions_dir=FUNCTION_DIR / "extensions",
        idle_timeout_s=1.0,
        env=(),
        expectation=expectation_for(release, env, strategy),
        scenario_file=scenario_file,
    )


def wheel_pythons(book: ReleaseBook) -> Tuple[str, ...]:
    """Every CPython some release has a wheel for, oldest first."""
    found = {
        f"3.{minor}"
        for release in book.releases
        for minor in range(python_key(release.cpython[0])[1], python_key(release.cpython[1])[1] + 1)
    }
    return tuple(sorted(found, key=python_key))


def unavailable_pythons(book: ReleaseBook, available: Iterable[str]) -> Tuple[str, ...]:
    """Why CPythons that releases have wheels for are not run: too old for the sandbox,
    or not found here."""
    available = set(available)
    notes = []
    for python in wheel_pythons(book):
        if python_key(python) < python_key(SANDBOX_OLDEST_PYTHON):
            notes.append(f"CPython {python}: the sandbox needs {SANDBOX_OLDEST_PYTHON}+")
        elif python not in available:
            notes.append(f"CPython {python}: not found here")
    return tuple(notes)


def expand(
    book: ReleaseBook,
    subset: Subset,
    available: Iterable[str],
    scenario_file: Optional[Path] = None,
) -> Plan:
    """The subset's cells on the ``available`` CPythons, and what is left out and why."""
    available = tuple(available)
    path = scenario_file if scenario_file is not None else Path(book.where)
    versions = subset.releases or tuple(r.version for r in book.releases)
    envs = sweep_envs(book, subset)
    cells: List[Cell] = []
    left_out: List[str] = list(unavailable_pythons(book, available))
    for version in versions:
        release = book.release(version)
        pythons = chosen_pythons(release, subset, available)
        if not pythons:
            low, high = release.cpython
            left_out.append(
                f"awslambdaric {version}: skipped, no runnable CPython here for its wheels "
                f"({low} to {high}; the sandbox needs {SANDBOX_OLDEST_PYTHON}+)"
            )
            continue
        for python in pythons:
            for env in envs:
                for strategy in STRATEGIES:
                    cells.append(cell_for(release, python, env, strategy, path))
    duplicates = sorted(i for i, n in Counter(c.id for c in cells).items() if n > 1)
    if duplicates:  # a bug here, not a user's mistake: Cell.id must tell every cell apart
        raise AssertionError(f"cell ids not unique: {duplicates}")
    return Plan(cells=tuple(cells), left_out=tuple(left_out))
