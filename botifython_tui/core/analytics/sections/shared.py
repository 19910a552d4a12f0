"""Table sizes and helpers every section uses: the wording for a missing column, shares."""

from __future__ import annotations

from botifython_tui.core.analytics.loading import NodeTable

TOP_N = 20
SHORT_N = 10
FEW_INLINKS = 2


def absent(meta: NodeTable | None, *names: str) -> list[str]:
    """The columns among `names` that the node attributes lack (all of them without a file)."""
    if meta is None:
        return list(names)
    return [name for name in names if not meta.has(name)]


def missing_text(columns: list[str], meta: NodeTable | None) -> str:
    names = ", ".join(columns)
    if meta is None:
        return f"needs {names}: there is no node attributes file"
    return f"needs {names}, which the node attributes file lacks"


def share(part: float, whole: float) -> float:
    return float(part) / float(whole) if whole else 0.0
