"""The package's own source, parsed: module names and every import statement, resolved."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import botifython_tui

PACKAGE = Path(botifython_tui.__file__).parent
NAME = "botifython_tui"


@dataclass(frozen=True)
class ImportFound:
    """One imported name: `target` is absolute (relative imports resolved)."""

    module: str
    target: str
    line: int
    top_level: bool  # False inside a function or class body, or under `if TYPE_CHECKING:`


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def source_files() -> dict[str, Path]:
    """Every module of the package, by dotted name."""
    return {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


@cache
def parsed(path: Path) -> ast.Module:
    return ast.parse(path.read_text(), filename=str(path))


def _top_level_statements(tree: ast.Module) -> set[int]:
    """ids of the import nodes run when the module is imported (not deferred, not TYPE_CHECKING)."""
    found: set[int] = set()

    def walk(body: list[ast.stmt]) -> None:
        for node in body:
            if isinstance(node, ast.Import | ast.ImportFrom):
                found.add(id(node))
            elif isinstance(node, ast.If):
                if "TYPE_CHECKING" not in ast.unparse(node.test):
                    walk(node.body)
                walk(node.orelse)
            elif isinstance(node, ast.Try):
                for block in (node.body, node.orelse, node.finalbody):
                    walk(block)
                for handler in node.handlers:
                    walk(handler.body)
            elif isinstance(node, ast.With):
                walk(node.body)

    walk(tree.body)
    return found


def imports(path: Path) -> Iterator[ImportFound]:
    """Every import in the file, wherever it sits (top level, function, TYPE_CHECKING).

    `from a import b` yields both `a` and `a.b` (b may be a module)."""
    name = module_name(path)
    is_package = path.name == "__init__.py"
    tree = parsed(path)
    eager = _top_level_statements(tree)
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = name.split(".")
                anchor = anchor if is_package else anchor[:-1]
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            targets = [base] + [f"{base}.{alias.name}" for alias in node.names]
        else:
            continue
        for target in targets:
            yield ImportFound(name, target, node.lineno, id(node) in eager)


def is_within(target: str, package: str) -> bool:
    return target == package or target.startswith(package + ".")
