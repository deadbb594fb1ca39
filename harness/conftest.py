"""pytest wiring for the matrix: options, one test per cell, the report at the end.

``pytest harness/`` loads every scenario before anything runs (a bad file is
a usage error, no traceback), parametrizes ``test_cell`` with the cells, and
at the end of the session (on the controller, under pytest-xdist) reads the
per-cell verdict files back and writes results/latest/. Every process a cell starts
carries a session label; the controller sweeps the label at the end, so an
interrupted run leaves nothing behind.
"""

from __future__ import annotations

import os
import platform
import shlex
import shutil
import sys
import time
import uuid
from pathlib import Path
from typing import Any, Dict, List, Tuple

import pytest
import tomllib

from harness import backends, probes
from harness.backends.base import Backend
from harness.images import engine as dockerbuild
from harness.images.container import sweep_containers
from harness.model.cells import Cell
from harness.model.scenarios import ScenarioError, load_cells
from harness.paths import LATEST_RESULTS_DIR, PROJECT_ROOT, SCENARIOS_DIR
from harness.report.journal import read_results
from harness.report.meta import RunMeta
from harness.report.writer import write_report
from harness.sandbox import forkserver, sweep

CELLS = pytest.StashKey[List[Cell]]()
SESSION = pytest.StashKey[str]()
BACKENDS = pytest.StashKey[Tuple[str, ...]]()
BACKEND_NOTE = pytest.StashKey[str]()
STARTED = pytest.StashKey[float]()
SUMMARY = pytest.StashKey[List[str]]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("lab", "SIGTERM lab matrix")
    group.addoption(
        "--backend",
        choices=backends.CHOICES,
        default="auto",
        help="where cells run: process (host interpreters), docker, or auto (docker when an "
        "engine answers, else process). Default: auto.",
    )
    group.addoption(
        "--scenarios",
        type=Path,
        default=SCENARIOS_DIR,
        help="directory of scenario files (*.toml). Default: scenarios/.",
    )
    group.addoption(
        "--results",
        type=Path,
        default=LATEST_RESULTS_DIR,
        help="where results.json, REPORT.md, report.html and cells/ go. Default: results/latest/ "
        "(ignored by git; python -m harness.report.publish makes it the published results/).",
    )


def _is_worker(config: pytest.Config) -> bool:
    return hasattr(config, "workerinput")


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    # pytest-benchmark, when installed on the host, warns at configure time that
    # it is off under xdist; with `filterwarnings = error` that warning would
    # abort `pytest harness/ -n 2`. It says nothing about this project.
    config.addinivalue_line(
        "filterwarnings", "ignore:Benchmarks are automatically disabled because xdist"
    )
    if config.getoption("help", False):
        return
    try:
        config.stash[CELLS] = load_cells(
            Path(config.getoption("scenarios")).resolve(), probe_check=probes.check_settings
        )
    except ScenarioError as err:
        raise pytest.UsageError(str(err)) from None
    if _is_worker(config):
        worker: Any = config.workerinput  # type: ignore[attr-defined]  # set by xdist
        config.stash[SESSION] = str(worker["lab_session"])
        config.stash[BACKENDS] = tuple(str(worker["lab_backends"]).split(","))
        config.stash[STARTED] = float(worker["lab_started"])
        return
    try:
        names, note = backends.choose(config.getoption("backend"), backends.docker_engine_answers)
    except backends.BackendUnavailable as err:
        raise pytest.UsageError(str(err)) from None
    config.stash[SESSION] = uuid.uuid4().hex[:12]
    config.stash[BACKENDS] = names
    config.stash[BACKEND_NOTE] = note
    config.stash[STARTED] = time.time()


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node: Any) -> None:
    """xdist: hand each worker the controller's session label and backend."""
    config = node.config
    node.workerinput["lab_session"] = config.stash[SESSION]
    node.workerinput["lab_backends"] = ",".join(config.stash[BACKENDS])
    node.workerinput["lab_started"] = config.stash[STARTED]


