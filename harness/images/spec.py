"""What the lab's container images are made of, as values: no Docker, no I/O beyond reading.

``images/<tag>/build.args`` names one image's Python (``PYTHON_VERSION``);
the packages it carries come from ``pins.toml`` (harness/model/pins.py), as
for the process backend's venvs; ``images/Dockerfile.template`` is the one Dockerfile;
``images/constraints.txt`` pins the dependencies' dependencies. Everything here
is pure: the specs, the tags, the digests that decide whether an image is
rebuilt, the docker-py build arguments, and the Debian mirror read from the
machine's apt sources.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple

from harness.errors import LabError
from harness.model.pins import Pins, load_pins
from harness.paths import IMAGES_DIR

REPOSITORY = "lambda-sigterm-lab"
DEBIAN_IMAGE = "lambda-sigterm-lab-debian:bookworm"
BASE_REPOSITORY = "lambda-sigterm-lab-base"
DEBIAN_SUITE = "bookworm"

# Labels on every image and container the lab makes (a sweep finds them by these).
PROJECT_LABEL = "lambda-sigterm-lab.project"
INPUTS_LABEL = "lambda-sigterm-lab.inputs"  # digest of what the image was built from
PYTHON_LABEL = "lambda-sigterm-lab.python"  # full CPython version, when known at build time
PINS_LABEL = "lambda-sigterm-lab.pins"  # the pinned Python packages, space-separated
RUN_LABEL = "lambda-sigterm-lab.run"  # the harness session (containers only)
CELL_LABEL = "lambda-sigterm-lab.cell"

REQUIRED_ARGS = ("PYTHON_VERSION",)
# The template's other build arguments, filled from pins.toml.
PINNED_ARGS = ("AWSLAMBDARIC_VERSION", "REQUESTS_VERSION", "PIKA_VERSION")
_VERSION = re.compile(r"^[0-9]+(\.[0-9]+)+([a-z0-9.+-]*)$")
_ARG_LINE = re.compile(r"^([A-Z][A-Z0-9_]*)=(.*)$")


class ImageSpecError(LabError, ValueError):
    """A build.args file or a requested image is wrong; the message says which and why."""


@dataclass(frozen=True)
class ImageSpec:
    """One lab image: ``lambda-sigterm-lab:py312`` and the arguments it is built with."""

    name: str  # "py312": the folder under images/ and the tag
    python: str  # "3.12"
    awslambdaric: str
    requests: str
    pika: str  # the AMQP client of broker-judged cells (function/outbox.py)

    @property
    def tag(self) -> str:
        return f"{REPOSITORY}:{self.name}"

    @property
    def base_tag(self) -> str:
        return f"{BASE_REPOSITORY}:py{self.python}"

    @property
    def requirements(self) -> Tuple[str, ...]:
        return (
            f"awslambdaric=={self.awslambdaric}",
            f"requests=={self.requests}",
            f"pika=={self.pika}",
        )

    def with_awslambdaric(self, version: str) -> ImageSpec:
        """The same image with another runtime client version (its own tag)."""
        if version == self.awslambdaric:
            return self
        if not _VERSION.match(version):
            raise ImageSpecError(f"awslambdaric version: expected X.Y.Z, got {version!r}")
        return ImageSpec(
            name=f"{self.name}-awslambdaric{version}",
            python=self.python,
            awslambdaric=version,
            requests=self.requests,
            pika=self.pika,
        )


def parse_build_args(text: str, where: str) -> Dict[str, str]:
    """``KEY=VALUE`` lines; blank lines and ``#`` comments are ignored."""
    args: Dict[str, str] = {}
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        match = _ARG_LINE.match(line)
        if not match:
            raise ImageSpecError(f"{where}:{number}: expected KEY=VALUE, got {raw!r}")
        args[match.group(1)] = match.group(2).strip()
    return args


def spec_from_args(name: str, args: Mapping[str, str], where: str, pins: Pins) -> ImageSpec:
    missing = [key for key in REQUIRED_ARGS if not args.get(key)]
    if missing:
        raise ImageSpecError(f"{where}: missing {', '.join(missing)}")
    unknown = sorted(set(args) - set(REQUIRED_ARGS))
    if unknown:
        raise ImageSpecError(
            f"{where}: unknown {', '.join(unknown)}; allowed: {REQUIRED_ARGS} "
            "(package versions live in pins.toml)"
        )
    python = args["PYTHON_VERSION"]
    if not re.match(r"^3\.[0-9]+$", python):
        raise ImageSpecError(f"{where}: PYTHON_VERSION: expected 3.N, got {python!r}")
    if name != "py" + python.replace(".", ""):
        raise ImageSpecError(f"{where}: folder {name!r} should be py{python.replace('.', '')}")
    awslambdaric = pins.awslambdaric_for(python)
    if awslambdaric is None:
        raise ImageSpecError(f"{where}: {pins.where} pins no awslambdaric for Python {python}")
    return ImageSpec(
        name=name,
        python=python,
        awslambdaric=awslambdaric,
        requests=pins.version("requests"),
        pika=pins.version("pika"),
    )


