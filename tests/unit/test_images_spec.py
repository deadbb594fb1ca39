"""The images' specs: build.args, pins, the template, the wheelhouse, the offline base. Pure."""

from __future__ import annotations

import json
from pathlib import Path
from typing import List, Tuple

import pytest
from support.factories import cell

from harness.images.base import keep_in_base
from harness.images.build import context_files
from harness.images.container import (
    EMPTY_EXTENSIONS_DIR,
    INVOKE_PORT_IN_CONTAINER,
    LAB_EXTENSIONS_DIR,
    LEGACY_RUNTIME,
    TASK_ROOT,
    image_spec,
)
from harness.images.spec import (
    INPUTS_LABEL,
    PROJECT_LABEL,
    ImageSpecError,
    build_args,
    debian_mirror,
    debootstrap_argv,
    digest,
    image_build_kwargs,
    load_specs,
    parse_build_args,
    pins_from_wheels,
    select_specs,
    spec_for,
    spec_from_args,
    wheel_download_args,
)
from harness.model.pins import load_pins, parse_pins
from harness.paths import IMAGES_DIR

# ---------------------------------------------------------------- image specs


def test_every_image_folder_is_one_small_build_args_file() -> None:
    specs = load_specs()
    assert {"py37", "py38", "py312"} <= set(specs)
    for name, spec in specs.items():
        assert sorted(p.name for p in (IMAGES_DIR / name).iterdir()) == ["build.args"]
        assert spec.tag == f"lambda-sigterm-lab:{name}"
        assert spec.base_tag == f"lambda-sigterm-lab-base:py{spec.python}"


def test_image_pins_come_from_pins_toml(tmp_path: Path) -> None:
    # The process backend's venvs and the images run the same versions: both read pins.toml.
    pins = parse_pins(
        '[awslambdaric]\n"3.8" = "2.0.10"\n[packages]\nrequests = "2.0.0"\npika = "1.0.0"\n',
        "test-pins",
    )
    (tmp_path / "py38").mkdir()
    (tmp_path / "py38" / "build.args").write_text("PYTHON_VERSION=3.8\n")
    spec = load_specs(tmp_path, pins)["py38"]
    assert (spec.awslambdaric, spec.requests, spec.pika) == ("2.0.10", "2.0.0", "1.0.0")
    for spec in load_specs().values():
        assert spec.awslambdaric == load_pins().awslambdaric_for(spec.python)
        assert spec.requests == load_pins().version("requests")


def test_adding_a_python_is_one_folder(tmp_path: Path) -> None:
    (tmp_path / "py313").mkdir()
    (tmp_path / "py313" / "build.args").write_text("# comment\nPYTHON_VERSION=3.13\n")
    specs = load_specs(tmp_path)
    assert spec_for("3.13", specs).tag == "lambda-sigterm-lab:py313"
    assert select_specs(["3.13"], specs) == select_specs(["py313"], specs) == [specs["py313"]]
    assert select_specs([], specs) == select_specs(["all"], specs) == [specs["py313"]]
    with pytest.raises(ImageSpecError, match=r"add images/py314/build.args"):
        spec_for("3.14", specs)


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("PYTHON_VERSION 3.13", "expected KEY=VALUE"),
        ("# nothing", "missing PYTHON_VERSION"),
        ("PYTHON_VERSION=3.12\nAWSLAMBDARIC_VERSION=4.2.2", "versions live in pins.toml"),
        ("PYTHON_VERSION=3.12\nEXTRA=1", "unknown EXTRA"),
        ("PYTHON_VERSION=3.12.1", "expected 3.N"),
    ],
)
def test_bad_build_args_say_what_is_wrong(tmp_path: Path, text: str, error: str) -> None:
    (tmp_path / "py312").mkdir()
    (tmp_path / "py312" / "build.args").write_text(text)
    with pytest.raises(ImageSpecError, match=error):
        load_specs(tmp_path)


def test_folder_must_match_the_python() -> None:
    args = parse_build_args("PYTHON_VERSION=3.8", "x")
    with pytest.raises(ImageSpecError, match="should be py38"):
        spec_from_args("py39", args, "x", load_pins())


