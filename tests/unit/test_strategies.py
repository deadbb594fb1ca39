"""The strategies, as data: what each one adds around the function, and where it takes effect."""

from __future__ import annotations

from pathlib import Path

import pytest
from support.factories import cell

from harness.backends.process import sandbox_env
from harness.images.container import LAYER_DIR, USER_BASE, run_kwargs
from harness.model.cells import STRATEGIES, cell_environment, layer_environment
from harness.model.strategies import (
    ALLOWLISTED_EXECUTION_ENV,
    FIX_PACKAGE,
    effective_extension,
)
from harness.model.strategies import (
    STRATEGIES as TABLE,
)


def test_every_strategy_a_scenario_may_name_is_in_the_table() -> None:
    assert tuple(TABLE) == STRATEGIES
    assert {
        "none",
        "signal",
        "wakeup-fd",
        "layer",
        "wrapper",
        "package",
        "execution-env",
        "lambda-sigterm",
    } == set(STRATEGIES)


@pytest.mark.parametrize(
    ("strategy", "start", "extension", "runs_with"),
    [
        ("signal", "managed", "none", "none"),  # AWS's sample alone: no extension, no SIGTERM
        ("layer", "managed", "none", "internal"),  # the layer registers one
        ("layer", "direct", "none", "none"),  # images do not load layers
        ("wrapper", "direct", "none", "none"),  # nor run AWS_LAMBDA_EXEC_WRAPPER
        ("package", "direct", "none", "internal"),
        ("lambda-sigterm", "direct", "none", "internal"),
        ("execution-env", "direct", "none", "none"),
        ("layer", "managed", "external", "external"),  # an external one decides the rule
    ],
)
def test_strategies_that_register_an_extension_change_the_shutdown_rule(
    strategy: str, start: str, extension: str, runs_with: str
) -> None:
    assert effective_extension(extension, strategy, start) == runs_with
    assert (
        cell(strategy=strategy, start=start, extension=extension).shutdown_rule.rule
        == {
            "none": "no-extensions",
            "internal": "internal-only",
            "external": "external",
        }[runs_with]
    )


def test_the_function_is_told_its_own_part_of_the_strategy() -> None:
    assert cell_environment(cell(strategy="layer"))["LAB_STRATEGY"] == "signal"
    assert cell_environment(cell(strategy="lambda-sigterm"))["LAB_STRATEGY"] == "lambda-sigterm"
    assert cell_environment(cell(strategy="wakeup-fd"))["LAB_STRATEGY"] == "wakeup-fd"


def test_execution_env_strategy_overrides_the_targets_value() -> None:
    env = cell_environment(cell(strategy="execution-env", execution_env="AWS_Lambda_Image"))
    assert env["AWS_EXECUTION_ENV"] == ALLOWLISTED_EXECUTION_ENV


def test_only_layer_strategies_get_an_opt_dir_and_only_wrapper_the_wrapper() -> None:
    assert layer_environment(cell(strategy="package"), "/x") == {}
    assert layer_environment(cell(strategy="layer"), "/x") == {"LAMBDA_SANDBOX_OPT_DIR": "/x"}
    assert layer_environment(cell(strategy="wrapper"), "/x") == {
        "LAMBDA_SANDBOX_OPT_DIR": "/x",
        "AWS_LAMBDA_EXEC_WRAPPER": "/x/lambda-shutdown-hook",
    }


def test_package_strategies_name_their_packages() -> None:
    assert TABLE["package"].packages == (FIX_PACKAGE,)
    assert TABLE["lambda-sigterm"].packages == ("lambda-sigterm", "urllib3")


def test_the_process_backend_points_the_sandbox_at_the_layer(tmp_path: Path) -> None:
    env = sandbox_env(cell(strategy="wrapper"), tmp_path, "label", {}, layer=Path("/cache/layer"))
    assert env["LAMBDA_SANDBOX_OPT_DIR"] == "/cache/layer"
    assert env["AWS_LAMBDA_EXEC_WRAPPER"] == "/cache/layer/lambda-shutdown-hook"
    plain = sandbox_env(cell(strategy="signal"), tmp_path, "label", {})
    assert "LAMBDA_SANDBOX_OPT_DIR" not in plain and "AWS_LAMBDA_EXEC_WRAPPER" not in plain


def test_a_container_gets_the_layer_and_the_packages_read_only(tmp_path: Path) -> None:
    kwargs = run_kwargs(
        cell(strategy="wrapper"),
        "img",
        tmp_path,
        "s",
        "host",
        layer=Path("/cache/layer"),
        user_base=Path("/cache/userbase"),
    )
    assert kwargs["volumes"]["/cache/layer"] == {"bind": LAYER_DIR, "mode": "ro"}
    assert kwargs["volumes"]["/cache/userbase"] == {"bind": USER_BASE, "mode": "ro"}
    env = kwargs["environment"]
    assert env["LAMBDA_SANDBOX_OPT_DIR"] == LAYER_DIR
    assert env["AWS_LAMBDA_EXEC_WRAPPER"] == f"{LAYER_DIR}/lambda-shutdown-hook"
    assert env["PYTHONUSERBASE"] == USER_BASE
