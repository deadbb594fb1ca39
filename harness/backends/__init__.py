"""Backends run a cell and hand back its raw record: ``Backend.run(cell) -> CellRun``.

``process`` runs the sandbox on the host with a local interpreter; ``docker``
runs the same sandbox and function in the cell's image through docker-py.
Both share the run skeleton in ``base``. ``choose`` resolves ``--backend`` to
one or more of them (``all``: both, side by side, where an engine answers).
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Tuple

from harness.backends.base import Backend, CellRun, CellSkipped
from harness.backends.docker import DockerBackend
from harness.backends.process import ProcessBackend
from harness.errors import LabError
from harness.images import engine as dockerbuild

CHOICES = ("process", "docker", "auto", "all")

__all__ = ["CHOICES", "Backend", "BackendUnavailable", "CellRun", "CellSkipped", "choose", "create"]


class BackendUnavailable(LabError):
    """--backend names something this machine cannot run."""


def choose(requested: str, engine_answers: Callable[[], bool]) -> Tuple[Tuple[str, ...], str]:
    """The backends to use and a line saying why. Pure apart from ``engine_answers``."""
    if requested not in CHOICES:
        raise BackendUnavailable(
            f"--backend: expected one of {', '.join(CHOICES)}, got {requested!r}"
        )
    if requested in ("process", "docker"):
        return (requested,), "requested with --backend"
    if not engine_answers():
        return ("process",), f"{requested}: no Docker engine answers, so process only"
    if requested == "all":
        return ("process", "docker"), "all: both backends, side by side"
    return ("docker",), "auto: a Docker engine answers"


def docker_engine_answers(timeout_s: float = 3.0) -> bool:
    """True when docker-py reaches an engine (DOCKER_HOST or the default socket)."""
    try:
        engine = dockerbuild.client(timeout_s=int(max(1, timeout_s)))
    except Exception:  # any failure to reach the engine means: not available
        return False
    engine.close()
    return True


def create(name: str, cells_dir: Path, session: str) -> Backend:
    if name == "process":
        return ProcessBackend(cells_dir=cells_dir, session=session)
    if name == "docker":
        return DockerBackend(cells_dir=cells_dir, session=session)
    raise BackendUnavailable(f"--backend: expected one of process, docker, got {name!r}")