def test_a_python_without_a_pinned_client_is_named(tmp_path: Path) -> None:
    (tmp_path / "py36").mkdir()
    (tmp_path / "py36" / "build.args").write_text("PYTHON_VERSION=3.6\n")
    with pytest.raises(ImageSpecError, match=r"pins no awslambdaric for Python 3\.6"):
        load_specs(tmp_path)


def test_another_client_version_is_its_own_image() -> None:
    specs = load_specs()
    assert image_spec(cell(python="3.8"), specs) is specs["py38"]
    other = image_spec(cell(python="3.8", runtime_client_version="2.0.10"), specs)
    assert other.tag == "lambda-sigterm-lab:py38-awslambdaric2.0.10"
    assert other.awslambdaric == "2.0.10" and other.python == "3.8"
    legacy = cell(python="3.12", runtime_client="legacy", runtime_client_version="requests-2.31.0")
    assert image_spec(legacy, specs) is specs["py312"]


def test_build_kwargs_label_the_image_and_need_no_network() -> None:
    spec = load_specs()["py312"]
    kwargs = image_build_kwargs(spec, "lambda-sigterm-lab-base:py3.12", "abc", ["a==1"], "3.12.1")
    assert kwargs["tag"] == "lambda-sigterm-lab:py312"
    assert kwargs["network_mode"] == "host" and kwargs["pull"] is False
    assert kwargs["forcerm"] is True and kwargs["custom_context"] is True
    assert kwargs["buildargs"]["BASE"] == "lambda-sigterm-lab-base:py3.12"
    assert kwargs["labels"][PROJECT_LABEL] == "lambda-sigterm-lab"
    assert kwargs["labels"][INPUTS_LABEL] == "abc"
    # Without an offline base the template's default (python:X.Y-slim) applies.
    assert "BASE" not in build_args(spec, None)


def test_wheelhouse_is_binary_for_the_images_python_and_platform(tmp_path: Path) -> None:
    spec = load_specs()["py37"]
    argv = wheel_download_args(spec, tmp_path, IMAGES_DIR / "constraints.txt")
    assert argv[0] == "download" and "--only-binary=:all:" in argv
    assert argv[argv.index("--python-version") + 1] == "3.7"
    assert argv[argv.index("--platform") + 1] == "manylinux2014_x86_64"
    assert argv[-3:] == ["awslambdaric==2.2.1", "requests==2.31.0", "pika==1.3.2"]
    assert pins_from_wheels(
        [
            "charset_normalizer-3.5.3-cp37-abi3-manylinux1_x86_64.whl",
            "awslambdaric-2.2.1-cp37-cp37m-manylinux2014_x86_64.whl",
        ]
    ) == ("awslambdaric==2.2.1", "charset-normalizer==3.5.3")
    with pytest.raises(ImageSpecError):
        pins_from_wheels(["notawheel.tar.gz"])


def test_digest_is_order_free_and_content_sensitive() -> None:
    a = digest([("x", b"1"), ("y", b"2")])
    assert a == digest([("y", b"2"), ("x", b"1")])
    assert a != digest([("x", b"1"), ("y", b"3")])
    assert a != digest([("x", b"2"), ("y", b"1")])


def test_context_has_the_sandbox_function_and_extension_without_caches(tmp_path: Path) -> None:
    (tmp_path / "a.whl").write_text("")
    names = [name for name, _ in context_files(tmp_path)]
    assert "wheelhouse/a.whl" in names and "lab/lambda_sandbox/cli.py" in names
    assert "lab/legacy_runtime.py" in names and "task/app.py" in names
    assert "extensions/lab-external-extension" in names
    assert not [n for n in names if "__pycache__" in n or n.endswith(".pyc")]
    assert not [n for n in names if n.startswith("task/extensions")]


def dockerfile_instructions(text: str) -> List[Tuple[str, str]]:
    """(INSTRUCTION, arguments) of a Dockerfile, continuation lines joined, comments dropped."""
    logical: List[str] = []
    pending = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        logical.append(pending + line)
        pending = ""
    return [(line.split(None, 1)[0].upper(), line.split(None, 1)[1]) for line in logical]


