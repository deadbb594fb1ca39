"""Is ``module.function`` defined in a function directory? Read, never imported. Pure
apart from reading the module's file.

Importing a user's module on the host would run its init code here; the
check only needs to know the handler can be found, so it parses the module
(``ast``) and looks for a top-level ``def``, ``async def`` or assignment.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path
from typing import Optional, Set

_HANDLER = re.compile(r"^[A-Za-z_][\w.]*\.[A-Za-z_]\w*$")


def handler_problem(function_dir: Path, handler: str) -> Optional[str]:
    """Why ``handler`` cannot be loaded from ``function_dir``, or None."""
    if not _HANDLER.match(handler):
        return f"handler {handler!r}: expected module.function, e.g. app.lambda_handler"
    module, _, name = handler.rpartition(".")
    base = function_dir.joinpath(*module.split("."))
    candidates = [base.with_suffix(".py"), base / "__init__.py"]
    path = next((p for p in candidates if p.is_file()), None)
    if path is None:
        wanted = " or ".join(str(p.relative_to(function_dir)) for p in candidates)
        return f"handler {handler}: no {wanted} in {function_dir}"
    try:
        tree = ast.parse(path.read_bytes(), filename=str(path))
    except (SyntaxError, ValueError) as err:
        line = getattr(err, "lineno", None)
        where = f"{path}:{line}" if line else str(path)
        return f"handler {handler}: {where} does not parse: {getattr(err, 'msg', err)}"
    if name not in _top_level_names(tree):
        return f"handler {handler}: {path.relative_to(function_dir)} defines no {name!r}"
    return None


def _top_level_names(tree: ast.Module) -> Set[str]:
    names: Set[str] = set()
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, ast.Assign):
            names.update(t.id for t in node.targets if isinstance(t, ast.Name))
        elif isinstance(node, (ast.AnnAssign, ast.AugAssign)) and isinstance(node.target, ast.Name):
            names.add(node.target.id)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names.update((a.asname or a.name).split(".")[0] for a in node.names)
    return names
