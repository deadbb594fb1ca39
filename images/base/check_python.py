"""Fail the base image build unless the copied CPython is whole (Python 3.7+, stdlib only).

Every shared library the interpreter and its extension modules need must
resolve, and the modules the lab and pip rely on must import.
"""

import glob
import os
import subprocess
import sys
import sysconfig
from typing import List

REQUIRED = (
    "_ctypes",
    "bz2",
    "ctypes",
    "curses",
    "decimal",
    "hashlib",
    "json",
    "lzma",
    "multiprocessing",
    "pyexpat",
    "readline",
    "select",
    "signal",
    "socket",
    "sqlite3",
    "ssl",
    "uuid",
    "zlib",
)


def unresolved_libraries() -> List[str]:
    dynload = os.path.join(sysconfig.get_path("platstdlib"), "lib-dynload")
    objects = [sys.executable, *sorted(glob.glob(os.path.join(dynload, "*.so")))]
    objects += glob.glob(os.path.join(sys.prefix, "lib", "libpython*.so*"))
    missing = []
    for path in objects:
        out = subprocess.run(["ldd", path], stdout=subprocess.PIPE, text=True, check=False)
        missing += [
            f"{path}: {line.strip()}" for line in out.stdout.splitlines() if "not found" in line
        ]
    return missing


def failed_imports() -> List[str]:
    failed = []
    for name in REQUIRED:
        try:
            __import__(name)
        except ImportError as exc:
            failed.append(f"import {name}: {exc}")
    return failed


def main() -> int:
    problems = unresolved_libraries() + failed_imports()
    openssl = getattr(sys.modules.get("ssl"), "OPENSSL_VERSION", "no ssl")
    print(f"[base] CPython {sys.version.split()[0]} at {sys.prefix}; {openssl}")
    for line in problems:
        print("[base] error: " + line, file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
