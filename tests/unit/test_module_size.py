"""Small rooms: no module over ~500 lines unless its docstring says why it is one piece."""

from __future__ import annotations

import ast

from tests.unit.package_source import PACKAGE, parsed, source_files

LIMIT = 550  # "~500": a little slack before a module must explain itself
REASON = "one piece"  # the docstring's words for why the module is not split


def oversized() -> dict[str, list[str]]:
    found = {}
    for path in source_files().values():
        lines = len(path.read_text().splitlines())
        if lines > LIMIT and REASON not in (ast.get_docstring(parsed(path)) or ""):
            found[str(path.relative_to(PACKAGE))] = [f"{lines} lines"]
    return found


def test_a_long_module_says_why_it_is_one_piece():
    assert oversized() == {}
