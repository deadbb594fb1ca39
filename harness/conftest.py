"""pytest wiring for the matrix: options, one test per cell, the report at the end.

``pytest harness/`` loads every scenario before anything runs (a bad file is
a usage error, no traceback), parametrizes ``test_cell`` with the cells, and
at the end of the session (on the controller, under pytest-xdist) reads the
per-cell verdict files back and writes results/. Every process a cell starts
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
from typing import Any, List

import pytest
import tomllib

from harness import backends, sweep
from harness.backends.base import Backend
from harness.cells import Cell
from harness.report import RunMeta, write_report
from harness.results import read_results
from harness.scenarios import ScenarioError, load_cells

PROJECT_ROOT = Path(__file__).resolve().parent.parent

CELLS = pytest.StashKey[List[Cell]]()
SESSION = pytest.StashKey[str]()
BACKEND = pytest.StashKey[str]()
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
        default=PROJECT_ROOT / "scenarios",
        help="directory of scenario files (*.toml). Default: scenarios/.",
    )
    group.addoption(
        "--results",
        type=Path,
        default=PROJECT_ROOT / "results",
        help="where results.json, REPORT.md, report.html and cells/ go. Default: results/.",
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
        config.stash[CELLS] = load_cells(Path(config.getoption("scenarios")).resolve())
    except ScenarioError as err:
        raise pytest.UsageError(str(err)) from None
    if _is_worker(config):
        worker: Any = config.workerinput  # type: ignore[attr-defined]  # set by xdist
        config.stash[SESSION] = str(worker["lab_session"])
        config.stash[BACKEND] = str(worker["lab_backend"])
        config.stash[STARTED] = float(worker["lab_started"])
        return
    try:
        name, note = backends.choose(config.getoption("backend"), backends.docker_engine_answers)
    except backends.BackendUnavailable as err:
        raise pytest.UsageError(str(err)) from None
    config.stash[SESSION] = uuid.uuid4().hex[:12]
    config.stash[BACKEND] = name
    config.stash[BACKEND_NOTE] = note
    config.stash[STARTED] = time.time()


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node: Any) -> None:
    """xdist: hand each worker the controller's session label and backend."""
    config = node.config
    node.workerinput["lab_session"] = config.stash[SESSION]
    node.workerinput["lab_backend"] = config.stash[BACKEND]
    node.workerinput["lab_started"] = config.stash[STARTED]


def pytest_report_header(config: pytest.Config) -> List[str]:
    if BACKEND_NOTE not in config.stash:
        return []
    cells = config.stash[CELLS]
    return [
        f"lab: backend {config.stash[BACKEND]} ({config.stash[BACKEND_NOTE]})",
        f"lab: {len(cells)} cells from {config.getoption('scenarios')}; "
        f"results -> {config.getoption('results')}; session label {config.stash[SESSION]}",
    ]


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "cell" in metafunc.fixturenames:
        cells = metafunc.config.stash[CELLS]
        metafunc.parametrize("cell", cells, ids=[c.id for c in cells])


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


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    config = session.config
    if _is_worker(config) or config.option.collectonly or BACKEND_NOTE not in config.stash:
        return
    leftovers = sweep.sweep(config.stash[SESSION] + "/")
    results_dir = _results_dir(config)
    results = read_results(results_dir / "cells")
    meta = RunMeta(
        tool="lambda-sigterm-lab harness",
        tool_version=_tool_version(),
        platform=platform.platform(),
        host_python=f"CPython {platform.python_version()}",
        backend=config.stash[BACKEND],
        backend_note=config.stash[BACKEND_NOTE],
        started=config.stash[STARTED],
        ended=time.time(),
        command=_command(config),
    )
    written = write_report(results_dir, results, meta)
    lines = [f"lab: {len(results)} cell results -> " + ", ".join(str(p) for p in written)]
    if leftovers:
        lines.insert(0, f"lab: killed leftover processes {leftovers}")
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
def lab_backend(request: pytest.FixtureRequest) -> Backend:
    config = request.config
    return backends.create(
        config.stash[BACKEND], _results_dir(config) / "cells", config.stash[SESSION]
    )


@pytest.fixture(scope="session")
def results_dir(request: pytest.FixtureRequest) -> Path:
    return _results_dir(request.config)
