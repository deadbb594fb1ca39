"""Base images made without pulling: Debian from its packages, CPython from the host.

No container registry is reachable on these machines, so ``python:X.Y-slim``
cannot be pulled. Instead:

1. ``debootstrap --variant=minbase`` makes a Debian bookworm root filesystem
   from the mirror named in the machine's apt sources, with the shared
   libraries CPython links against (images/base/packages.txt). The result is
   kept as a tarball under ``.cache/images/`` and imported once as
   ``lambda-sigterm-lab-debian:bookworm``.
2. For each Python version, the interpreter ``harness.provision.interpreters`` finds on
   the host (pyenv, PATH, uv, LAB_PYTHON_XY) is copied into ``/usr/local``
   (its libpython too, for an --enable-shared build) and checked inside the
   image (images/base/check_python.py): ``lambda-sigterm-lab-base:pyX.Y``.

Every image carries a label with a digest of its inputs and is rebuilt only
when they change. The interpreter's files are fingerprinted by path, size and
mtime (hashing 150 MB on every run would cost more than it guards against).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tarfile
import tempfile
from pathlib import Path
from typing import Any, Dict, Iterator, List, Tuple

from harness.images import engine as dockerbuild
from harness.images.spec import (
    BASE_REPOSITORY,
    DEBIAN_IMAGE,
    DEBIAN_SUITE,
    base_build_kwargs,
    debian_import_changes,
    debian_mirror,
    debootstrap_argv,
    digest,
)
from harness.paths import IMAGES_DIR
from harness.provision.interpreters import Interpreter, find_interpreter, where_searched

BASE_DIR = IMAGES_DIR / "base"
APT_SOURCES = (Path("/etc/apt/sources.list"), Path("/etc/apt/sources.list.d"))
# Left out of the copied prefix: tests, third-party packages (the host's
# site-packages may hold anything), static libraries, headers, docs, Tk.
_DROP = re.compile(
    r"^(include|share)(/|$)"
    r"|^lib/python3\.[0-9]+/(test|idlelib|tkinter|turtledemo|lib2to3/tests)(/|$)"
    r"|^lib/python3\.[0-9]+/site-packages/."
    r"|^lib/python3\.[0-9]+/config-[^/]*/.*\.a$"
    r"|^lib/python3\.[0-9]+/lib-dynload/_tkinter\."
    r"|\.a$"
)


class InterpreterMissing(dockerbuild.ImageBuildError):
    """No CPython X.Y on the host to copy into the base image; the message says how to add one."""


def packages(path: Path = BASE_DIR / "packages.txt") -> List[str]:
    lines = path.read_text(encoding="utf-8").splitlines()
    return sorted(line.strip() for line in lines if line.strip() and not line.startswith("#"))


def read_apt_sources(locations: Tuple[Path, ...] = APT_SOURCES) -> Dict[str, str]:
    """Path -> text of sources.list and sources.list.d/*.list, *.sources."""
    files: Dict[str, str] = {}
    for location in locations:
        paths = sorted(location.glob("*")) if location.is_dir() else [location]
        for path in paths:
            if path.is_file() and path.suffix in (".list", ".sources"):
                files[str(path)] = path.read_text(encoding="utf-8", errors="replace")
    return files


def keep_in_base(relative: str, is_dir: bool) -> bool:
    """Whether a path of the interpreter's prefix goes into the image. Pure."""
    if relative.startswith("bin/"):
        name = relative[len("bin/") :]
        # Console scripts carry the host prefix in their shebang; ensurepip
        # writes fresh pip ones in the image.
        return name.startswith("python") and not name.endswith(("-config", "-gdb.py"))
    return not _DROP.search(relative + "/" if is_dir else relative)


def prefix_members(prefix: Path) -> Iterator[Tuple[str, Path]]:
    """``(path relative to prefix, host path)`` of what is copied, parents first."""
    for root, dirs, files in os.walk(prefix):
        here = Path(root)
        rel_root = here.relative_to(prefix).as_posix()
        if rel_root != ".":
            yield rel_root + "/", here
        kept = []
        for name in sorted(dirs):
            rel = f"{rel_root}/{name}" if rel_root != "." else name
            if (here / name).is_symlink():
                files.append(name)  # copied as the link it is
            elif keep_in_base(rel, is_dir=True):
                kept.append(name)
        dirs[:] = kept
        for name in sorted(files):
            rel = f"{rel_root}/{name}" if rel_root != "." else name
            if keep_in_base(rel, is_dir=False):
                yield rel, here / name


def _interpreter_prefix(interpreter: Interpreter) -> Path:
    out = subprocess.run(
        [str(interpreter.path), "-c", "import sys; print(sys.base_prefix)"],
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    )
    return Path(out.stdout.strip()).resolve()


def debian_inputs() -> str:
    return digest(
        [
            ("suite", DEBIAN_SUITE.encode()),
            ("variant", b"minbase"),
            ("packages", "\n".join(packages()).encode()),
        ]
    )


def _rootfs_tarball(inputs: str, echo: bool) -> Path:
    """The debootstrapped rootfs as ``.cache/images/debian-bookworm-<inputs>.tar``."""
    cache = dockerbuild.images_cache()
    tarball = cache / f"debian-{DEBIAN_SUITE}-{inputs}.tar"
    if tarball.is_file():
        return tarball
    mirror = os.environ.get("LAB_DEBIAN_MIRROR") or debian_mirror(read_apt_sources())
    if not mirror:
        raise dockerbuild.ImageBuildError(
            "no Debian mirror in /etc/apt/sources.list{,.d/}; set LAB_DEBIAN_MIRROR"
        )
    if shutil.which("debootstrap") is None or os.geteuid() != 0:
        raise dockerbuild.ImageBuildError(
            "debootstrap (as root) makes the base image: sudo images/setup-docker.sh installs it"
        )
    staging = Path(tempfile.mkdtemp(prefix="rootfs-", dir=cache))
    log = cache / "debootstrap.log"
    try:
        if echo:
            print(f"[images] debootstrap {DEBIAN_SUITE} from {mirror} (log {log})", flush=True)
        with log.open("wb") as out:
            done = subprocess.run(
                debootstrap_argv(packages(), staging / "rootfs", mirror),
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                check=False,
            )
        if done.returncode != 0:
            tail = log.read_text(errors="replace").splitlines()[-20:]
            raise dockerbuild.ImageBuildError(
                f"debootstrap failed ({done.returncode}):\n" + "\n".join(tail)
            )
        rootfs = staging / "rootfs"
        for junk in ("var/cache/apt/archives", "var/lib/apt/lists"):
            for entry in (rootfs / junk).glob("*"):
                if entry.is_file():
                    entry.unlink()
        partial = staging / "rootfs.tar"
        with tarfile.open(partial, "w") as tar:
            for entry in sorted(rootfs.iterdir()):
                # /dev, /proc, /sys are the engine's to provide in a container.
                recursive = entry.name not in ("dev", "proc", "sys")
                tar.add(str(entry), arcname=entry.name, recursive=recursive)
        partial.rename(tarball)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return tarball


def ensure_debian(engine: Any, echo: bool = True) -> Any:
    """``lambda-sigterm-lab-debian:bookworm``, imported from the cached rootfs if needed."""
    inputs = debian_inputs()
    image = dockerbuild.labelled_image(engine, DEBIAN_IMAGE)
    if dockerbuild.is_current(image, inputs):
        return image
    tarball = _rootfs_tarball(inputs, echo)
    repository, tag = DEBIAN_IMAGE.split(":")
    if echo:
        print(f"[images] docker import {tarball.name} -> {DEBIAN_IMAGE}", flush=True)
    engine.api.import_image_from_file(
        str(tarball), repository=repository, tag=tag, changes=debian_import_changes(inputs)
    )
    image = dockerbuild.labelled_image(engine, DEBIAN_IMAGE)
    if not dockerbuild.is_current(image, inputs):
        raise dockerbuild.ImageBuildError(f"docker import did not produce {DEBIAN_IMAGE}")
    return image


def _fingerprint(members: List[Tuple[str, Path]]) -> bytes:
    rows = []
    for rel, path in members:
        st = path.lstat()
        target = os.readlink(path) if path.is_symlink() else ""
        rows.append(f"{rel}\0{st.st_size}\0{st.st_mtime_ns}\0{st.st_mode:o}\0{target}")
    return "\n".join(rows).encode()


def base_tag(python: str) -> str:
    return f"{BASE_REPOSITORY}:py{python}"


def ensure_base(engine: Any, python: str, echo: bool = True) -> Tuple[Any, Interpreter]:
    """``lambda-sigterm-lab-base:pyX.Y`` from the host's CPython X.Y; built when stale."""
    interpreter = find_interpreter(python)
    if interpreter is None:
        raise InterpreterMissing(where_searched(python))
    debian = ensure_debian(engine, echo)
    prefix = _interpreter_prefix(interpreter)
    members = list(prefix_members(prefix))
    dockerfile = (BASE_DIR / "Dockerfile").read_bytes()
    check = (BASE_DIR / "check_python.py").read_bytes()
    inputs = digest(
        [
            ("debian", str(debian.id).encode()),
            ("python", f"{interpreter.full_version} {prefix}".encode()),
            ("Dockerfile", dockerfile),
            ("check_python.py", check),
            ("prefix", _fingerprint(members)),
        ]
    )
    tag = base_tag(python)
    image = dockerbuild.labelled_image(engine, tag)
    if dockerbuild.is_current(image, inputs):
        return image, interpreter
    if echo:
        print(
            f"[images] {tag}: CPython {interpreter.full_version} from {prefix} "
            f"({len(members)} files)",
            flush=True,
        )
    log = dockerbuild.images_cache() / f"build-base-py{python}.log"
    with tempfile.TemporaryFile(dir=dockerbuild.images_cache()) as context:
        dockerbuild.write_context(
            context,
            [("Dockerfile", dockerfile, 0o644), ("check_python.py", check, 0o644)],
            [(f"python/{rel.rstrip('/')}", path) for rel, path in members],
        )
        image = dockerbuild.stream_build(
            engine, context, base_build_kwargs(tag, inputs, interpreter.full_version), log, False
        )
    return image, interpreter
