"""Load scenario files, check them whole, and expand them into cells.

A scenario file is data (TOML): the function to run, the matrix dimensions,
and the outcome it *expects*, with the reason and the FACTS.md section it
rests on. Every file is validated before any cell runs; a mistake raises
``ScenarioError`` naming the file, the key and what was expected.

```toml
name = "awslambdaric-internal-signal"
description = "..."
function_dir = "function"             # relative to the project root, or absolute
handler = "app.handler"
cleanup_marker = "[runtime] SIGTERM received: cleaning up"
invocations = 1                       # optional, default 1
idle_timeout_s = 1                    # optional: the idle trigger's timeout
extensions_dir = "function/extensions"  # optional: default <function_dir>/extensions
packages = ["pika"]                   # optional: the function's own packages (pins.toml)
event = "examples/x/event.json"       # optional: the invocation payload (a JSON object; the lab
                                      # adds its own keys: cell, invocation, lab_trigger)
tag = "slow"                          # optional: appended to cell ids, to tell apart scenarios
                                      # that share a matrix point (e.g. by a setting in [env])
[probes.broker]                       # optional: also judge the cell at the AMQP broker
messages_per_invocation = 10          # (settings are the probe's: harness/probes/)
[env]                                 # optional: extra environment for the sandbox
[matrix]
target = ["python3.12", "custom image 3.12 (lambda)"]  # targets.toml, or "all": decides
                                      # python, runtime_client, execution_env (then absent)
python = ["3.7", "3.8", "3.12"]
runtime_client = ["awslambdaric"]     # or "awslambdaric==2.2.1", "legacy"
execution_env = [""]                  # "" = unset
extension = ["internal"]              # none | internal | external
strategy = ["signal"]                 # harness/model/strategies.py: none | signal | wakeup-fd |
                                      # layer | wrapper | package | execution-env | lambda-sigterm
trigger = ["stop", "idle"]            # stop | idle | timeout | crash
[expect]
cleanup = false
reason = "..."
source = "FACTS.md: ..."
[[override]]                          # optional, applied in order, last match wins
when = { execution_env = "AWS_Lambda_python3.12" }  # matrix keys, and start (managed | direct)
cleanup = true
reason = "..."
source = "..."
```
"""

from __future__ import annotations

import itertools
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Tuple

import tomllib

from harness.errors import LabError
from harness.model import targets
from harness.model.cells import (
    EXTENSIONS,
    SHUTDOWN_MODEL_VARIABLE,
    SHUTDOWN_MODELS,
    STRATEGIES,
    TRIGGERS,
    Cell,
    Expectation,
)
from harness.model.clients import UnknownClient, parse_client, resolve_version
from harness.model.pins import PinError, load_pins
from harness.paths import PROJECT_ROOT

MATRIX_KEYS = (
    "target",
    "python",
    "runtime_client",
    "execution_env",
    "extension",
    "strategy",
    "trigger",
)
# A target (targets.toml) decides these three for its cells.
TARGET_DECIDES = ("python", "runtime_client", "execution_env")
TOP_KEYS = (
    "name",
    "description",
    "function_dir",
    "handler",
    "cleanup_marker",
    "invocations",
    "idle_timeout_s",
    "extensions_dir",
    "env",
    "matrix",
    "expect",
    "override",
    "packages",
    "probes",
    "tag",
    "event",
)
# Besides the matrix keys, an override may match how a target's runtime starts.
WHEN_KEYS = (*MATRIX_KEYS, "start")
STARTS = ("managed", "direct")
EXPECT_KEYS = ("cleanup", "reason", "source")

_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]*$")
_PYTHON = re.compile(r"^3\.[0-9]+$")
_HANDLER = re.compile(r"^[A-Za-z_][\w.]*\.[A-Za-z_]\w*$")


