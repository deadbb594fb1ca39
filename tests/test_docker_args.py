"""The images' specs and the docker-py arguments, built by pure functions: no daemon needed."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Dict

import pytest
from test_harness_verdicts import cell

from harness import clients, sweep
from harness.backends.docker import (
    EMPTY_EXTENSIONS_DIR,
    LAB_EXTENSIONS_DIR,
    PROJECT_MOUNT,
    PROJECT_ROOT,
    RUN_DIR,
    TASK_ROOT,
    container_env,
    image_spec,
    invoke_address,
    run_kwargs,
    runtime_argv,
)
from harness.baseimage import keep_in_base
from harness.cells import Cell
from harness.imagecli import standalone_kwargs
from harness.images import context_files
from harness.imagespec import (
    CELL_LABEL,
    IMAGES_DIR,
    INPUTS_LABEL,
    PROJECT_LABEL,
    RUN_LABEL,
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
    wheel_download_args,
)

FUNCTION = PROJECT_ROOT / "function"


def project_cell(**changes: Any) -> Cell:
    """A cell of the project's own function (the one baked into the images)."""
    base: Dict[str, Any] = {"function_dir": FUNCTION, "extensions_dir": FUNCTION / "extensions"}
    base.update(changes)
    return cell(**base)


# ---------------------------------------------------------------- image specs


def test_every_image_folder_is_one_small_build_args_file() -> None:
    specs = load_specs()
    assert {"py37", "py38", "py312"} <= set(specs)
    for name, spec in specs.items():
        assert sorted(p.name for p in (IMAGES_DIR / name).iterdir()) == ["build.args"]
        assert spec.tag == f"lambda-sigterm-lab:{name}"
        assert spec.base_tag == f"lambda-sigterm-lab-base:py{spec.python}"


def test_image_pins_are_the_harness_pins() -> None:
    # The process backend's venvs and the images must run the same client versions.
    for spec in load_specs().values():
        assert spec.awslambdaric == clients.AWSLAMBDARIC_PINS[spec.python]
        assert spec.requests == clients.REQUESTS_PIN
        assert spec.pika == clients.PIKA_PIN


def test_adding_a_python_is_one_folder(tmp_path: Path) -> None:
    (tmp_path / "py313").mkdir()
    (tmp_path / "py313" / "build.args").write_text(
        "# comment\nPYTHON_VERSION=3.13\nAWSLAMBDARIC_VERSION=4.2.2\n"
        "REQUESTS_VERSION=2.31.0\nPIKA_VERSION=1.3.2\n"
    )
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
        ("PYTHON_VERSION=3.13", "missing AWSLAMBDARIC_VERSION"),
        (
            "PYTHON_VERSION=3.12\nAWSLAMBDARIC_VERSION=4\nREQUESTS_VERSION=2.31.0\nPIKA_VERSION=1.3.2",
            "AWSLAMBDARIC_VERSION: expected X.Y.Z",
        ),
        (
            "PYTHON_VERSION=3.12\nAWSLAMBDARIC_VERSION=4.2.2\nREQUESTS_VERSION=2.31.0\n"
            "PIKA_VERSION=1.3.2\nEXTRA=1",
            "unknown EXTRA",
        ),
    ],
)
def test_bad_build_args_say_what_is_wrong(tmp_path: Path, text: str, error: str) -> None:
    (tmp_path / "py312").mkdir()
    (tmp_path / "py312" / "build.args").write_text(text)
    with pytest.raises(ImageSpecError, match=error):
        load_specs(tmp_path)


def test_folder_must_match_the_python() -> None:
    args = parse_build_args(
        "PYTHON_VERSION=3.8\nAWSLAMBDARIC_VERSION=2.2.1\nREQUESTS_VERSION=2.31.0\n"
        "PIKA_VERSION=1.3.2",
        "x",
    )
    from harness.imagespec import spec_from_args

    with pytest.raises(ImageSpecError, match="should be py38"):
        spec_from_args("py39", args, "x")


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


def test_template_defaults() -> None:
    text = (IMAGES_DIR / "Dockerfile.template").read_text()
    assert "ARG BASE=python:${PYTHON_VERSION}-slim" in text
    assert 'ENTRYPOINT ["python3", "-m", "lambda_sandbox", "--"]' in text
    assert 'CMD ["python3", "-m", "awslambdaric", "app.handler"]' in text
    assert "--no-index --find-links" in text and "USER 993" in text
    for line in (
        "INVOKE_API_HOST=0.0.0.0",
        "INVOKE_API_PORT=8080",
        "LAMBDA_TASK_ROOT=/var/task",
        "LAB_STRATEGY=signal",
        "LAB_EXTENSION=internal",
    ):
        assert line in text


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


# ---------------------------------------------------------------- containers


def test_run_kwargs_host_network() -> None:
    c = project_cell(python="3.12", runtime_client_version="4.2.2")
    kwargs = run_kwargs(c, "lambda-sigterm-lab:py312", Path("/results/cells/x"), "s1", "host")
    assert kwargs["image"] == "lambda-sigterm-lab:py312" and kwargs["detach"] is True
    assert kwargs["network_mode"] == "host" and "ports" not in kwargs
    assert kwargs["command"] == ["python3", "-m", "awslambdaric", "app.handler"]
    assert kwargs["volumes"] == {"/results/cells/x": {"bind": RUN_DIR, "mode": "rw"}}
    assert kwargs["labels"] == {
        PROJECT_LABEL: "lambda-sigterm-lab",
        RUN_LABEL: "s1",
        CELL_LABEL: c.id,
    }
    env = kwargs["environment"]
    assert env["INVOKE_API_HOST"] == env["RUNTIME_API_HOST"] == "127.0.0.1"
    assert env["INVOKE_API_PORT"] == env["RUNTIME_API_PORT"] == "0"
    assert env["LAMBDA_TASK_ROOT"] == TASK_ROOT
    assert env["LAMBDA_EXTENSIONS_DIR"] == EMPTY_EXTENSIONS_DIR
    assert env["LAMBDA_SANDBOX_EVENT_LOG"] == f"{RUN_DIR}/events.jsonl"
    assert env["LAB_STRATEGY"] == "signal" and env["LAB_EXTENSION"] == "internal"
    assert env[sweep.LABEL] == f"s1/{c.id}"
    assert "AWS_EXECUTION_ENV" not in env and "AWS_LAMBDA_FUNCTION_IDLETIMEOUT" not in env


