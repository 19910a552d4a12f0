"""No import cycle in the package, counting imports made inside functions or only for type checking."""

from __future__ import annotations

from tests.unit.package_source import NAME, imports, source_files


def import_graph() -> dict[str, set[str]]:
    """module -> the package modules it imports anywhere (top level, functions, TYPE_CHECKING)."""
    modules = source_files()
    return {
        name: {
            found.target
            for found in imports(path)
            if found.target in modules and found.target != name
        }
        for name, path in modules.items()
    }


def find_cycle(graph: dict[str, set[str]], within: str = NAME) -> list[str] | None:
    """One cycle among the modules under `within` (ignoring package __init__ re-exports)."""
    nodes = {n for n in graph if n.startswith(within)}
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for target in sorted(graph[node]):
            if target not in nodes or target == NAME:
                continue
            if state.get(target) == 1:
                return stack[stack.index(target) :] + [target]
            if target not in state and (cycle := visit(target)):
                return cycle
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(nodes):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def test_the_detector_finds_a_cycle():
    graph = {"botifython_tui.a": {"botifython_tui.b"}, "botifython_tui.b": {"botifython_tui.a"}}
    assert find_cycle(graph) == ["botifython_tui.a", "botifython_tui.b", "botifython_tui.a"]


def test_the_tui_has_no_import_cycle():
    assert find_cycle(import_graph(), f"{NAME}.tui") is None


def test_the_chat_core_has_no_import_cycle_and_no_tui_import():
    graph = import_graph()
    assert find_cycle(graph, f"{NAME}.core.chat") is None
    chat_core = {name: targets for name, targets in graph.items() if ".core.chat" in name}
    assert chat_core and not [
        (name, t) for name, targets in chat_core.items() for t in targets if ".tui" in t
    ]


def test_the_package_has_no_import_cycle():
    assert find_cycle(import_graph()) is None