# Checks one probe's settings table: returns them as (key, value) pairs, or
# raises ValueError saying what is wrong. The probes layer supplies it
# (harness.probes.check_settings); scenarios know no particular probe.
ProbeCheck = Callable[[str, Mapping[str, Any]], Tuple[Tuple[str, Any], ...]]


def no_probes(name: str, settings: Mapping[str, Any]) -> Tuple[Tuple[str, Any], ...]:
    raise ValueError("a known probe (none are available here)")


class ScenarioError(LabError, ValueError):
    """A scenario file is wrong; the message says where and what was expected."""


@dataclass(frozen=True)
class Override:
    when: Tuple[Tuple[str, Tuple[str, ...]], ...]
    expectation: Expectation

    def matches(self, values: Mapping[str, str]) -> bool:
        return all(values[key] in allowed for key, allowed in self.when)


@dataclass(frozen=True)
class Scenario:
    path: Path
    name: str
    description: str
    function_dir: Path
    handler: str
    cleanup_marker: str
    invocations: int
    idle_timeout_s: float
    extensions_dir: Path
    env: Tuple[Tuple[str, str], ...]
    matrix: Tuple[Tuple[str, Tuple[str, ...]], ...]  # in MATRIX_KEYS order
    expect: Expectation
    overrides: Tuple[Override, ...]
    packages: Tuple[str, ...] = ()  # pinned requirements, "name==version"
    tag: str = ""
    event: str = ""  # the invocation payload's base, as compact JSON ("" for none)
    probes: Tuple[Tuple[str, Tuple[Tuple[str, Any], ...]], ...] = ()


class _Checker:
    """Reads one parsed file; every complaint names the file and the key."""

    def __init__(self, path: Path, data: Mapping[str, Any]) -> None:
        self.path = path
        self.data = data

    def fail(self, key: str, expected: str, got: object = None) -> ScenarioError:
        tail = "" if got is None else f", got {got!r}"
        return ScenarioError(f"{self.path}: key '{key}': expected {expected}{tail}")

    def table(self, key: str, value: object) -> Mapping[str, Any]:
        if not isinstance(value, dict):
            raise self.fail(key, "a table", value)
        return value

    def string(self, key: str, value: object, *, empty: bool = False) -> str:
        if not isinstance(value, str) or (not empty and not value.strip()):
            raise self.fail(key, "a non-empty string" if not empty else "a string", value)
        return value

    def no_unknown(self, key: str, table: Mapping[str, Any], known: Sequence[str]) -> None:
        for name in table:
            if name not in known:
                where = f"{key}.{name}" if key else name
                raise self.fail(where, "one of " + ", ".join(known) + " (unknown key)")

    def required(self, table: Mapping[str, Any], key: str, prefix: str = "") -> Any:
        if key not in table:
            raise self.fail(prefix + key, "to be present (it is missing)")
        return table[key]

    def expectation(self, key: str, table: Mapping[str, Any]) -> Expectation:
        cleanup = self.required(table, "cleanup", key + ".")
        if not isinstance(cleanup, bool):
            raise self.fail(key + ".cleanup", "true or false", cleanup)
        reason = self.string(key + ".reason", self.required(table, "reason", key + "."))
        source = self.string(key + ".source", self.required(table, "source", key + "."))
        return Expectation(cleanup=cleanup, reason=reason, source=source)

    def path_in_project(self, key: str, value: object) -> Path:
        text = self.string(key, value)
        path = Path(text)
        return path if path.is_absolute() else PROJECT_ROOT / path


def _string_list(check: _Checker, key: str, value: object) -> Tuple[str, ...]:
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list) or not items or not all(isinstance(v, str) for v in items):
        raise check.fail(key, "a non-empty list of strings", value)
    if len(set(items)) != len(items):
        raise check.fail(key, "each value once", value)
    return tuple(items)


