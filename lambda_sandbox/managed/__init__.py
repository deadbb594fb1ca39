"""The managed Python runtime profile: start a function as a managed Lambda Python
runtime starts it, rather than as ``python -m awslambdaric HANDLER`` in a custom image.

Two files, written from the documented behaviour: ``bootstrap`` (POSIX sh: sets
``AWS_EXECUTION_ENV=AWS_Lambda_pythonX.Y`` and starts the interpreter, through
``AWS_LAMBDA_EXEC_WRAPPER`` when it is set) and ``bootstrap.py`` (``sys.path``
with the task root and the layers' directories, ``.pth`` files, then
awslambdaric). The sandbox selects the profile with
``python -m lambda_sandbox --managed-python PYTHON [--] HANDLER``; the runtime
command it then runs is ``runtime_command(...)``.
"""

from __future__ import annotations

import os
from typing import List


def startup_script() -> str:
    """The path of the startup script (it travels with the package, into images too)."""
    return os.path.join(os.path.dirname(os.path.abspath(__file__)), "bootstrap")


def runtime_command(python: str, handler: str, opt_dir: str) -> List[str]:
    """The runtime command of the managed profile.

    Run with ``sh`` so that the script's mode bits do not matter. ``python`` is
    the interpreter that runs the function (a name on PATH or a path; it needs
    awslambdaric), ``opt_dir`` the directory that plays /opt. The handler comes
    last: the sandbox takes the command's last word as ``_HANDLER``.
    """
    return ["sh", startup_script(), "--python", python, "--opt-dir", opt_dir, handler]
