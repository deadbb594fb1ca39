"""The sandbox's configuration, read from the environment (the Runtime API
Daemon's variable names, so its run scripts work unchanged)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Dict, Mapping, Optional, Tuple

LOG_LEVELS = ("debug", "info", "warn", "warning", "error")
SHUTDOWN_MODELS = ("docs", "emulator")  # lifecycle_events.ShutdownModel
SWITCH = {"1": True, "true": True, "on": True, "0": False, "false": False, "off": False}

# The sandbox's own settings: read by the sandbox (here, and AMQP_* in
# amqp_protocol.py), never seen by the function (child_env.py strips them, and
# every other LAMBDA_SANDBOX_* variable). The variables config.py reads that
# Lambda itself defines for the function (AWS_LAMBDA_FUNCTION_NAME, _VERSION,
# _MEMORY_SIZE, LAMBDA_TASK_ROOT, AWS_REGION, AWS_DEFAULT_REGION) are not here:
# the function gets Lambda's value of each (LAMBDA_VARIABLES).
# tests/unit/test_sandbox_child_env.py checks that every variable the sandbox
# reads is in exactly one of the two lists.
SANDBOX_PREFIX = "LAMBDA_SANDBOX_"
SANDBOX_VARIABLES = (
    "AWS_LAMBDA_FUNCTION_TIMEOUT",
    "AWS_LAMBDA_FUNCTION_IDLETIMEOUT",
    "INVOKE_API_HOST",
    "INVOKE_API_PORT",
    "RUNTIME_API_HOST",
    "RUNTIME_API_PORT",
    "LAMBDA_EXTENSIONS_DIR",
    "LOG_LEVEL",
    "MAX_CONCURRENCY",
    "AMQP_URI",
    "AMQP_USERNAME",
    "AMQP_PASSWORD",
    "LAMBDA_SANDBOX_EVENT_LOG",
    "LAMBDA_SANDBOX_INIT_TIMEOUT",
    "LAMBDA_SANDBOX_QUEUE_LIMIT",
    "LAMBDA_SANDBOX_CLIENT_TIMEOUT",
    "LAMBDA_SANDBOX_SHUTDOWN_MODEL",
    "LAMBDA_SANDBOX_FREEZE",
    "LAMBDA_SANDBOX_OPT_DIR",
    "LAMBDA_SANDBOX_EVENT_RETRY_DELAYS",
    "LAMBDA_SANDBOX_EVIDENCE_KEY",
    "LAMBDA_SANDBOX_MAX_CONNECTIONS",
    "LAMBDA_SANDBOX_EVENT_SPOOL",
)
LAMBDA_VARIABLES = (
    "AWS_LAMBDA_FUNCTION_NAME",
    "AWS_LAMBDA_FUNCTION_VERSION",
    "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
    "LAMBDA_TASK_ROOT",
    "AWS_REGION",
    "AWS_DEFAULT_REGION",
)


# The sandbox's secrets: scrubbed from what /proc/<sandbox>/environ shows once
# read (hardening.scrub_environ), never in a child's environment.
SECRET_VARIABLES = ("LAMBDA_SANDBOX_EVIDENCE_KEY", "AMQP_URI", "AMQP_PASSWORD")


def is_sandbox_variable(name: str) -> bool:
    return name in SANDBOX_VARIABLES or name.startswith(SANDBOX_PREFIX)


class ConfigError(ValueError):
    """A bad configuration value; the message names the variable."""


@dataclass(frozen=True)
class Config:
    function_name: str = "function"
    function_version: str = "$LATEST"
    timeout_s: float = 3.0
    memory_size_mb: int = 128
    idle_timeout_s: Optional[float] = None
    invoke_api_host: str = "127.0.0.1"
    invoke_api_port: int = 8080
    runtime_api_host: str = "127.0.0.1"
    runtime_api_port: int = 9001
    opt_dir: str = "/opt"
    extensions_dir: str = "/opt/extensions"
    log_level: str = "info"
    event_log: Optional[str] = None
    task_root: str = "."
    region: str = "us-east-1"
    init_timeout_s: float = 10.0
    max_concurrency: int = 1
    queue_limit: int = 100
    client_timeout_s: float = 60.0
    shutdown_model: str = "docs"
    freeze: bool = True
    # A failed Event invocation is retried after each of these delays (Lambda:
    # twice, about one and two minutes later; "Asynchronous invocation").
    event_retry_delays_s: Tuple[float, ...] = (60.0, 120.0)
    # Where Event invocations left unrun at stop are kept for the next start.
    event_spool: Optional[str] = None
    # Connections open at once over all the HTTP servers; None: from RLIMIT_NOFILE.
    max_connections: Optional[int] = None
    # Seals the event log (eventlog.seal); never logged, never in a child's environment.
    evidence_key: Optional[bytes] = field(default=None, repr=False)

    def describe(self) -> Dict[str, object]:
        return {
            "function_name": self.function_name,
            "function_version": self.function_version,
            "timeout_s": self.timeout_s,
            "memory_size_mb": self.memory_size_mb,
            "idle_timeout_s": self.idle_timeout_s,
            "opt_dir": self.opt_dir,
            "extensions_dir": self.extensions_dir,
            "task_root": self.task_root,
            "init_timeout_s": self.init_timeout_s,
            "max_concurrency": self.max_concurrency,
            "queue_limit": self.queue_limit,
            "shutdown_model": self.shutdown_model,
            "freeze": self.freeze,
            "event_retry_delays_s": list(self.event_retry_delays_s),
            "max_connections": self.max_connections,
            "event_spool": self.event_spool,
        }


def _delays(env: Mapping[str, str], name: str, default: Tuple[float, ...]) -> Tuple[float, ...]:
    """Up to two comma-separated delays in seconds; "none" for no retry."""
    if name not in env:
        return default
    raw = env[name].strip()
    if raw.lower() in ("", "none"):
        return ()
    try:
        delays = tuple(float(part) for part in raw.split(","))
    except ValueError:
        raise ConfigError(
            f"{name}={raw!r}: expected up to two delays in seconds, e.g. 60,120"
        ) from None
    if len(delays) > 2 or any(not 0 <= d <= 3600 for d in delays):
        raise ConfigError(f"{name}={raw!r}: expected up to two delays from 0 to 3600 seconds")
    return delays


def default_spool_path(event_log: Optional[str]) -> Optional[str]:
    """The spool beside the event log (``event-spool.jsonl``), or None without one."""
    if not event_log:
        return None
    return os.path.join(os.path.dirname(os.path.abspath(event_log)), "event-spool.jsonl")


def _spool(env: Mapping[str, str], name: str, event_log: Optional[str]) -> Optional[str]:
    """The Event spool's path: beside the event log by default, "none" for no spool."""
    raw = env.get(name, "").strip()
    if not raw:
        return default_spool_path(event_log)
    if raw.lower() == "none":
        return None
    folder = os.path.dirname(os.path.abspath(raw))
    if not os.path.isdir(folder):
        raise ConfigError(f"{name}={raw!r}: no such directory {folder!r}")
    return os.path.abspath(raw)