def load_specs(images_dir: Path = IMAGES_DIR, pins: Optional[Pins] = None) -> Dict[str, ImageSpec]:
    """Every ``images/py*/build.args``, by folder name."""
    pins = load_pins() if pins is None else pins
    specs = {}
    for path in sorted(images_dir.glob("py*/build.args")):
        name = path.parent.name
        specs[name] = spec_from_args(
            name, parse_build_args(path.read_text(encoding="utf-8"), str(path)), str(path), pins
        )
    return specs


def spec_for(python: str, specs: Mapping[str, ImageSpec]) -> ImageSpec:
    """The image spec of a CPython version ("3.12"), or ImageSpecError naming the fix."""
    for spec in specs.values():
        if spec.python == python:
            return spec
    folder = "py" + python.replace(".", "")
    raise ImageSpecError(
        f"no image for Python {python}: add images/{folder}/build.args (PYTHON_VERSION={python})"
    )


def select_specs(names: Sequence[str], specs: Mapping[str, ImageSpec]) -> List[ImageSpec]:
    """Specs named ``py312`` or ``3.12``; all of them for ``all`` or nothing."""
    if not names or list(names) == ["all"]:
        return list(specs.values())
    chosen = []
    for name in names:
        if name in specs:
            chosen.append(specs[name])
        elif re.match(r"^3\.[0-9]+$", name):
            chosen.append(spec_for(name, specs))
        else:
            known = ", ".join(specs) or "none"
            raise ImageSpecError(
                f"no image {name!r}: name a folder of images/ ({known}), a Python (3.12) or all"
            )
    return chosen


def build_args(spec: ImageSpec, base: Optional[str]) -> Dict[str, str]:
    """The template's ``--build-arg``s; ``base`` None keeps the template's python:X.Y-slim."""
    args = {
        "PYTHON_VERSION": spec.python,
        "AWSLAMBDARIC_VERSION": spec.awslambdaric,
        "REQUESTS_VERSION": spec.requests,
        "PIKA_VERSION": spec.pika,
    }
    if base is not None:
        args["BASE"] = base
    return args


def digest(parts: Iterable[Tuple[str, bytes]]) -> str:
    """A content hash of named parts, independent of their order."""
    outer = hashlib.sha256()
    for name, data in sorted(parts):
        outer.update(name.encode() + b"\0")
        outer.update(hashlib.sha256(data).digest())
    return outer.hexdigest()[:16]


def pins_from_wheels(wheel_names: Iterable[str]) -> Tuple[str, ...]:
    """``name==version`` for each wheel file name (PEP 427: name-version-...-tags.whl)."""
    pins = []
    for wheel in wheel_names:
        parts = wheel[: -len(".whl")].split("-") if wheel.endswith(".whl") else []
        if len(parts) < 5:
            raise ImageSpecError(f"not a wheel file name: {wheel!r}")
        pins.append(f"{parts[0].replace('_', '-').lower()}=={parts[1]}")
    return tuple(sorted(pins))


def wheel_download_args(spec: ImageSpec, dest: Path, constraints: Path) -> List[str]:
    """``pip download`` arguments for the image's Python and platform (binary wheels only)."""
    return [
        "download",
        "--quiet",
        "--disable-pip-version-check",
        "--only-binary=:all:",
        "--implementation",
        "cp",
        "--python-version",
        spec.python,
        "--platform",
        "manylinux2014_x86_64",
        "--dest",
        str(dest),
        "--constraint",
        str(constraints),
        *spec.requirements,
    ]


