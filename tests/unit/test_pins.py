"""pins.toml is the one place versions are pinned; what cannot read it agrees with it."""

from __future__ import annotations

import re

import pytest

from harness.model.clients import parse_client, requirements, resolve_version
from harness.model.pins import PinError, load_pins, parse_pins
from harness.paths import PROJECT_ROOT
from lambda_sandbox.amqp_protocol import PIKA_PIN


def test_the_pins_file_parses_and_names_what_the_matrix_needs() -> None:
    pins = load_pins()
    assert {"3.7", "3.8", "3.12"} <= set(pins.pythons)
    assert pins.requirement("pika").startswith("pika==")


def test_the_clients_resolve_through_the_pins() -> None:
    pins = load_pins()
    assert resolve_version(parse_client("awslambdaric"), "3.8") == pins.awslambdaric_for("3.8")
    assert resolve_version(parse_client("legacy"), "3.7") == f"requests-{pins.version('requests')}"
    assert resolve_version(parse_client("awslambdaric"), "2.7") is None
    assert requirements("awslambdaric", "2.2.1", ("pika==1.3.2",)) == (
        "awslambdaric==2.2.1",
        "pika==1.3.2",
    )


def test_the_hosts_requirements_and_the_sandboxs_hint_agree_with_the_pins() -> None:
    # Neither can read pins.toml: requirements.txt is pip's, the sandbox is stdlib-only 3.7.
    pika = load_pins().version("pika")
    host = (PROJECT_ROOT / "requirements.txt").read_text(encoding="utf-8")
    assert re.search(rf"^pika=={re.escape(pika)}$", host, re.M), "requirements.txt pika"
    assert pika == PIKA_PIN, "lambda_sandbox/amqp_protocol.py PIKA_PIN"


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("[awslambdaric]\n'3.8' = '2.2.1'\n", r"\[packages\]: expected a table"),
        ("[awslambdaric]\n'3.8' = 'latest'\n[packages]\nx = '1.0'\n", 'expected "X.Y.Z"'),
        ("[awslambdaric]\npy38 = '2.2.1'\n[packages]\nx = '1.0'\n", "keys are CPython versions"),
        ("[other]\n", "unknown sections"),
        ("not toml", "not valid TOML"),
    ],
)
def test_a_bad_pins_file_says_what_is_wrong(text: str, error: str) -> None:
    with pytest.raises(PinError, match=error):
        parse_pins(text, "pins.toml")


def test_an_unpinned_package_is_named() -> None:
    with pytest.raises(PinError, match="no pin for package 'left-pad'"):
        load_pins().requirement("left-pad")


def test_constraints_pin_every_dependency_except_what_is_asked_for() -> None:
    pins = parse_pins(
        "[awslambdaric]\n'3.12' = '4.2.2'\n"
        "[packages]\nrequests = '2.31.0'\nurllib3 = '1.26.20'\nsentry-sdk = '2.75.0'\n"
        "[dependencies]\nurllib3 = '2.0.7'\nTyping_Extensions = '4.16.0'\n",
        "test-pins",
    )
    # A dependency's pin wins over a package pin of the same name; what is asked for is left out.
    assert pins.constraints(["sentry-sdk==2.75.0"]) == (
        "requests==2.31.0",
        "Typing_Extensions==4.16.0",
        "urllib3==2.0.7",
    )
    assert "urllib3==2.0.7" not in pins.constraints(["lambda-sigterm==0.1.2", "urllib3==1.26.20"])
    assert (
        parse_pins("[awslambdaric]\n'3.8' = '2.2.1'\n[packages]\nx = '1.0'\n", "p").dependencies
        == ()
    )


def test_the_dependency_pins_agree_with_the_images_constraints() -> None:
    # A function's packages land in a container beside the image's own requests stack.
    images = dict(
        line.split("==", 1)
        for line in (PROJECT_ROOT / "images" / "constraints.txt").read_text().splitlines()
        if "==" in line and not line.startswith("#")
    )
    for name, version in load_pins().dependencies:
        if name in images:
            assert version == images[name], name