def _key(env: Mapping[str, str], name: str) -> Optional[bytes]:
    """A secret given as 32 to 128 hex digits (16 to 64 bytes), or None when unset."""
    raw = env.get(name, "").strip()
    if not raw:
        return None
    try:
        key = bytes.fromhex(raw)
    except ValueError:
        key = b""
    if not 16 <= len(key) <= 64:
        # Never echo a secret, even a malformed one.
        raise ConfigError(f"{name}: expected 32 to 128 hex digits ({len(raw)} characters given)")
    return key


def _number(env: Mapping[str, str], name: str, default: float, minimum: float) -> float:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{name}={raw!r}: expected a number of seconds") from None
    if value != value or value < minimum or value == float("inf"):
        raise ConfigError(f"{name}={raw!r}: expected a number >= {minimum}")
    return value


def _port(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    if not raw.isdigit() or int(raw) > 65535:
        raise ConfigError(f"{name}={raw!r}: expected a port number from 0 to 65535")
    return int(raw)


def _host(env: Mapping[str, str], name: str, default: str) -> str:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    if any(c.isspace() or c in "/:" for c in raw) and not raw.startswith("["):
        raise ConfigError(f"{name}={raw!r}: expected a host name or IP address")
    return raw.strip("[]")


def _count(env: Mapping[str, str], name: str, default: int, lowest: int, highest: int) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    if not raw.isdigit() or not lowest <= int(raw) <= highest:
        raise ConfigError(f"{name}={raw!r}: expected a whole number from {lowest} to {highest}")
    return int(raw)


def _choice(env: Mapping[str, str], name: str, default: str, allowed: Tuple[str, ...]) -> str:
    raw = env.get(name, "").strip().lower()
    if not raw:
        return default
    if raw not in allowed:
        raise ConfigError("{}={!r}: expected one of {}".format(name, raw, ", ".join(allowed)))
    return raw


def _switch(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = env.get(name, "").strip().lower()
    if not raw:
        return default
    if raw not in SWITCH:
        raise ConfigError(f"{name}={raw!r}: expected 1 or 0 (on or off)")
    return SWITCH[raw]


def _directory(env: Mapping[str, str], name: str, default: str, what: str) -> str:
    """An absolute directory path; a value that is set must name an existing directory
    (the default need not exist: no /opt on a host is no layers, not an error)."""
    raw = env.get(name, "").strip()
    if not raw:
        return default
    if not os.path.isdir(raw):
        raise ConfigError(f"{name}={raw!r}: no such directory (it plays {what})")
    return os.path.abspath(raw)


def load_config(env: Optional[Mapping[str, str]] = None, cwd: Optional[str] = None) -> Config:
    env = os.environ if env is None else env
    name = env.get("AWS_LAMBDA_FUNCTION_NAME", "").strip() or "function"
    if not all(c.isalnum() or c in "-_" for c in name) or len(name) > 64:
        raise ConfigError(
            f"AWS_LAMBDA_FUNCTION_NAME={name!r}: expected 1-64 letters, digits, '-' or '_'"
        )
    memory_raw = env.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "").strip()
    memory = 128
    if memory_raw:
        if not memory_raw.isdigit() or not 128 <= int(memory_raw) <= 10240:
            raise ConfigError(
                f"AWS_LAMBDA_FUNCTION_MEMORY_SIZE={memory_raw!r}: expected megabytes from 128 to 10240"
            )
        memory = int(memory_raw)
    idle_raw = env.get("AWS_LAMBDA_FUNCTION_IDLETIMEOUT", "").strip()
    idle = _number(env, "AWS_LAMBDA_FUNCTION_IDLETIMEOUT", 0.0, 0.001) if idle_raw else None
    log_level = env.get("LOG_LEVEL", "").strip().lower() or "info"
    if log_level not in LOG_LEVELS:
        raise ConfigError(
            "LOG_LEVEL={!r}: expected one of {}".format(log_level, ", ".join(LOG_LEVELS))
        )
    task_root = env.get("LAMBDA_TASK_ROOT", "").strip() or (cwd or os.getcwd())
    if not os.path.isdir(task_root):
        raise ConfigError(f"LAMBDA_TASK_ROOT={task_root!r}: no such directory")
    # The directory that plays /opt, where Lambda extracts layers: external
    # extensions in <opt>/extensions, Python packages in <opt>/python for the
    # managed profile (lambda_sandbox/managed). LAMBDA_EXTENSIONS_DIR still
    # overrides the extensions directory alone.
    opt_dir = _directory(env, "LAMBDA_SANDBOX_OPT_DIR", "/opt", "/opt, where layers are")
    event_log = env.get("LAMBDA_SANDBOX_EVENT_LOG", "").strip() or None
    return Config(
        function_name=name,
        function_version=env.get("AWS_LAMBDA_FUNCTION_VERSION", "").strip() or "$LATEST",
        timeout_s=_number(env, "AWS_LAMBDA_FUNCTION_TIMEOUT", 3.0, 0.001),
        memory_size_mb=memory,
        idle_timeout_s=idle,
        invoke_api_host=_host(env, "INVOKE_API_HOST", "127.0.0.1"),
        invoke_api_port=_port(env, "INVOKE_API_PORT", 8080),
        runtime_api_host=_host(env, "RUNTIME_API_HOST", "127.0.0.1"),
        runtime_api_port=_port(env, "RUNTIME_API_PORT", 9001),
        opt_dir=opt_dir,
        extensions_dir=env.get("LAMBDA_EXTENSIONS_DIR", "").strip()
        or os.path.join(opt_dir, "extensions"),
        log_level="warn" if log_level == "warning" else log_level,
        event_log=event_log,
        task_root=os.path.abspath(task_root),
        region=env.get("AWS_REGION", "").strip()
        or env.get("AWS_DEFAULT_REGION", "")
        or "us-east-1",
        init_timeout_s=_number(env, "LAMBDA_SANDBOX_INIT_TIMEOUT", 10.0, 0.001),
        max_concurrency=_count(env, "MAX_CONCURRENCY", 1, 1, 64),
        queue_limit=_count(env, "LAMBDA_SANDBOX_QUEUE_LIMIT", 100, 0, 100_000),
        client_timeout_s=_number(env, "LAMBDA_SANDBOX_CLIENT_TIMEOUT", 60.0, 0.001),
        shutdown_model=_choice(env, "LAMBDA_SANDBOX_SHUTDOWN_MODEL", "docs", SHUTDOWN_MODELS),
        freeze=_switch(env, "LAMBDA_SANDBOX_FREEZE", True),
        event_retry_delays_s=_delays(env, "LAMBDA_SANDBOX_EVENT_RETRY_DELAYS", (60.0, 120.0)),
        evidence_key=_key(env, "LAMBDA_SANDBOX_EVIDENCE_KEY"),
        event_spool=_spool(env, "LAMBDA_SANDBOX_EVENT_SPOOL", event_log),
        max_connections=(
            _count(env, "LAMBDA_SANDBOX_MAX_CONNECTIONS", 0, 8, 100_000)
            if env.get("LAMBDA_SANDBOX_MAX_CONNECTIONS", "").strip()
            else None
        ),
    )
