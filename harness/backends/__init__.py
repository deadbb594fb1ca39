"""Backends run a cell and hand back its raw record: ``Backend.run(cell) -> CellRun``.

``process`` runs the sandbox on the host with a local interpreter; ``docker``
(a later issue) runs it in an image. ``choose`` resolves ``--backend``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Tuple

from harness.backends.base import Backend, CellRun, CellSkipped

IMPLEMENTED = ("process",)
CHOICES = ("process", "docker", "auto")

__all__ = ["CHOICES", "IMPLEMENTED", "Backend", "CellRun", "CellSkipped", "choose", "create"]


class BackendUnavailable(Exception):
    pass


def choose(
    requested: str,
    engine_answers: Callable[[], bool],
    implemented: Tuple[str, ...] = IMPLEMENTED,
) -> Tuple[str, str]:
    """The backend to use and a line saying why. Pure apart from ``engine_answers``."""
    if requested not in CHOICES:
        raise BackendUnavailable(
            f"--backend: expected one of {', '.join(CHOICES)}, got {requested!r}"
        )
    if requested != "auto":
        if requested not in implemented:
            raise BackendUnavailable(
                f"--backend {requested}: not implemented yet; use --backend process"
            )
        return requested, "requested with --backend"
    if "docker" not in implemented:
        return "process", "auto: the docker backend is not implemented yet, so process"
    if engine_answers():
        return "docker", "auto: a Docker engine answers"
    return "process", "auto: no Docker engine answers, so process"


def docker_engine_answers(timeout_s: float = 3.0) -> bool:
    """True when docker-py reaches an engine (DOCKER_HOST or the default socket)."""
    try:
        import docker
    except ImportError:
        return False
    try:
        client = docker.from_env(timeout=int(max(1, timeout_s)))
        try:
            return bool(client.ping())
        finally:
            client.close()
    except Exception:  # any failure to reach the engine means: not available
        return False


def create(name: str, cells_dir: Path, session: str) -> Backend:
    if name == "process":
        from harness.backends.process import ProcessBackend

        return ProcessBackend(cells_dir=cells_dir, session=session)
    raise BackendUnavailable(f"backend {name!r} is not implemented")
