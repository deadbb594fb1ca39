"""Scenario files: loading, validation errors (file, key, what was expected), cell expansion."""

from __future__ import annotations

from pathlib import Path

import pytest
from support.factories import good, write

from harness import probes
from harness.model.scenarios import ScenarioError, expand, load_cells, load_scenario
from harness.model.targets import load_targets
from harness.paths import PROJECT_ROOT


def test_expansion_is_the_product_with_overrides(tmp_path: Path, function_dir: Path) -> None:
    cells = expand(load_scenario(write(tmp_path, good(function_dir))))
    assert len(cells) == 2 * 2 * 2 * 2
    by_id = {c.id: c for c in cells}
    ric = by_id["py3.7-awslambdaric-2.2.1-env_unset-internal-signal-stop"]
    assert not ric.expectation.cleanup and ric.expectation.reason == "native next"
    assert ric.invocations == 2 and ric.cleanup_marker == "cleaning up"
    assert ric.function_dir == function_dir.resolve()
    assert ric.extensions_dir == (function_dir / "extensions").resolve()
    managed = by_id["py3.12-awslambdaric-4.2.2-env_AWS_Lambda_python3.12-internal-signal-idle"]
    assert managed.expectation.cleanup and managed.execution_env == "AWS_Lambda_python3.12"
    legacy = by_id["py3.7-legacy-requests-2.31.0-env_AWS_Lambda_python3.12-internal-signal-stop"]
    # The last matching override wins.
    assert legacy.expectation.reason == "pure Python recv"
    assert legacy.runtime_client == "legacy" and legacy.runtime_client_version == "requests-2.31.0"


def test_explicit_client_version_and_unset_env(tmp_path: Path, function_dir: Path) -> None:
    text = good(function_dir).replace('["awslambdaric", "legacy"]', '["awslambdaric==2.0.8"]')
    text = text.replace('execution_env = ["", "AWS_Lambda_python3.12"]\n', "")
    text = text.split("[[override]]")[0]
    cells = expand(load_scenario(write(tmp_path, text)))
    assert {c.runtime_client_version for c in cells} == {"2.0.8"}
    assert {c.execution_env for c in cells} == {None}
    assert cells[0].id == "py3.7-awslambdaric-2.0.8-env_unset-internal-signal-stop"


@pytest.mark.parametrize(
    ("old", "new", "key", "expected"),
    [
        ('name = "demo"', 'name = "Demo Name"', "'name'", "lower-case letters"),
        ('description = "a demo"\n', "", "'description'", "to be present"),
        ('handler = "app.handler"', 'handler = "handler"', "'handler'", "'module.function'"),
        ('handler = "app.handler"', 'handler = "nope.handler"', "'handler'", "a module file"),
        ("invocations = 2", "invocations = 0", "'invocations'", "at least 1"),
        ("invocations = 2", 'invocations = "2"', "'invocations'", "an integer"),
        ('python = ["3.7", "3.12"]', 'python = ["3.7", "py3.12"]', "'matrix.python'", '"3.8"'),
        ('python = ["3.7", "3.12"]', "python = []", "'matrix.python'", "non-empty list"),
        (
            'python = ["3.7", "3.12"]',
            'python = ["3.7", "3.7"]',
            "'matrix.python'",
            "each value once",
        ),
        (
            'extension = ["internal"]',
            'extension = ["intrnal"]',
            "'matrix.extension'",
            "none, internal, external",
        ),
        (
            'strategy = ["signal"]',
            'strategy = ["wakeup_fd"]',
            "'matrix.strategy'",
            "none, signal, wakeup-fd, layer",
        ),
        ('trigger = ["stop", "idle"]', 'trigger = ["kill"]', "'matrix.trigger'", "stop, idle"),
        (
            '"awslambdaric", "legacy"',
            '"awslambdaric", "ric"',
            "'matrix.runtime_client'",
            "awslambdaric, legacy",
        ),
        (
            '"awslambdaric", "legacy"',
            '"legacy==1.0"',
            "'matrix.runtime_client'",
            "without a version",
        ),
        (
            'strategy = ["signal"]',
            'strategy = ["signal"]\npythn = ["3.8"]',
            "'matrix.pythn'",
            "unknown key",
        ),
        ('trigger = ["stop", "idle"]\n', "", "'matrix.trigger'", "to be present"),
        ("cleanup = false", 'cleanup = "no"', "'expect.cleanup'", "true or false"),
        ('reason = "native next"\n', "", "'expect.reason'", "to be present"),
        (
            'source = "FACTS.md: The quirk being demonstrated"',
            'source = ""',
            "'expect.source'",
            "non-empty",
        ),
        (
            '{ execution_env = "AWS_Lambda_python3.12" }',
            '{ execution_env = "AWS_Lambda_python3.13" }',
            "'override[0].when.execution_env'",
            "a value of matrix.execution_env",
        ),
        (
            '{ runtime_client = "legacy" }',
            '{ runtme_client = "legacy" }',
            "'override[1].when.runtme_client'",
            "unknown key",
        ),
        ("invocations = 2", 'invocations = 2\ncolour = "red"', "'colour'", "unknown key"),
        ("invocations = 2", 'invocations = 2\nenv = "A=1"', "'env'", "a table"),
    ],
)
def test_mistakes_name_file_key_and_expectation(
    tmp_path: Path, function_dir: Path, old: str, new: str, key: str, expected: str
) -> None:
    text = good(function_dir)
    assert old in text
    path = write(tmp_path, text.replace(old, new, 1))
    with pytest.raises(ScenarioError) as err:
        expand(load_scenario(path))
    message = str(err.value)
    assert message.startswith(str(path) + ": ")
    assert key in message and expected in message