def _matrix(check: _Checker, raw: Mapping[str, Any]) -> Dict[str, Tuple[str, ...]]:
    check.no_unknown("matrix", raw, MATRIX_KEYS)
    allowed = {"extension": EXTENSIONS, "strategy": STRATEGIES, "trigger": TRIGGERS}
    matrix: Dict[str, Tuple[str, ...]] = {}
    by_target = "target" in raw
    for key in MATRIX_KEYS:
        name = "matrix." + key
        if by_target and key in TARGET_DECIDES:
            if key in raw:
                raise check.fail(name, "to be absent: matrix.target decides it", raw[key])
            matrix[key] = ("",)
            continue
        if key == "target" and not by_target:
            matrix[key] = ("",)
            continue
        if key == "execution_env" and key not in raw:
            matrix[key] = ("",)
            continue
        values = _string_list(check, name, check.required(raw, key, "matrix."))
        for value in values:
            if key in allowed and value not in allowed[key]:
                raise check.fail(name, "values from " + ", ".join(allowed[key]), value)
            if key == "python" and not _PYTHON.match(value):
                raise check.fail(name, 'Python versions like "3.8"', value)
            if key == "runtime_client":
                try:
                    parse_client(value)
                except UnknownClient as err:
                    raise check.fail(name, str(err), value) from None
            if key == "execution_env" and value != value.strip():
                raise check.fail(name, "no surrounding spaces", value)
        if key == "target":
            try:
                chosen = targets.select(values, targets.load_targets())
            except targets.TargetError as err:
                raise check.fail(
                    name, 'target names from targets.toml, or "all"', str(err)
                ) from None
            values = tuple(t.name for t in chosen)
        matrix[key] = values
    return matrix


def _overrides(
    check: _Checker, raw: object, matrix: Mapping[str, Tuple[str, ...]]
) -> Tuple[Override, ...]:
    if not isinstance(raw, list):
        raise check.fail("override", "an array of tables ([[override]])", raw)
    overrides = []
    for index, item in enumerate(raw):
        key = f"override[{index}]"
        table = check.table(key, item)
        check.no_unknown(key, table, ("when", *EXPECT_KEYS))
        when_raw = check.table(key + ".when", check.required(table, "when", key + "."))
        if not when_raw:
            raise check.fail(key + ".when", "at least one matrix key")
        check.no_unknown(key + ".when", when_raw, WHEN_KEYS)
        when = []
        for dim, value in when_raw.items():
            values = _string_list(check, f"{key}.when.{dim}", value)
            # A target may be named even when this matrix runs fewer of them, so
            # that one file of expectations serves any selection of targets.
            if dim == "target":
                known = tuple(t.name for t in targets.load_targets())
            elif dim == "start":
                known = STARTS
            else:
                known = matrix[dim]
            for one in values:
                if one not in known:
                    raise check.fail(
                        f"{key}.when.{dim}",
                        "a value of matrix." + dim + " (" + ", ".join(map(repr, known)) + ")",
                        one,
                    )
            when.append((dim, values))
        overrides.append(Override(when=tuple(when), expectation=check.expectation(key, table)))
    return tuple(overrides)


def _handler_module_exists(function_dir: Path, handler: str) -> bool:
    module = Path(*handler.split(".")[:-1])
    return (function_dir / module.with_suffix(".py")).is_file() or (
        function_dir / module / "__init__.py"
    ).is_file()


