"""The docker-py calls every image build shares: a client, a lock, streaming one build.

Parallel pytest workers may ask for the same image at once; a file lock under
the cache makes the second one wait and then find the image built. A failed
build raises ``ImageBuildError`` carrying the tail of its log.
"""

from __future__ import annotations

import contextlib
import fcntl
import io
import os
import socket
import tarfile
from pathlib import Path
from typing import IO, Any, Dict, Iterator, List, Mapping, Optional, Sequence, Tuple

from harness.errors import LabError
from harness.images.spec import INPUTS_LABEL, PROJECT_LABEL, REPOSITORY
from harness.paths import cache_dir

BUILD_TIMEOUT_S = 900  # one HTTP read of a build's progress stream


class ImageBuildError(LabError, RuntimeError):
    """An image could not be built, or no engine answers; the message says why."""


def images_cache() -> Path:
    """``.cache/images`` (``LAB_CACHE_DIR``): rootfs tarballs, wheelhouses, build logs."""
    path = cache_dir() / "images"
    path.mkdir(parents=True, exist_ok=True)
    return path


@contextlib.contextmanager
def build_lock(name: str = "build") -> Iterator[None]:
    """One builder at a time across processes (pytest-xdist workers, a CLI run)."""
    with (images_cache() / f".{name}.lock").open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _unix_socket_problem(docker_host: str, timeout_s: float) -> Optional[str]:
    """Why nothing listens at a ``unix://`` DOCKER_HOST, or None (also for other schemes).

    Asked before docker-py is: when its connect fails, docker-py leaves the
    socket open, and the ResourceWarning fails tests run with ``-W error``.
    """
    if not docker_host.startswith("unix://"):
        return None
    path = docker_host[len("unix://") :]
    with socket.socket(socket.AF_UNIX) as probe:
        probe.settimeout(timeout_s)
        try:
            probe.connect(path)
        except OSError as err:
            return f"{path}: {err.strerror or err}"
    return None


def client(timeout_s: int = BUILD_TIMEOUT_S) -> Any:
    """A docker-py client for DOCKER_HOST or the default socket; ImageBuildError if none."""
    import docker

    hint = "start one: sudo images/setup-docker.sh"
    host = os.environ.get("DOCKER_HOST") or "unix:///var/run/docker.sock"
    problem = _unix_socket_problem(host, 5.0)
    if problem is not None:
        raise ImageBuildError(f"no Docker engine answers ({problem}); {hint}")
    engine = None
    try:
        engine = docker.from_env(timeout=timeout_s)
        engine.ping()
    except Exception as err:  # docker-py raises several types for "no engine"
        if engine is not None:
            engine.close()
        raise ImageBuildError(f"no Docker engine answers ({err}); {hint}") from None
    return engine


def labelled_image(engine: Any, tag: str) -> Optional[Any]:
    """The image tagged ``tag``, or None."""
    import docker.errors

    try:
        return engine.images.get(tag)
    except docker.errors.ImageNotFound:
        return None


def is_current(image: Optional[Any], inputs: str) -> bool:
    """True when ``image`` was built by the lab from exactly ``inputs``."""
    if image is None:
        return False
    labels: Mapping[str, str] = image.labels or {}
    return labels.get(PROJECT_LABEL) == REPOSITORY and labels.get(INPUTS_LABEL) == inputs


def add_bytes(tar: tarfile.TarFile, name: str, data: bytes, mode: int = 0o644) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mode = mode
    tar.addfile(info, io.BytesIO(data))


def root_owned(info: tarfile.TarInfo) -> tarfile.TarInfo:
    """Context members belong to root and are world-readable (the function runs as 993)."""
    info.uid = info.gid = 0
    info.uname = info.gname = "root"
    info.mode |= 0o444 if not info.isdir() else 0o555
    return info


def write_context(
    target: IO[bytes],
    blobs: Sequence[Tuple[str, bytes, int]],
    files: Sequence[Tuple[str, Path]],
) -> None:
    """A build context tar: in-memory ``(name, data, mode)`` and host files ``(name, path)``."""
    with tarfile.open(fileobj=target, mode="w") as tar:
        for name, data, mode in blobs:
            add_bytes(tar, name, data, mode)
        for name, path in files:
            tar.add(str(path), arcname=name, recursive=False, filter=root_owned)
    target.flush()
    target.seek(0)


def stream_build(
    engine: Any, context: IO[bytes], kwargs: Dict[str, Any], log_path: Path, echo: bool
) -> Any:
    """Run one build, log its output to ``log_path``; the image, or ImageBuildError."""
    lines: List[str] = []
    error: Optional[str] = None
    with log_path.open("w", encoding="utf-8") as log:
        for chunk in engine.api.build(fileobj=context, decode=True, **kwargs):
            text = str(chunk.get("stream") or chunk.get("status") or "")
            if "error" in chunk:
                error = str(chunk.get("error", "")).strip()
                text = f"ERROR: {error}\n"
            if text:
                log.write(text)
                lines.append(text.rstrip("\n"))
                if echo and text.strip():
                    print(f"  | {text.rstrip()}", flush=True)
    if error is not None:
        tail = "\n".join(lines[-25:])
        raise ImageBuildError(f"building {kwargs.get('tag')} failed: {error}\n{tail}")
    image = labelled_image(engine, str(kwargs["tag"]))
    if image is None:
        raise ImageBuildError(f"building {kwargs.get('tag')} ended without the image")
    return image


def size_mb(image: Any) -> float:
    return float(image.attrs.get("Size", 0)) / 1e6


def prune_dangling(engine: Any) -> int:
    """Remove untagged lab images (a rebuilt tag leaves its old image behind)."""
    result = engine.images.prune(filters={"dangling": True, "label": PROJECT_LABEL})
    return len((result or {}).get("ImagesDeleted") or [])
