"""The managed Python runtime's ``bootstrap.py``, replayed from its documented behaviour.

Run by the startup script next to it (``PYTHON bootstrap.py --opt-dir DIR``)
on the function's own interpreter, so it uses the standard library and
awslambdaric only and runs on CPython 3.7 and later. It sets ``sys.path`` as
the managed runtime does, makes ``.pth`` files in the task root run, then
hands over to awslambdaric exactly as ``python -m awslambdaric HANDLER``
would. Importing it does nothing (the tests import its pure parts).
"""

from __future__ import annotations

import argparse
import os
import site
import sys
from typing import Any, List, Optional, Sequence

DEFAULT_OPT_DIR = "/opt"


def layer_paths(opt_dir: str, version: str) -> List[str]:
    """Where a layer's Python packages are found: ``python/lib/pythonX.Y/site-packages``
    first, then ``python``, both under the directory that plays /opt."""
    python = os.path.join(opt_dir, "python")
    return [os.path.join(python, "lib", "python" + version, "site-packages"), python]


def search_path_prefix(
    task_root: str, opt_dir: str, pythonpath: Optional[str], version: str
) -> List[str]:
    """The entries the managed runtime puts in front of ``sys.path``, in order.

    The task root comes first, so the function's own copy of a module wins over
    a layer's and the runtime's. The layers' directories are added only when
    ``PYTHONPATH`` is unset (``None``; an empty value counts as set): a
    function that sets PYTHONPATH takes charge of its search path, and layers
    are then found only if it names them.
    """
    prefix = [task_root]
    if pythonpath is None:
        prefix += layer_paths(opt_dir, version)
    return prefix


def site_directories(
    task_root: str, opt_dir: str, pythonpath: Optional[str], version: str
) -> List[str]:
    """The directories whose ``.pth`` files the managed runtime runs, in order.

    The real bootstrap.py (``add_default_site_directories``) calls
    ``site.addsitedir`` on the task root, and, only when ``PYTHONPATH`` is
    unset, on the layers' ``python/lib/pythonX.Y/site-packages`` and ``python``:
    the same entries as ``search_path_prefix``, so a layer's ``.pth`` runs too.
    """
    return search_path_prefix(task_root, opt_dir, pythonpath, version)


def parse_opt_dir(argv: Sequence[str]) -> str:
    """The ``--opt-dir DIR`` the startup script passes (default /opt); bad arguments
    exit 2 with a usage line."""
    parser = argparse.ArgumentParser(prog="bootstrap.py", allow_abbrev=False)
    parser.add_argument("--opt-dir", default=DEFAULT_OPT_DIR, help="the directory that plays /opt")
    return str(parser.parse_args(list(argv)).opt_dir)


def awslambdaric_args(program: str, handler: Optional[str]) -> List[str]:
    """The argv awslambdaric's ``main`` reads (``args[1]`` is the handler, in every
    release); without a handler awslambdaric itself reports "Handler not set"."""
    return [program] + ([handler] if handler else [])


# awslambdaric's __main__, once main() has imported it (where the real bootstrap keeps it).
awslambdaricmain: Any = None


def main(argv: Optional[Sequence[str]] = None) -> None:
    # The managed runtime's bootstrap.py imports awslambdaric first, as a
    # module global, `import awslambdaric.__main__ as awslambdaricmain` (the
    # python3.11 runtime's /var/runtime/bootstrap.py; tracebacks show
    # `awslambdaricmain.main([...])`): the bundled client, before the task
    # root is on sys.path. Libraries find the runtime through that name
    # (sentry-sdk's AwsLambdaIntegration looks for __main__.awslambdaricmain).
    global awslambdaricmain
    try:
        import awslambdaric.__main__ as awslambdaricmain
    except ImportError as exc:
        sys.stderr.write(f"bootstrap.py: cannot import awslambdaric on {sys.executable}: {exc}\n")
        sys.exit(1)
    opt_dir = parse_opt_dir(sys.argv[1:] if argv is None else argv)
    task_root = os.environ.get("LAMBDA_TASK_ROOT") or os.getcwd()
    version = "{}.{}".format(*sys.version_info[:2])
    pythonpath = os.environ.get("PYTHONPATH")
    sys.path[0:0] = search_path_prefix(task_root, opt_dir, pythonpath, version)
    # These are on sys.path already, so addsitedir does not add them again; it
    # runs their .pth files, as the managed runtime does (a layer's too).
    for directory in site_directories(task_root, opt_dir, pythonpath, version):
        site.addsitedir(directory)
    awslambdaricmain.main(awslambdaric_args(sys.argv[0], os.environ.get("_HANDLER")))


if __name__ == "__main__":
    main()