def image_build_kwargs(
    spec: ImageSpec,
    base: Optional[str],
    inputs: str,
    pins: Sequence[str],
    python_full_version: Optional[str],
) -> Dict[str, Any]:
    """docker-py ``images.build`` keyword arguments, less the context file object."""
    labels = {
        PROJECT_LABEL: REPOSITORY,
        INPUTS_LABEL: inputs,
        PINS_LABEL: " ".join(pins),
    }
    if python_full_version:
        labels[PYTHON_LABEL] = python_full_version
    return {
        "tag": spec.tag,
        "custom_context": True,
        "encoding": "identity",
        "dockerfile": "Dockerfile",
        "buildargs": build_args(spec, base),
        "labels": labels,
        "rm": True,
        "forcerm": True,  # no intermediate container outlives a failed step
        "pull": False,
        "network_mode": "host",  # no bridge on these machines; RUN steps need no network
    }


def base_build_kwargs(tag: str, inputs: str, python_full_version: str) -> Dict[str, Any]:
    """docker-py ``images.build`` keyword arguments for ``lambda-sigterm-lab-base:pyX.Y``."""
    return {
        "tag": tag,
        "custom_context": True,
        "encoding": "identity",
        "dockerfile": "Dockerfile",
        "buildargs": {"DEBIAN_IMAGE": DEBIAN_IMAGE},
        "labels": {
            PROJECT_LABEL: REPOSITORY,
            INPUTS_LABEL: inputs,
            PYTHON_LABEL: python_full_version,
        },
        "rm": True,
        "forcerm": True,
        "pull": False,
        "network_mode": "host",
    }


def debian_import_changes(inputs: str) -> List[str]:
    """Dockerfile instructions applied by ``docker import`` to the debootstrapped rootfs."""
    return [
        f"LABEL {PROJECT_LABEL}={REPOSITORY} {INPUTS_LABEL}={inputs}",
        "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        "ENV LANG=C.UTF-8",
        'CMD ["/bin/bash"]',
    ]


def debootstrap_argv(packages: Sequence[str], target: Path, mirror: str) -> List[str]:
    return [
        "debootstrap",
        "--variant=minbase",
        "--include=" + ",".join(packages),
        DEBIAN_SUITE,
        str(target),
        mirror,
    ]


def _deb822_paragraphs(text: str) -> Iterable[Dict[str, str]]:
    fields: Dict[str, str] = {}
    key = ""
    for raw in [*text.splitlines(), ""]:
        if raw.startswith("#"):
            continue
        if not raw.strip():
            if fields:
                yield fields
            fields, key = {}, ""
        elif raw[0] in " \t" and key:
            fields[key] += " " + raw.strip()
        elif ":" in raw:
            key, _, value = raw.partition(":")
            key = key.strip().lower()
            fields[key] = value.strip()


def apt_sources(
    files: Mapping[str, str],
) -> List[Tuple[str, Tuple[str, ...], Tuple[str, ...], str]]:
    """(uri, suites, components, signed_by) of each ``deb`` source, in file order.

    ``files`` maps a path (``.list``: one-line format; ``.sources``: deb822) to its text.
    """
    found = []
    for path, text in files.items():
        if path.endswith(".sources"):
            for p in _deb822_paragraphs(text):
                if "deb" not in p.get("types", "").split() or p.get("enabled", "yes") == "no":
                    continue
                for uri in p.get("uris", "").split():
                    found.append(
                        (
                            uri,
                            tuple(p.get("suites", "").split()),
                            tuple(p.get("components", "").split()),
                            p.get("signed-by", ""),
                        )
                    )
        else:
            for raw in text.splitlines():
                line = re.sub(r"\[[^\]]*\]", " ", raw.split("#", 1)[0]).split()
                if len(line) >= 3 and line[0] == "deb":
                    found.append((line[1], (line[2],), tuple(line[3:]), ""))
    return found


def debian_mirror(files: Mapping[str, str]) -> Optional[str]:
    """The machine's Debian archive mirror, from its apt sources; None if there is none.

    A Debian archive entry names a plain release suite (``bookworm``, not
    ``bookworm-security`` nor a vendor's ``cloud-sdk-bookworm``) with ``main``;
    one signed with Debian's archive keyring, or whose path ends in /debian,
    is preferred over any other.
    """
    candidates = [
        (uri, signed)
        for uri, suites, components, signed in apt_sources(files)
        if "main" in components
        and any(re.match(r"^[a-z]+$", s) for s in suites)
        and "security" not in uri
    ]

    def rank(item: Tuple[str, str]) -> int:
        uri, signed = item
        return 0 if "debian-archive-keyring" in signed or uri.rstrip("/").endswith("/debian") else 1

    candidates.sort(key=rank)  # stable: file order breaks ties
    return candidates[0][0] if candidates else None