def test_run_kwargs_bridge_publishes_the_invoke_api_on_loopback() -> None:
    kwargs = run_kwargs(project_cell(), "img", Path("/d"), "s", "bridge")
    assert "network_mode" not in kwargs
    assert kwargs["ports"] == {"8080/tcp": ("127.0.0.1", None)}
    env = kwargs["environment"]
    assert env["INVOKE_API_HOST"] == "0.0.0.0" and env["INVOKE_API_PORT"] == "8080"
    with pytest.raises(ValueError, match="network"):
        run_kwargs(project_cell(), "img", Path("/d"), "s", "overlay")


def test_the_cells_dimensions_reach_the_container() -> None:
    c = project_cell(
        extension="external",
        strategy="wakeup-fd",
        trigger="idle",
        execution_env="AWS_Lambda_python3.12",
        env=(("LAB_OUTBOX_QUEUE", "q"),),
    )
    env = container_env(c, "s/c", "host")
    assert env["LAMBDA_EXTENSIONS_DIR"] == LAB_EXTENSIONS_DIR and env["LAB_EXTENSION"] == "none"
    assert env["LAB_STRATEGY"] == "wakeup-fd"
    assert env["AWS_LAMBDA_FUNCTION_IDLETIMEOUT"] == "1"
    assert env["AWS_EXECUTION_ENV"] == "AWS_Lambda_python3.12"
    assert env["LAB_OUTBOX_QUEUE"] == "q"
    assert container_env(project_cell(extension="none"), "s/c", "host")["LAB_EXTENSION"] == "none"
    legacy = project_cell(runtime_client="legacy")
    assert runtime_argv(legacy) == ["python3", "/opt/lab/legacy_runtime.py", "app.handler"]


def test_a_cells_own_function_is_mounted_read_only(tmp_path: Path) -> None:
    inside = PROJECT_ROOT / "examples" / "telemetry-function"
    kwargs = run_kwargs(project_cell(function_dir=inside), "img", Path("/d"), "s", "host")
    # Inside the project: the project is mounted, so relative symlinks still resolve.
    assert (
        kwargs["environment"]["LAMBDA_TASK_ROOT"] == f"{PROJECT_MOUNT}/examples/telemetry-function"
    )
    assert kwargs["volumes"][str(PROJECT_ROOT)] == {"bind": PROJECT_MOUNT, "mode": "ro"}
    outside = project_cell(
        function_dir=tmp_path, extension="external", extensions_dir=tmp_path / "e"
    )
    kwargs = run_kwargs(outside, "img", Path("/d"), "s", "host")
    assert kwargs["environment"]["LAMBDA_TASK_ROOT"] == TASK_ROOT
    assert kwargs["volumes"][str(tmp_path)] == {"bind": TASK_ROOT, "mode": "ro"}
    assert kwargs["volumes"][str(tmp_path / "e")] == {"bind": LAB_EXTENSIONS_DIR, "mode": "ro"}
    assert str(PROJECT_ROOT) not in kwargs["volumes"]


def test_invoke_address() -> None:
    assert invoke_address({"invoke_api": "127.0.0.1:4321"}, "host", {}) == "127.0.0.1:4321"
    assert invoke_address({"invoke_api": "0.0.0.0:4321"}, "host", {}) == "127.0.0.1:4321"
    published = {"8080/tcp": [{"HostIp": "127.0.0.1", "HostPort": "49153"}]}
    assert invoke_address({"invoke_api": "0.0.0.0:8080"}, "bridge", published) == "127.0.0.1:49153"
    with pytest.raises(RuntimeError, match="not published"):
        invoke_address({"invoke_api": "0.0.0.0:8080"}, "bridge", {})


def test_standalone_kwargs() -> None:
    host = standalone_kwargs("lambda-sigterm-lab:py312", 8080, "host")
    assert host["network_mode"] == "host" and "command" not in host  # the image's CMD
    assert host["environment"]["INVOKE_API_PORT"] == "8080"
    assert host["environment"]["RUNTIME_API_PORT"] == "0"
    assert host["environment"]["LAMBDA_EXTENSIONS_DIR"] == EMPTY_EXTENSIONS_DIR
    assert host["labels"][PROJECT_LABEL] == "lambda-sigterm-lab"
    bridge = standalone_kwargs(
        "t", 9000, "bridge", "external", "wakeup-fd", "legacy", "my-fn", {"LOG_LEVEL": "debug"}
    )
    assert bridge["ports"] == {"8080/tcp": 9000} and "network_mode" not in bridge
    env = bridge["environment"]
    assert env["LAMBDA_EXTENSIONS_DIR"] == LAB_EXTENSIONS_DIR and env["LAB_EXTENSION"] == "none"
    assert env["AWS_LAMBDA_FUNCTION_NAME"] == "my-fn" and env["LOG_LEVEL"] == "debug"
    assert bridge["command"][1] == "/opt/lab/legacy_runtime.py"
