"""The environment variables a runtime or external extension process starts with.

Pure: the caller passes what is read from the world (the sandbox's own
environment, the clock, a random id) so that the result is a function of its
inputs and is tested without processes.
"""

from __future__ import annotations

import os
import time
from typing import Dict, Mapping, Sequence

from lambda_sandbox.config import Config, is_sandbox_variable

# The folder that holds the lambda_sandbox package: what `python -m
# lambda_sandbox` needs on PYTHONPATH (the project root on a host, /opt/lab in
# the images), and what the function must not get on its own path.
SANDBOX_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# Lambda's values for variables it defines but lets a function's configuration
# override ("unreserved"): kept when the caller set them (developer guide,
# "Defined runtime environment variables").
LAMBDA_DEFAULTS = {
    "LANG": "en_US.UTF-8",
    # Where Lambda keeps the runtime (/var/runtime); AWS base images set it too.
    "LAMBDA_RUNTIME_DIR": "/var/runtime",
}

# Never inherited: set per invocation by the runtime client from the
# Lambda-Runtime-Trace-Id header, so a value from the sandbox's own
# environment would be a stale trace before the first invocation.
PER_INVOCATION = ("_X_AMZN_TRACE_ID",)


def log_stream_name(function_version: str, now_s: float, unique_hex: str) -> str:
    """Lambda's log stream name: ``YYYY/MM/DD/[version]<32 hex digits>`` (UTC date)."""
    day = time.strftime("%Y/%m/%d", time.gmtime(now_s))
    return f"{day}/[{function_version}]{unique_hex}"


def without_path_entry(search_path: str, folder: str) -> str:
    """``search_path`` (``a:b:c``) without the entries naming ``folder``."""
    unwanted = os.path.normpath(folder)
    kept = [
        entry
        for entry in search_path.split(os.pathsep)
        if not (entry and os.path.normpath(entry) == unwanted)
    ]
    return os.pathsep.join(kept)


def function_variables(inherited: Mapping[str, str], sandbox_root: str) -> Dict[str, str]:
    """What the function keeps of the sandbox's environment: everything the caller set
    for it (``AWS_EXECUTION_ENV``, ``LAB_*``, ``PATH``, ``HOME``, ...), without the
    sandbox's own settings (config.SANDBOX_VARIABLES, ``LAMBDA_SANDBOX_*``) and
    without the sandbox's package folder on PYTHONPATH (dropped when nothing is left:
    a managed runtime's bootstrap adds /opt/python only when PYTHONPATH is unset)."""
    env = {
        name: value
        for name, value in inherited.items()
        if not is_sandbox_variable(name) and name not in PER_INVOCATION
    }
    if "PYTHONPATH" in env and sandbox_root:
        search_path = without_path_entry(env["PYTHONPATH"], sandbox_root)
        if search_path:
            env["PYTHONPATH"] = search_path
        else:
            del env["PYTHONPATH"]
    return env


def child_environment(
    config: Config,
    inherited: Mapping[str, str],
    runtime_api: str,
    runtime_cmd: Sequence[str],
    log_stream: str,
    sandbox_root: str = SANDBOX_ROOT,
) -> Dict[str, str]:
    """The child's environment: the function's variables from the sandbox's own
    (``inherited``, see ``function_variables``) plus Lambda's.

    Lambda's reserved variables win over inherited ones, except ``_HANDLER``: a
    caller's handler is kept, otherwise the runtime command's last argument is the
    handler (``python -m awslambdaric app.handler``). ``TZ`` is reserved (``:UTC``);
    ``LANG`` and ``LAMBDA_RUNTIME_DIR`` are Lambda's defaults unless the caller set
    them. ``_X_AMZN_TRACE_ID`` is per invocation: the runtime client sets it from the
    ``Lambda-Runtime-Trace-Id`` header of each invocation.
    """
    env = function_variables(inherited, sandbox_root)
    for name, value in LAMBDA_DEFAULTS.items():
        env.setdefault(name, value)
    env.update(
        {
            "AWS_LAMBDA_RUNTIME_API": runtime_api,
            "AWS_LAMBDA_FUNCTION_NAME": config.function_name,
            "AWS_LAMBDA_FUNCTION_VERSION": config.function_version,
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(config.memory_size_mb),
            "AWS_LAMBDA_LOG_GROUP_NAME": "/aws/lambda/" + config.function_name,
            "AWS_LAMBDA_LOG_STREAM_NAME": log_stream,
            "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
            "AWS_REGION": config.region,
            "AWS_DEFAULT_REGION": config.region,
            "LAMBDA_TASK_ROOT": config.task_root,
            "TZ": ":UTC",
        }
    )
    if "_HANDLER" not in env and runtime_cmd:
        env["_HANDLER"] = runtime_cmd[-1]
    return env
