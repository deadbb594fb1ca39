"""The environment variables a runtime or external extension process starts with.

Pure: the caller passes what is read from the world (the sandbox's own
environment, the clock, a random id) so that the result is a function of its
inputs and is tested without processes.
"""

from __future__ import annotations

import time
from typing import Dict, Mapping, Sequence

from lambda_sandbox.config import Config


def log_stream_name(function_version: str, now_s: float, unique_hex: str) -> str:
    """Lambda's log stream name: ``YYYY/MM/DD/[version]<32 hex digits>`` (UTC date)."""
    day = time.strftime("%Y/%m/%d", time.gmtime(now_s))
    return f"{day}/[{function_version}]{unique_hex}"


def child_environment(
    config: Config,
    inherited: Mapping[str, str],
    runtime_api: str,
    runtime_cmd: Sequence[str],
    log_stream: str,
) -> Dict[str, str]:
    """The child's environment: the sandbox's own (``inherited``) plus Lambda's variables.

    Inherited first, so that a caller's ``AWS_EXECUTION_ENV`` (or anything
    else) reaches the runtime; Lambda's variables win over inherited ones,
    except ``_HANDLER``: a caller's handler is kept, otherwise the runtime
    command's last argument is the handler (``python -m awslambdaric app.handler``).
    """
    env = dict(inherited)
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
        }
    )
    if "_HANDLER" not in env and runtime_cmd:
        env["_HANDLER"] = runtime_cmd[-1]
    return env
