"""releases.toml: the loader's validation and the project's own file."""

from __future__ import annotations

import pytest

from harness.bisect.releases import (
    FULL,
    RELEASES_FILE,
    ReleaseError,
    load_releases,
    parse_releases,
)

ONE = """
[[release]]
version = "{version}"
date = "2023-10-30"
cpython = ["3.6", "3.12"]
cpython_source = "PyPI"
thread_polling = ["AWS_Lambda_python3.12"]
thread_polling_source = "bootstrap.py"
next_releases_gil = true
next_releases_gil_source = "runtime_client.cpp"
"""


def book_text(*versions: str, extra: str = "") -> str:
    return "".join(ONE.format(version=v) for v in versions) + extra


def test_a_valid_file_loads_in_order_with_its_facts() -> None:
    book = parse_releases(book_text("2.0.7", "2.0.8"), "r.toml")
    assert [r.version for r in book.releases] == ["2.0.7", "2.0.8"]
    release = book.release("2.0.8")
    assert release.cpython == ("3.6", "3.12")
    assert release.polls_in_thread("AWS_Lambda_python3.12")
    assert not release.polls_in_thread(None)
    assert not release.polls_in_thread("AWS_Lambda_Image")
    assert release.has_wheel_for("3.10") and not release.has_wheel_for("3.13")
    assert book.subset_names == (FULL,)
    assert book.managed_envs == ("AWS_Lambda_python3.12",)


def test_a_subset_is_read_with_unset_as_none() -> None:
    text = book_text(
        "1.0.0",
        "2.0.8",
        extra='[subset.ci]\nreleases = ["2.0.8"]\npython = "newest"\n'
        'execution_env = ["unset", "AWS_Lambda_python3.12"]\n',
    )
    subset = parse_releases(text, "r.toml").subset("ci")
    assert subset.releases == ("2.0.8",)
    assert subset.python == "newest"
    assert subset.execution_env == (None, "AWS_Lambda_python3.12")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[[release]\n", "not valid TOML"),
        ("", "at least one [[release]]"),
        ("colour = 1\n" + book_text("1.0.0"), "unknown top-level keys ['colour']"),
        (book_text("1.0"), "version: '1.0' does not look like"),
        (book_text("1.0.0").replace('date = "2023-10-30"', 'date = "Oct 30"'), "date:"),
        (
            book_text("1.0.0").replace('["3.6", "3.12"]', '["3.12", "3.6"]'),
            "the oldest comes first",
        ),
        (book_text("1.0.0").replace('["3.6", "3.12"]', '["3.6"]'), 'expected ["3.X", "3.Y"]'),
        (
            book_text("1.0.0").replace('["AWS_Lambda_python3.12"]', '["python3.12"]'),
            "is not a managed runtime's AWS_EXECUTION_ENV",
        ),
        (
            book_text("1.0.0").replace("= true", '= "yes"'),
            "next_releases_gil: expected true or false",
        ),
        (book_text("1.0.0").replace('"PyPI"', '""'), "cpython_source: expected a non-empty string"),
        (book_text("1.0.0") + "colour = 1\n", "(1.0.0): unknown keys ['colour']"),
        (book_text("1.0.0", "1.0.0"), "releases listed twice: ['1.0.0']"),
        (book_text("2.0.0", "1.10.0"), "in version order, oldest first"),
        (
            book_text("1.0.0", extra='[subset.ci]\nreleases = ["9.9.9"]\n'),
            "'9.9.9' is not a [[release]]",
        ),
        (
            book_text("1.0.0", extra='[subset.ci]\npython = "middle"\n'),
            "python: expected one of both",
        ),
        (book_text("1.0.0", extra='[subset.ci]\nexecution_env = ["py3.12"]\n'), "execution_env:"),
        (book_text("1.0.0", extra="[subset.ci]\nwho = 1\n"), "unknown keys ['who']"),
        (book_text("1.0.0", extra="[subset.full]\n"), "'full' is implied"),
    ],
)
def test_mistakes_are_named_with_the_file_and_the_key(text: str, message: str) -> None:
    with pytest.raises(ReleaseError) as err:
        parse_releases(text, "r.toml")
    assert str(err.value).startswith("r.toml")
    assert message in str(err.value)


def test_an_unknown_subset_or_release_is_one_clear_error() -> None:
    book = parse_releases(book_text("1.0.0"), "r.toml")
    with pytest.raises(ReleaseError, match="unknown subset 'nope': expected one of full"):
        book.subset("nope")
    with pytest.raises(ReleaseError, match=r"no release '9\.9\.9'"):
        book.release("9.9.9")


def test_the_projects_file_holds_every_release_and_the_change_points_facts_md_names() -> None:
    book = load_releases(RELEASES_FILE)
    versions = [r.version for r in book.releases]
    assert len(versions) == 36
    assert (versions[0], versions[-1]) == ("1.0.0", "4.2.2")
    gil_held = [r.version for r in book.releases if not r.next_releases_gil]
    assert gil_held == ["1.0.0"]
    polling = {r.version: r.thread_polling for r in book.releases}
    assert polling["2.0.7"] == ()
    assert polling["2.0.8"] == ("AWS_Lambda_python3.12",)
    assert polling["3.0.0"] == ("AWS_Lambda_python3.12", "AWS_Lambda_python3.13")
    assert polling["4.0.0"][-1] == "AWS_Lambda_python3.14"
    assert polling["4.0.1"][-1] == "AWS_Lambda_python3.15"
    assert not any("AWS_Lambda_Image" in p for p in polling.values())
    assert book.release("2.2.1").cpython == ("3.6", "3.12")
    assert book.release("4.1.0").cpython == ("3.10", "3.15")
    assert "ci" in book.subset_names
