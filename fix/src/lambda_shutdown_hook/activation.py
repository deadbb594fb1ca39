"""Whether this process should switch the hook on: a pure decision from its environment.

The hook is imported by a ``.pth`` file, so it runs in *every* Python process
that sees that site directory: the Lambda runtime, but also external
extensions written in Python, subprocesses the function starts, and tools on
a developer's machine. Only the runtime process of a Lambda execution
environment is changed; everywhere else importing the hook does nothing.
"""

from __future__ import annotations

import os
from typing import Mapping, Optional

# Set to off / 0 / false / no to disable the hook without removing it.
SWITCH_VARIABLE = "LAMBDA_SHUTDOWN_HOOK"
# The pid the hook is active in; a child process inherits it and so knows it
# is not the runtime (subprocess, multiprocessing spawn, os.exec).
OWNER_VARIABLE = "_LAMBDA_SHUTDOWN_HOOK_PID"
_OFF = ("0", "off", "false", "no")


def refusal(env: Mapping[str, str], pid: int, argv0: str = "") -> Optional[str]:
    """Why the hook must stay off in a process with ``env``, ``pid`` and ``sys.argv[0]``;
    None to switch it on."""
    if env.get(SWITCH_VARIABLE, "").strip().lower() in _OFF:
        return f"disabled by {SWITCH_VARIABLE}={env[SWITCH_VARIABLE]}"
    if not env.get("AWS_LAMBDA_RUNTIME_API"):
        return "not in a Lambda execution environment (AWS_LAMBDA_RUNTIME_API is unset)"
    # Lambda gives external extensions neither the handler nor the task root
    # (AWS's emulator: runtime-only variables), but a container image's ENV may
    # set LAMBDA_TASK_ROOT for every process: an extension is also known by
    # where it lives (/opt/extensions/NAME).
    if not env.get("_HANDLER") and not env.get("LAMBDA_TASK_ROOT"):
        return "not the runtime process (_HANDLER and LAMBDA_TASK_ROOT are unset: an extension?)"
    if os.path.basename(os.path.dirname(argv0)).endswith("extensions"):
        return f"not the runtime process ({argv0} is an external extension)"
    # A runtime is a script or a module (bootstrap.py, python -m awslambdaric);
    # a one-off `python -c` (a wrapper script's probe, say) must not register an
    # extension it will never serve: Lambda's init would wait for it.
    if argv0 == "-c":
        return "not the runtime process (a python -c command)"
    owner = env.get(OWNER_VARIABLE, "")
    if owner and owner != str(pid):
        return f"a process started by the runtime (the hook is active in pid {owner})"
    return None