def test_missing_function_dir(tmp_path: Path, function_dir: Path) -> None:
    path = write(tmp_path, good(function_dir).replace(str(function_dir), str(tmp_path / "gone")))
    with pytest.raises(ScenarioError, match="'function_dir': expected an existing directory"):
        load_scenario(path)


def test_external_needs_an_extensions_dir(tmp_path: Path, function_dir: Path) -> None:
    (function_dir / "extensions").rmdir()
    text = good(function_dir).replace('extension = ["internal"]', 'extension = ["external"]')
    with pytest.raises(ScenarioError, match="'extensions_dir'"):
        load_scenario(write(tmp_path, text))


def test_unpinned_python_needs_an_explicit_version(tmp_path: Path, function_dir: Path) -> None:
    text = good(function_dir).replace('python = ["3.7", "3.12"]', 'python = ["3.6"]')
    with pytest.raises(ScenarioError, match=r"pinned version of awslambdaric for Python 3\.6"):
        expand(load_scenario(write(tmp_path, text)))


def test_bad_toml(tmp_path: Path) -> None:
    path = write(tmp_path, "name = \n")
    with pytest.raises(ScenarioError, match="not valid TOML"):
        load_scenario(path)


def test_load_cells_rejects_duplicates_and_empty_dirs(tmp_path: Path, function_dir: Path) -> None:
    with pytest.raises(ScenarioError, match="at least one scenario file"):
        load_cells(tmp_path)
    write(tmp_path, good(function_dir), "a.toml")
    write(tmp_path, good(function_dir), "b.toml")
    with pytest.raises(ScenarioError, match="name no other scenario uses"):
        load_cells(tmp_path / "scenarios")
    write(tmp_path, good(function_dir).replace('name = "demo"', 'name = "other"'), "b.toml")
    with pytest.raises(ScenarioError, match="declared by one scenario"):
        load_cells(tmp_path / "scenarios")


def test_the_default_matrix_is_every_deployment_target() -> None:
    cells = load_cells(PROJECT_ROOT / "scenarios", probes.check_settings)
    runnable = {t.name for t in load_targets() if t.has_cells}
    assert {c.target for c in cells} == runnable
    assert {(c.extension, c.strategy) for c in cells} == {
        (e, s) for e in ("internal", "external") for s in ("signal", "wakeup-fd")
    }
    managed = [c for c in cells if c.target.startswith("python3.") and c.python != "3.7"]
    assert managed and all(c.start == "managed" for c in managed)
    assert all(c.expectation.cleanup for c in cells if c.strategy == "wakeup-fd")


def test_the_experiments() -> None:
    cells = load_cells(PROJECT_ROOT / "scenarios" / "experiments", probes.check_settings)
    assert len(cells) >= 30
    assert {c.python for c in cells} >= {"3.7", "3.8", "3.12"}
    assert {c.trigger for c in cells} == {"stop", "idle", "timeout", "crash"}
    assert {c.extension for c in cells} == {"none", "internal", "external"}
    assert {c.strategy for c in cells} == {"signal", "wakeup-fd", "none"}
    assert {c.runtime_client for c in cells} == {"awslambdaric", "legacy"}
    for cell in cells:
        assert cell.expectation.reason and cell.expectation.source.startswith("FACTS.md")
        if cell.extension == "none" or cell.strategy == "none":
            assert not cell.expectation.cleanup, cell.id