def parse_scenario(path: Path, text: str, probe_check: ProbeCheck = no_probes) -> Scenario:
    """Validate one scenario file's text; ``path`` is named in errors."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise ScenarioError(f"{path}: not valid TOML: {err}") from None
    check = _Checker(path, data)
    check.no_unknown("", data, TOP_KEYS)

    name = check.string("name", check.required(data, "name"))
    if not _NAME.match(name):
        raise check.fail("name", "lower-case letters, digits, '.', '_' or '-'", name)
    description = check.string("description", check.required(data, "description"))
    function_dir = check.path_in_project("function_dir", check.required(data, "function_dir"))
    if not function_dir.is_dir():
        raise check.fail("function_dir", "an existing directory", str(function_dir))
    handler = check.string("handler", check.required(data, "handler"))
    if not _HANDLER.match(handler):
        raise check.fail("handler", "'module.function', e.g. 'app.handler'", handler)
    if not _handler_module_exists(function_dir, handler):
        raise check.fail("handler", f"a module file for {handler!r} in {function_dir}", handler)
    marker = check.string("cleanup_marker", check.required(data, "cleanup_marker"))

    invocations = data.get("invocations", 1)
    if isinstance(invocations, bool) or not isinstance(invocations, int) or invocations < 1:
        raise check.fail("invocations", "an integer of at least 1", invocations)
    idle = data.get("idle_timeout_s", 1)
    if isinstance(idle, bool) or not isinstance(idle, (int, float)) or not 0 < idle <= 60:
        raise check.fail("idle_timeout_s", "a number of seconds in (0, 60]", idle)

    env_raw = check.table("env", data.get("env", {}))
    env = tuple((k, check.string(f"env.{k}", v, empty=True)) for k, v in env_raw.items())
    model = dict(env).get(SHUTDOWN_MODEL_VARIABLE)
    if model is not None and model.strip().lower() not in SHUTDOWN_MODELS:
        raise check.fail(
            f"env.{SHUTDOWN_MODEL_VARIABLE}", "one of " + ", ".join(SHUTDOWN_MODELS), model
        )

    matrix = _matrix(check, check.table("matrix", check.required(data, "matrix")))

    extensions_dir: Path = function_dir / "extensions"
    if "extensions_dir" in data:
        extensions_dir = check.path_in_project("extensions_dir", data["extensions_dir"])
    if "external" in matrix["extension"] and not extensions_dir.is_dir():
        raise check.fail(
            "extensions_dir",
            "an existing directory of external extensions (matrix.extension has 'external')",
            str(extensions_dir),
        )

    expect_raw = check.table("expect", check.required(data, "expect"))
    check.no_unknown("expect", expect_raw, EXPECT_KEYS)
    expect = check.expectation("expect", expect_raw)
    overrides = _overrides(check, data.get("override", []), matrix)
    packages = _packages(check, data)
    probes = _probes(check, data, probe_check)
    tag = ""
    if "tag" in data:
        tag = check.string("tag", data["tag"])
        if not _NAME.match(tag):
            raise check.fail("tag", "lower-case letters, digits, '.', '_' or '-'", tag)
    event = _event(check, data)

    return Scenario(
        path=path,
        name=name,
        description=description,
        function_dir=function_dir.resolve(),
        handler=handler,
        cleanup_marker=marker,
        invocations=invocations,
        idle_timeout_s=float(idle),
        extensions_dir=extensions_dir.resolve(),
        env=env,
        matrix=tuple((key, matrix[key]) for key in MATRIX_KEYS),
        expect=expect,
        overrides=overrides,
        packages=packages,
        probes=probes,
        tag=tag,
        event=event,
    )


def _event(check: _Checker, data: Mapping[str, Any]) -> str:
    if "event" not in data:
        return ""
    path = check.path_in_project("event", data["event"])
    try:
        payload = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as err:
        raise check.fail("event", "a readable JSON file", f"{path}: {err}") from None
    if not isinstance(payload, dict):
        raise check.fail("event", "a JSON object", type(payload).__name__)
    return json.dumps(payload, sort_keys=True, separators=(",", ":"))


def _packages(check: _Checker, data: Mapping[str, Any]) -> Tuple[str, ...]:
    if "packages" not in data:
        return ()
    names = _string_list(check, "packages", data["packages"])
    pins = load_pins()
    try:
        return tuple(pins.requirement(name) for name in names)
    except PinError as err:
        raise check.fail("packages", f"packages pinned in pins.toml ({err})") from None


def _probes(
    check: _Checker, data: Mapping[str, Any], probe_check: ProbeCheck
) -> Tuple[Tuple[str, Tuple[Tuple[str, Any], ...]], ...]:
    if "probes" not in data:
        return ()
    probes = []
    for name, settings in check.table("probes", data["probes"]).items():
        table = check.table(f"probes.{name}", settings)
        try:
            probes.append((name, probe_check(name, table)))
        except ValueError as err:
            raise check.fail(f"probes.{name}", str(err)) from None
    return tuple(sorted(probes))


def expected_for(scenario: Scenario, values: Mapping[str, str]) -> Expectation:
    expectation = scenario.expect
    for override in scenario.overrides:
        if override.matches(values):
            expectation = override.expectation
    return expectation


def expand(scenario: Scenario) -> List[Cell]:
    """Every combination of the scenario's matrix, in declaration order."""
    keys = [key for key, _ in scenario.matrix]
    cells = []
    by_name = {t.name: t for t in targets.load_targets()}
    for combo in itertools.product(*(values for _, values in scenario.matrix)):
        values = dict(zip(keys, combo))
        target = by_name.get(values["target"])
        start = "direct"
        if target is not None:
            values["python"] = target.python
            values["execution_env"] = target.execution_env or ""
            values["runtime_client"] = target.client + (
                f"=={target.client_version}" if target.client_version else ""
            )
            start = target.start
        values["start"] = start  # an override may match it
        spec = parse_client(values["runtime_client"])
        version = resolve_version(spec, values["python"])
        if version is None:
            raise ScenarioError(
                f"{scenario.path}: key 'matrix.runtime_client': expected a pinned version of "
                f"{spec.name} for Python {values['python']} "
                f"(write '{spec.name}==X.Y.Z'), got {values['runtime_client']!r}"
            )
        cells.append(
            Cell(
                scenario=scenario.name,
                python=values["python"],
                runtime_client=spec.name,
                runtime_client_version=version,
                execution_env=values["execution_env"] or None,
                extension=values["extension"],
                strategy=values["strategy"],
                trigger=values["trigger"],
                invocations=scenario.invocations,
                function_dir=scenario.function_dir,
                handler=scenario.handler,
                cleanup_marker=scenario.cleanup_marker,
                extensions_dir=scenario.extensions_dir,
                idle_timeout_s=scenario.idle_timeout_s,
                env=scenario.env,
                expectation=expected_for(scenario, values),
                scenario_file=scenario.path,
                packages=scenario.packages,
                probes=scenario.probes,
                tag=scenario.tag,
                target=values["target"],
                start=start,
                event=scenario.event,
            )
        )
    return cells


