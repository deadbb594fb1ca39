"""Build lambda-shutdown-hook offline and reproducibly: the wheel, the sdist, the Lambda layer.

Standard library only, so it is its own PEP 517 backend (``pyproject.toml``:
``build-backend = "lsh_build"``, no build requirements: pip builds it with no
index) and a command line::

    python3 fix/lsh_build.py --out DIR     # DIR/<wheel> and DIR/<layer zip>

Same inputs, same bytes: entries sorted, every timestamp SOURCE_DATE_EPOCH
(default 1980-01-01, the earliest a zip can hold), fixed permissions, no
compression (its output would depend on the zlib at hand).

The layer follows Lambda's documented layout: ``python/`` (on the managed
runtimes' sys.path, and a site directory, so the ``.pth`` file runs) and, at
its root, the ``AWS_LAMBDA_EXEC_WRAPPER`` script ``lambda-shutdown-hook``.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import io
import os
import sys
import tarfile
import time
import zipfile
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

HERE = Path(__file__).resolve().parent
NAME = "lambda-shutdown-hook"
PACKAGE = "lambda_shutdown_hook"
VERSION = "0.1.0"
PTH = PACKAGE + ".pth"
WRAPPER = "lambda-shutdown-hook"
TAG = "py3-none-any"
DIST = f"{PACKAGE}-{VERSION}"
WHEEL_NAME = f"{DIST}-{TAG}.whl"
LAYER_NAME = f"{NAME}-layer-{VERSION}.zip"
FILE_MODE = 0o644
EXEC_MODE = 0o755
ZIP_EPOCH = 315532800  # 1980-01-01T00:00:00Z

Entry = Tuple[str, bytes, int]  # name in the archive, content, mode


def _epoch() -> int:
    raw = os.environ.get("SOURCE_DATE_EPOCH", "").strip()
    if not raw:
        return ZIP_EPOCH
    if not raw.isdigit():
        raise SystemExit(f"lsh_build: SOURCE_DATE_EPOCH={raw!r}: expected whole seconds")
    return max(int(raw), ZIP_EPOCH)  # a zip cannot hold a date before 1980


def sources(root: Path = HERE) -> List[Entry]:
    """The distribution's files as they lie in a site directory: the package and the .pth."""
    package = root / "src" / PACKAGE
    entries = [
        (f"{PACKAGE}/{path.name}", path.read_bytes(), FILE_MODE)
        for path in sorted(package.glob("*.py"))
    ]
    entries.append((PTH, (root / "src" / PTH).read_bytes(), FILE_MODE))
    return entries


def metadata(root: Path = HERE) -> bytes:
    readme = (root / "README.md").read_text(encoding="utf-8")
    lines = [
        "Metadata-Version: 2.1",
        "Name: " + NAME,
        "Version: " + VERSION,
        "Summary: AWS Lambda Python: the function's SIGTERM handler runs at shutdown, "
        "with no code change.",
        "License: MIT",
        "Requires-Python: >=3.7",
        "Description-Content-Type: text/markdown",
        "",
        readme,
    ]
    return "\n".join(lines).encode("utf-8")


def _record_hash(data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=")
    return "sha256=" + digest.decode("ascii")


def wheel_entries(root: Path = HERE) -> List[Entry]:
    info = DIST + ".dist-info"
    entries = sources(root)
    entries.append((info + "/METADATA", metadata(root), FILE_MODE))
    wheel = f"Wheel-Version: 1.0\nGenerator: lsh_build\nRoot-Is-Purelib: true\nTag: {TAG}\n"
    entries.append((info + "/WHEEL", wheel.encode("ascii"), FILE_MODE))
    entries.append((info + "/top_level.txt", (PACKAGE + "\n").encode("ascii"), FILE_MODE))
    record = "".join(f"{name},{_record_hash(data)},{len(data)}\n" for name, data, _ in entries)
    record += f"{info}/RECORD,,\n"
    entries.append((info + "/RECORD", record.encode("utf-8"), FILE_MODE))
    return entries


def layer_entries(root: Path = HERE) -> List[Entry]:
    entries = [("python/" + name, data, mode) for name, data, mode in sources(root)]
    entries.append((WRAPPER, (root / "layer" / WRAPPER).read_bytes(), EXEC_MODE))
    return entries


def write_zip(path: Path, entries: Sequence[Entry]) -> Path:
    stamp = time.gmtime(_epoch())[:6]
    buffer = io.BytesIO()
    # Sorted, except that a wheel's RECORD stays last, as installers expect.
    ordered = sorted(entries, key=lambda e: (e[0].endswith(".dist-info/RECORD"), e[0]))
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
        for name, data, mode in ordered:
            info = zipfile.ZipInfo(name, date_time=stamp)
            info.external_attr = (0o100000 | mode) << 16
            info.create_system = 3  # Unix, so the modes are honoured
            archive.writestr(info, data)
    path.write_bytes(buffer.getvalue())
    return path


def write_sdist(directory: Path, root: Path = HERE) -> Path:
    base = f"{PACKAGE}-{VERSION}"
    names = ["pyproject.toml", "README.md", "lsh_build.py", "layer/" + WRAPPER, "src/" + PTH]
    names += [f"src/{PACKAGE}/{p.name}" for p in sorted((root / "src" / PACKAGE).glob("*.py"))]
    files = [(n, (root / n).read_bytes()) for n in sorted(names)]
    files.append(("PKG-INFO", metadata(root)))
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, data in files:
            info = tarfile.TarInfo(f"{base}/{name}")
            info.size, info.mtime = len(data), _epoch()
            info.mode = EXEC_MODE if name.startswith("layer/") else FILE_MODE
            tar.addfile(info, io.BytesIO(data))
    target = directory / (base + ".tar.gz")
    with target.open("wb") as out:
        import gzip

        with gzip.GzipFile(fileobj=out, mode="wb", mtime=_epoch(), filename="") as gz:
            gz.write(raw.getvalue())
    return target


# -- PEP 517 ------------------------------------------------------------------


def get_requires_for_build_wheel(config_settings: Optional[Dict[str, Any]] = None) -> List[str]:
    return []


def get_requires_for_build_sdist(config_settings: Optional[Dict[str, Any]] = None) -> List[str]:
    return []


def build_wheel(
    wheel_directory: str,
    config_settings: Optional[Dict[str, Any]] = None,
    metadata_directory: Optional[str] = None,
) -> str:
    return write_zip(Path(wheel_directory) / WHEEL_NAME, wheel_entries()).name


def build_sdist(sdist_directory: str, config_settings: Optional[Dict[str, Any]] = None) -> str:
    return write_sdist(Path(sdist_directory)).name


# -- command line --------------------------------------------------------------


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def build_all(out: Path) -> Tuple[Path, Path]:
    """The wheel and the layer zip in ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    return write_zip(out / WHEEL_NAME, wheel_entries()), write_zip(
        out / LAYER_NAME, layer_entries()
    )


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(
        prog="lsh_build.py", description="build the lambda-shutdown-hook wheel and Lambda layer"
    )
    parser.add_argument("--out", default="dist", help="output folder (default: dist)")
    args = parser.parse_args(argv)
    for path in build_all(Path(args.out)):
        print(f"{sha256(path)}  {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
