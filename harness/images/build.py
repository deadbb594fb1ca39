"""Build (or reuse) the lab images: ``lambda-sigterm-lab:py37``, ``:py38``, ``:py312``, ...

One template (images/Dockerfile.template) and one small folder per image
(images/pyXY/build.args). The build context is made here, from the sandbox,
the function and a wheelhouse that ``pip download`` fills on the host for the
image's Python and platform, so ``docker build`` needs no network. The base
is ``lambda-sigterm-lab-base:pyX.Y`` (made offline, see harness/baseimage.py)
unless ``LAB_IMAGE_BASE=official`` asks for ``python:X.Y-slim``.

An image is rebuilt only when the digest of its inputs (every file of the
context, the build arguments and the base image's id) differs from the one in
its label. The command line is ``python -m harness.images`` (harness/images/cli.py).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, Iterator, List, Mapping, Optional, Sequence, Tuple

from harness.images import base as baseimage
from harness.images import engine as dockerbuild
from harness.images.spec import (
    PINS_LABEL,
    PYTHON_LABEL,
    ImageSpec,
    build_args,
    digest,
    image_build_kwargs,
    pins_from_wheels,
    wheel_download_args,
)
from harness.paths import FUNCTION_DIR, IMAGES_DIR, PROJECT_ROOT

TEMPLATE = IMAGES_DIR / "Dockerfile.template"
CONSTRAINTS = IMAGES_DIR / "constraints.txt"
BASES = ("offline", "official")


def base_choice(env: Optional[Mapping[str, str]] = None) -> str:
    """``LAB_IMAGE_BASE``: offline (default: nothing is pulled) or official (python:X.Y-slim)."""
    value = (os.environ if env is None else env).get("LAB_IMAGE_BASE") or "offline"
    if value not in BASES:
        raise dockerbuild.ImageBuildError(f"LAB_IMAGE_BASE: one of {BASES}, got {value!r}")
    return value


def wheelhouse(spec: ImageSpec, echo: bool = True) -> Path:
    """``.cache/images/wheelhouse/<image>-<digest>/``: the pinned wheels and requirements.txt.

    Callers hold the build lock, so nobody else writes here meanwhile.
    """
    key = digest(
        [
            ("python", spec.python.encode()),
            ("requirements", "\n".join(spec.requirements).encode()),
            ("constraints", CONSTRAINTS.read_bytes()),
        ]
    )
    target = dockerbuild.images_cache() / "wheelhouse" / f"{spec.name}-{key}"
    if (target / "requirements.txt").is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=target.name + ".", dir=target.parent))
    if echo:
        print(f"[images] pip download for CPython {spec.python}: {spec.requirements}", flush=True)
    try:
        done = subprocess.run(
            [sys.executable, "-m", "pip", *wheel_download_args(spec, staging, CONSTRAINTS)],
            capture_output=True,
            text=True,
            check=False,
            timeout=600,
        )
        if done.returncode != 0:
            raise dockerbuild.ImageBuildError(
                f"pip download for {spec.tag} failed:\n{done.stderr[-2000:]}"
            )
        wheels = sorted(p.name for p in staging.glob("*.whl"))
        (staging / "requirements.txt").write_text(
            "\n".join(pins_from_wheels(wheels)) + "\n", encoding="utf-8"
        )
        staging.rename(target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target


def _tree(root: Path, into: str, skip: Sequence[str] = ()) -> Iterator[Tuple[str, Path]]:
    for dirpath, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if d != "__pycache__" and d not in skip)
        here = Path(dirpath)
        for name in sorted(files):
            if not name.endswith((".pyc", ".pyo")):
                yield f"{into}/{(here / name).relative_to(root).as_posix()}", here / name


def context_files(wheels: Path, root: Path = PROJECT_ROOT) -> List[Tuple[str, Path]]:
    """``(name in the context, host path)`` of every file but the Dockerfile."""
    function = root / FUNCTION_DIR.name
    files = list(_tree(wheels, "wheelhouse"))
    files += _tree(root / "lambda_sandbox", "lab/lambda_sandbox")
    files.append(("lab/legacy_runtime.py", function / "legacy_runtime.py"))
    files += _tree(function, "task", skip=("extensions",))
    files += _tree(function / "extensions", "extensions")
    return files


@dataclass(frozen=True)
class Built:
    image: Any
    spec: ImageSpec
    cached: bool
    seconds: float

    def label(self, key: str) -> str:
        labels: Dict[str, str] = self.image.labels or {}
        return labels.get(key, "")

    @property
    def python_full_version(self) -> str:
        return self.label(PYTHON_LABEL)

    @property
    def pins(self) -> str:
        return self.label(PINS_LABEL)


def ensure_image(
    engine: Any, spec: ImageSpec, base: Optional[str] = None, echo: bool = True
) -> Built:
    """The lab image for ``spec``, built if missing or stale (one builder at a time)."""
    started = time.monotonic()
    base = base or base_choice()
    with dockerbuild.build_lock():
        python_full: Optional[str] = None
        base_ref: Optional[str] = None
        base_id = f"python:{spec.python}-slim"
        if base == "offline":
            base_image, interpreter = baseimage.ensure_base(engine, spec.python, echo)
            base_ref, base_id = spec.base_tag, str(base_image.id)
            python_full = interpreter.full_version
        wheels = wheelhouse(spec, echo)
        files = context_files(wheels)
        template = TEMPLATE.read_bytes()
        pins = (wheels / "requirements.txt").read_text(encoding="utf-8").split()
        args = repr(sorted(build_args(spec, base_ref).items())).encode()
        inputs = digest(
            [
                ("Dockerfile", template),
                ("base", base_id.encode()),
                ("buildargs", args),
                *((f"{name}:{os.access(p, os.X_OK)}", p.read_bytes()) for name, p in files),
            ]
        )
        kwargs = image_build_kwargs(spec, base_ref, inputs, pins, python_full)
        current = dockerbuild.labelled_image(engine, spec.tag)
        if dockerbuild.is_current(current, inputs):
            return Built(current, spec, True, time.monotonic() - started)
        if echo:
            print(f"[images] building {spec.tag} from {base_ref or base_id}", flush=True)
        log = dockerbuild.images_cache() / f"build-{spec.name}.log"
        with tempfile.TemporaryFile(dir=dockerbuild.images_cache()) as context:
            dockerbuild.write_context(context, [("Dockerfile", template, 0o644)], files)
            image = dockerbuild.stream_build(engine, context, kwargs, log, echo=False)
        dockerbuild.prune_dangling(engine)
        return Built(image, spec, False, time.monotonic() - started)
