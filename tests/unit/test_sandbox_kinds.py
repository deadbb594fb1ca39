"""The sandbox writes event-log kinds through eventlog.Kind, never as string literals.

eventlog.py is the one home of the kind names (the contract with the harness);
a literal elsewhere is a typo waiting to happen that neither mypy nor the
README's table would notice.
"""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Dict, List

import lambda_sandbox
from lambda_sandbox.eventlog import ALL_KINDS

PACKAGE = Path(lambda_sandbox.__file__).resolve().parent


def kind_literals_passed_to_calls(source: str) -> List[str]:
    """Kind names written as a string literal in the first argument of any call."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call) and node.args:
            first = node.args[0]
            if isinstance(first, ast.Constant) and first.value in ALL_KINDS:
                found.append(f"line {first.lineno}: {first.value!r}")
    return sorted(found)


def test_the_scan_finds_a_literal_kind() -> None:
    assert kind_literals_passed_to_calls('log.write("sandbox.exit", code=0)') == [
        "line 1: 'sandbox.exit'"
    ]
    assert kind_literals_passed_to_calls("log.write(Kind.SANDBOX_EXIT, code=0)") == []


def test_no_module_of_the_sandbox_writes_a_kind_as_a_literal() -> None:
    modules = sorted(p for p in PACKAGE.glob("*.py") if p.name != "eventlog.py")
    assert modules, f"no modules found under {PACKAGE}"
    offences: Dict[str, List[str]] = {}
    for path in modules:
        found = kind_literals_passed_to_calls(path.read_text(encoding="utf-8"))
        if found:
            offences[path.name] = found
    assert offences == {}, "use eventlog.Kind: " + repr(offences)