def pytest_report_header(config: pytest.Config) -> List[str]:
    if BACKEND_NOTE not in config.stash:
        return []
    cells = config.stash[CELLS]
    names: Tuple[str, ...] = config.stash[BACKENDS]
    return [
        f"lab: backend {' + '.join(names)} ({config.stash[BACKEND_NOTE]})",
        f"lab: {len(cells)} cells from {config.getoption('scenarios')}; "
        f"results -> {config.getoption('results')}; session label {config.stash[SESSION]}",
    ]


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "cell" in metafunc.fixturenames:
        cells = metafunc.config.stash[CELLS]
        names = metafunc.config.stash[BACKENDS]
        # One backend: ids are the cells'; several: each id says its backend.
        cases = [(name, cell) for name in names for cell in cells]
        ids = [cell.id if len(names) == 1 else f"{name}-{cell.id}" for name, cell in cases]
        metafunc.parametrize(("backend_name", "cell"), cases, ids=ids)


def _results_dir(config: pytest.Config) -> Path:
    return Path(config.getoption("results")).resolve()


def pytest_sessionstart(session: pytest.Session) -> None:
    config = session.config
    if _is_worker(config) or config.option.collectonly or BACKEND_NOTE not in config.stash:
        return
    # Start from an empty cells/ so the report holds this run only.
    cells_dir = _results_dir(config) / "cells"
    if cells_dir.exists():
        shutil.rmtree(cells_dir)
    cells_dir.mkdir(parents=True)
    if "docker" in config.stash[BACKENDS]:
        _sweep_containers(session="", running=False)  # stopped leftovers of earlier runs


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    config = session.config
    # Each worker (or a run without workers) ends its own fork servers first.
    forkserver.close_all()
    if _is_worker(config) or config.option.collectonly or BACKEND_NOTE not in config.stash:
        return
    leftovers = sweep.sweep(config.stash[SESSION] + "/")
    names: Tuple[str, ...] = config.stash[BACKENDS]
    containers = _sweep_containers(config.stash[SESSION], running=True) if "docker" in names else []
    results_dir = _results_dir(config)
    results = read_results(results_dir / "cells")
    meta = RunMeta(
        tool="lambda-sigterm-lab harness",
        tool_version=_tool_version(),
        platform=platform.platform(),
        host_python=f"CPython {platform.python_version()}",
        backend=" + ".join(names),
        backend_note=config.stash[BACKEND_NOTE],
        started=config.stash[STARTED],
        ended=time.time(),
        command=_command(config),
    )
    written = write_report(results_dir, results, meta)
    lines = [f"lab: {len(results)} cell results -> " + ", ".join(str(p) for p in written)]
    if leftovers:
        lines.insert(0, f"lab: killed leftover processes {leftovers}")
    if containers:
        lines.insert(0, f"lab: removed leftover containers {containers}")
    config.stash[SUMMARY] = lines


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    for line in config.stash.get(SUMMARY, []):
        terminalreporter.write_line(line)


def _tool_version() -> str:
    try:
        with (PROJECT_ROOT / "pyproject.toml").open("rb") as handle:
            return str(tomllib.load(handle)["project"]["version"])
    except (OSError, KeyError, tomllib.TOMLDecodeError):
        return "unknown"


def _command(config: pytest.Config) -> str:
    args = [a for a in config.invocation_params.args]
    return shlex.join([os.path.basename(sys.executable), "-m", "pytest", *args])


@pytest.fixture(scope="session")
def lab_backends(request: pytest.FixtureRequest) -> Dict[str, Backend]:
    config = request.config
    cells_dir = _results_dir(config) / "cells"
    return {
        name: backends.create(name, cells_dir / name, config.stash[SESSION])
        for name in config.stash[BACKENDS]
    }


def _sweep_containers(session: str, running: bool) -> List[str]:
    """Remove the lab's containers of ``session`` (all sessions: ""); their names."""
    try:
        engine = dockerbuild.client(timeout_s=30)
    except dockerbuild.ImageBuildError:
        return []
    try:
        removed = sweep_containers(engine, session, running=running)
        dockerbuild.prune_dangling(engine)
    finally:
        engine.close()
    return removed


@pytest.fixture(scope="session")
def results_dir(request: pytest.FixtureRequest) -> Path:
    return _results_dir(request.config)
