"""Things that are decided in one place stay there: stored setting keys live in core/settings.py,
and only `Analysis.is_finished` reads an analysis status as "finished"."""

from __future__ import annotations

import ast
import re

from botifython_tui.core import settings
from tests.unit.package_source import PACKAGE, parsed, source_files

STORED_KEYS = frozenset(settings.all_keys()) | frozenset(settings.APP_KEYS)
KV_METHODS = {"get", "pop", "setdefault"}

# The simulated Botify server keeps its own analyses' state: it is the other side of the API.
NOT_THE_CLIENT = ("core/botify_sim/",)


def relative(path) -> str:
    return str(path.relative_to(PACKAGE))


def _is_kv(node: ast.expr) -> bool:
    """`kv`, `store.kv`, `self.host.store.kv`: the key-value store."""
    return (isinstance(node, ast.Name) and node.id == "kv") or (
        isinstance(node, ast.Attribute) and node.attr == "kv"
    )


def _spells_a_key(node: ast.expr) -> bool:
    """A key written out: "chat.model", f"chat.tools.{model}", f"{KEY}.before_off", "a." + b."""
    if isinstance(node, ast.Constant):
        return isinstance(node.value, str)
    if isinstance(node, ast.JoinedStr):
        return any(
            isinstance(part, ast.Constant) and re.search(r"[A-Za-z]", str(part.value))
            for part in node.values
        )
    if isinstance(node, ast.BinOp):
        return _spells_a_key(node.left) or _spells_a_key(node.right)
    return False


def literal_keys(tree: ast.Module) -> list[str]:
    """Keys spelt out where the key-value store is read or written."""
    found = []
    for node in ast.walk(tree):
        key = None
        if isinstance(node, ast.Subscript) and _is_kv(node.value):
            key = node.slice
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr in KV_METHODS
            and _is_kv(node.func.value)
            and node.args
        ):
            key = node.args[0]
        elif isinstance(node, ast.Compare) and any(_is_kv(c) for c in node.comparators):
            key = node.left  # "key" in store.kv
        if key is not None and _spells_a_key(key):
            found.append(f"line {node.lineno}: {ast.unparse(key)}")
    return found


def copied_keys(tree: ast.Module) -> list[str]:
    """Module or class constants holding a stored key's name: a second home for the key."""
    found = []
    scopes = [tree.body] + [n.body for n in tree.body if isinstance(n, ast.ClassDef)]
    for body in scopes:
        for node in body:
            if (
                isinstance(node, ast.Assign | ast.AnnAssign)
                and isinstance(node.value, ast.Constant)
                and node.value.value in STORED_KEYS
            ):
                found.append(f"line {node.lineno}: {ast.unparse(node).splitlines()[0]}")
    return found


def test_the_key_scan_sees_the_ways_a_key_is_spelt():
    tree = ast.parse(
        'store.kv["chat.model"] = 1\n'
        'self.store.kv.get(f"{KEY}.before_off")\n'
        'kv.pop("a." + name, None)\n'
        '"chat.tools" in store.kv\n'
        "store.kv[MODEL]\n"
        'kv.get(f"{MODEL_TOOLS}.{model}")\n'
        'other["chat.model"]\n'
        'HOST_KEY = "chat.ollama_host"\n'
    )
    assert [line.split(":")[0] for line in literal_keys(tree)] == [
        "line 1",
        "line 2",
        "line 3",
        "line 4",
    ]
    assert copied_keys(tree) == ["line 8: HOST_KEY = 'chat.ollama_host'"]


def test_no_stored_key_is_spelt_outside_core_settings():
    offenders = {}
    for path in source_files().values():
        name = relative(path)
        if name != "core/settings.py":
            found = literal_keys(parsed(path)) + copied_keys(parsed(path))
            if found:
                offenders[name] = found
    assert offenders == {}


def _mentions_status(node: ast.expr) -> bool:
    return any(
        (isinstance(n, ast.Attribute) and n.attr == "status")
        or (isinstance(n, ast.Name) and "status" in n.id.lower())
        or (isinstance(n, ast.Constant) and n.value == "status")
        for n in ast.walk(node)
    )


def _says_success(node: ast.expr) -> bool:
    return any(
        isinstance(n, ast.Constant) and isinstance(n.value, str) and n.value.lower() == "success"
        for n in ast.walk(node)
    )


def status_checks(tree: ast.Module, allowed_function: str | None = None) -> list[str]:
    """Comparisons of a status with "success" (any case, ==, !=, in), outside `allowed_function`."""
    allowed: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef) and node.name == allowed_function:
            allowed.update(id(n) for n in ast.walk(node))
    return [
        f"line {node.lineno}: {ast.unparse(node)}"
        for node in ast.walk(tree)
        if isinstance(node, ast.Compare)
        and id(node) not in allowed
        and _mentions_status(node)
        and _says_success(node)
    ]


def test_the_status_scan_sees_the_ways_success_is_checked():
    tree = ast.parse(
        'a.status == "success"\n'
        'a.status.lower() != "SUCCESS"\n'
        'item["status"] in ("success", "failed")\n'
        'a.state == "success"\n'
        "a.is_finished\n"
    )
    assert [line.split(":")[0] for line in status_checks(tree)] == ["line 1", "line 2", "line 3"]


def test_only_analysis_is_finished_decides_that_an_analysis_is_finished():
    offenders = {}
    for path in source_files().values():
        name = relative(path)
        if name.startswith(NOT_THE_CLIENT):
            continue
        allowed = "is_finished" if name == "core/botify/models.py" else None
        found = status_checks(parsed(path), allowed)
        if found:
            offenders[name] = found
    assert offenders == {}