def test_template_copies_every_part_of_the_context_where_the_backend_looks() -> None:
    steps = dockerfile_instructions((IMAGES_DIR / "Dockerfile.template").read_text())
    copies = dict(tuple(args.split()) for op, args in steps if op == "COPY")
    # Every top-level folder the context is made of lands where the cell arguments expect it.
    parts = {name.split("/", 1)[0] + "/" for name, _ in context_files(Path("/nowhere"))}
    assert parts <= set(copies), f"context parts never copied: {parts - set(copies)}"
    assert copies["task/"].rstrip("/") == TASK_ROOT
    assert copies["extensions/"].rstrip("/") == LAB_EXTENSIONS_DIR
    assert LEGACY_RUNTIME.startswith(copies["lab/"])
    env = " ".join(args for op, args in steps if op == "ENV")
    assert f"LAMBDA_TASK_ROOT={TASK_ROOT}" in env
    assert f"INVOKE_API_PORT={INVOKE_PORT_IN_CONTAINER}" in env
    # The sandbox is the entry point and the runtime its argument: PID 1 reaps and shuts down.
    assert json.loads(dict(steps)["ENTRYPOINT"]) == ["python3", "-m", "lambda_sandbox", "--"]
    # Empty by default: only the internal extension registers unless a cell asks for more.
    run = " ".join(args for op, args in steps if op == "RUN")
    assert EMPTY_EXTENSIONS_DIR in run and "--no-index" in run


# ---------------------------------------------------------------- base image


SOURCES = """\
Types: deb
# http://snapshot.debian.org/archive/debian/20250520T000000Z
URIs: http://mirror.example/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: http://mirror.example/debian-security
Suites: bookworm-security
Components: main
"""


def test_debian_mirror_comes_from_the_apt_sources() -> None:
    vendor = "deb [signed-by=/k.gpg] https://vendor.example/apt cloud-sdk-bookworm main\n"
    files = {"/etc/apt/sources.list.d/vendor.list": vendor}
    assert debian_mirror(files) is None
    files["/etc/apt/sources.list.d/debian.sources"] = SOURCES
    assert debian_mirror(files) == "http://mirror.example/debian"
    one_line = {"/etc/apt/sources.list": "# x\ndeb http://other.example/debian bookworm main\n"}
    assert debian_mirror(one_line) == "http://other.example/debian"
    disabled = {"/x.sources": SOURCES.replace("Types: deb\n# http", "Enabled: no\nTypes: deb\n# h")}
    assert debian_mirror(disabled) is None
    argv = debootstrap_argv(["libssl3", "zlib1g"], Path("/r"), "http://m/debian")
    assert argv == [
        "debootstrap",
        "--variant=minbase",
        "--include=libssl3,zlib1g",
        "bookworm",
        "/r",
        "http://m/debian",
    ]


@pytest.mark.parametrize(
    ("path", "is_dir", "kept"),
    [
        ("bin/python3.12", False, True),
        ("bin/python3", False, True),
        ("bin/pip3", False, False),
        ("bin/python3.12-config", False, False),
        ("lib/libpython3.12.so.1.0", False, True),
        ("lib/python3.12/os.py", False, True),
        ("lib/python3.12/__pycache__/os.cpython-312.pyc", False, True),
        ("lib/python3.12/test", True, False),
        ("lib/python3.12/site-packages", True, True),
        ("lib/python3.12/site-packages/pip", True, False),
        ("lib/python3.12/site-packages/_sandboxing_egress_ca.pth", False, False),
        ("lib/python3.12/lib-dynload/_ssl.cpython-312-x86_64-linux-gnu.so", False, True),
        ("lib/python3.12/lib-dynload/_tkinter.cpython-312-x86_64-linux-gnu.so", False, False),
        ("lib/python3.12/config-3.12-x86_64-linux-gnu/libpython3.12.a", False, False),
        ("include", True, False),
        ("share", True, False),
    ],
)
def test_what_of_the_host_interpreter_goes_into_the_base(
    path: str, is_dir: bool, kept: bool
) -> None:
    assert keep_in_base(path, is_dir) is kept