def load_scenario(path: Path, probe_check: ProbeCheck = no_probes) -> Scenario:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise ScenarioError(f"{path}: cannot be read: {err}") from None
    return parse_scenario(path, text, probe_check)


def load_cells(directory: Path, probe_check: ProbeCheck = no_probes) -> List[Cell]:
    """All cells of every ``*.toml`` in ``directory``, or ScenarioError for the first mistake."""
    if not directory.is_dir():
        raise ScenarioError(f"{directory}: expected a directory of scenario files (*.toml)")
    paths = sorted(directory.glob("*.toml"))
    if not paths:
        raise ScenarioError(f"{directory}: expected at least one scenario file (*.toml)")
    names: Dict[str, Path] = {}
    owners: Dict[str, Path] = {}
    cells: List[Cell] = []
    for path in paths:
        scenario = load_scenario(path, probe_check)
        if scenario.name in names:
            raise ScenarioError(
                f"{path}: key 'name': expected a name no other scenario uses, "
                f"got {scenario.name!r} (also in {names[scenario.name]})"
            )
        names[scenario.name] = path
        for cell in expand(scenario):
            first: Optional[Path] = owners.get(cell.id)
            if first is not None:
                raise ScenarioError(
                    f"{path}: key 'matrix': expected each cell to be declared by one scenario, "
                    f"got {cell.id} again (first in {first}); split the files into separate "
                    "directories and pass --scenarios"
                )
            owners[cell.id] = path
            cells.append(cell)
    return cells
