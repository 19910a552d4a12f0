"""What the app feeds the memory besides files: chat exchanges and link-graph export summaries."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from botifython_tui.core.text import single_line

MAX_EXCHANGE_CHARS = 8000
TOP_HUBS_IN_SUMMARY = 5


def remembers_chats(kv: Any) -> bool:
    """The declared setting: BOTIFYTHON_REMEMBER_CHATS, else the stored one, else on."""
    from botifython_tui.core.settings import REMEMBER_CHATS, SettingError, resolve

    try:
        return bool(resolve(REMEMBER_CHATS, kv=kv).value)
    except SettingError:  # an unreadable BOTIFYTHON_REMEMBER_CHATS: the stored value, else on
        return kv.get(REMEMBER_CHATS) is not False


def chat_source(conversation_id: int) -> str:
    return f"chat:{int(conversation_id)}"


def chat_exchange_text(question: str, answer: str) -> str:
    """One exchange as remembered: the question and the reply, cut to a sensible length."""
    question = question.strip()[: MAX_EXCHANGE_CHARS // 4]
    answer = answer.strip()[: MAX_EXCHANGE_CHARS - len(question)]
    return f"User: {question}\n\nAssistant: {answer}"


def export_source(links_path: str) -> str:
    return f"export:{links_path}"


def export_summary(record: Any) -> tuple[str, str]:
    """(title, text): a short summary of a link-graph export, never its rows.

    `record` is a `store.ExportRecord` (or anything with the same attributes).
    """
    summary: Mapping[str, Any] = getattr(record, "summary", None) or {}
    site = f"{record.org}/{record.project}"
    title = f"Link-graph export of {site}, analysis {record.analysis}"
    lines = [
        f"Link-graph export of the Botify project {site}, analysis {record.analysis}, "
        f"made {getattr(record, 'created_at', '') or 'earlier'}.",
        f"Depth {record.depth}: {record.urls:,} URLs and {record.edges:,} internal links (edges).",
    ]
    reason = summary.get("depth_reason")
    if reason:
        lines.append(f"Depth chosen because: {single_line(str(reason))}")
    histogram = summary.get("depth_histogram") or []
    if histogram:
        lines.append(
            "URLs per crawl depth: "
            + ", ".join(f"depth {d}: {int(n):,}" for d, n in histogram[:10])
            + "."
        )
    hubs = (summary.get("top_hubs") or [])[:TOP_HUBS_IN_SUMMARY]
    if hubs:
        lines.append(
            "Top hubs (most outlinks): "
            + "; ".join(f"{single_line(str(url))} ({int(n):,})" for url, n in hubs)
            + "."
        )
    linked = (summary.get("top_linked") or [])[:TOP_HUBS_IN_SUMMARY]
    if linked:
        lines.append(
            "Most linked-to URLs: "
            + "; ".join(f"{single_line(str(url))} ({int(n):,})" for url, n in linked)
            + "."
        )
    if "without_inlinks" in summary:
        lines.append(f"URLs without inlinks: {int(summary['without_inlinks']):,}.")
    lines.append(f"Edges file: {record.links_path}")
    if getattr(record, "meta_path", None):
        lines.append(f"Node attributes file: {record.meta_path}")
    return title, "\n".join(lines)