def test_the_strategies_and_the_aws_demo() -> None:
    cells = load_cells(PROJECT_ROOT / "scenarios" / "strategies", probes.check_settings)
    cells += load_cells(
        PROJECT_ROOT / "examples" / "aws-graceful-shutdown" / "scenarios", probes.check_settings
    )
    by = {(c.scenario, c.target, c.extension, c.strategy): c for c in cells}
    assert {c.strategy for c in cells if c.scenario == "strategies"} == {
        "none",
        "signal",
        "wakeup-fd",
        "layer",
        "wrapper",
        "package",
        "execution-env",
        "lambda-sigterm",
    }
    # Layers reach managed runtimes only; AWS_EXECUTION_ENV set by hand, images only.
    assert by["strategies", "python3.8", "internal", "layer"].expectation.cleanup
    assert not by[
        "strategies", "custom image 3.8 (lambda)", "internal", "layer"
    ].expectation.cleanup
    assert by[
        "strategies", "custom image 3.8 (lambda)", "internal", "execution-env"
    ].expectation.cleanup
    assert not by["strategies", "python3.8", "internal", "execution-env"].expectation.cleanup
    assert not by["strategies", "python3.12", "internal", "none"].expectation.cleanup
    # AWS's demo, unmodified, gets its API Gateway event.
    demo = by["aws-graceful-shutdown", "python3.10", "none", "layer"]
    assert demo.expectation.cleanup and demo.shutdown_rule.rule == "internal-only"
    assert '"requestContext"' in demo.event and demo.handler == "app.lambda_handler"
    plain = by["aws-graceful-shutdown", "python3.10", "none", "signal"]
    assert not plain.expectation.cleanup and plain.shutdown_rule.rule == "no-extensions"


def test_an_override_may_match_how_the_runtime_starts(tmp_path: Path, function_dir: Path) -> None:
    text = good(function_dir).split("[[override]]")[0] + (
        '[[override]]\nwhen = { start = ["sideways"] }\n'
        'cleanup = true\nreason = "r"\nsource = "s"\n'
    )
    with pytest.raises(ScenarioError, match=r"when\.start'.*'managed', 'direct'"):
        load_scenario(write(tmp_path, text))


def test_an_event_must_be_a_json_object(tmp_path: Path, function_dir: Path) -> None:
    (tmp_path / "event.json").write_text("[1, 2]")
    text = f'event = "{tmp_path / "event.json"}"\n' + good(function_dir)
    with pytest.raises(ScenarioError, match="'event': expected a JSON object"):
        load_scenario(write(tmp_path, text))


def test_the_telemetry_libraries() -> None:
    cells = load_cells(PROJECT_ROOT / "scenarios" / "libraries", probes.check_settings)
    assert {c.scenario for c in cells} == {
        "opentelemetry-sdk",
        "opentelemetry-lambda",
        "sentry-sdk",
        "sentry-lambda",
    }
    assert {c.trigger for c in cells} == {"stop", "idle", "timeout"}
    assert {c.strategy for c in cells} == {"none", "signal", "wakeup-fd", "layer"}
    assert len({c.id for c in cells}) == len(cells)  # one folder, one run: ids are unique
    by = {(c.scenario, c.target, c.strategy, c.trigger): c for c in cells}
    image = "custom image 3.12 (lambda)"
    # A plain handler flushes only where it runs: at a timeout, or through the layer's watcher.
    assert not by["sentry-sdk", "python3.11", "signal", "stop"].expectation.cleanup
    assert by["sentry-sdk", "python3.11", "signal", "timeout"].expectation.cleanup
    assert by["sentry-sdk", "python3.11", "layer", "idle"].expectation.cleanup
    assert not by["opentelemetry-sdk", image, "layer", "stop"].expectation.cleanup
    assert by["opentelemetry-sdk", image, "wakeup-fd", "idle"].expectation.cleanup
    assert not by["opentelemetry-lambda", image, "none", "timeout"].expectation.cleanup
    for cell in cells:
        settings = dict(cell.probe_settings("collector") or {})
        assert settings["library"] in ("opentelemetry", "sentry") and settings["exports_source"]
        assert all("==" in p for p in cell.packages), cell.packages
