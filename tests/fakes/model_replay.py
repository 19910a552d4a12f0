"""Replays recorded model replies through the fake Ollama (real HTTP) into the core chat turn.

`bench/data/real_model_replies.jsonl` holds real small models' first replies to prompts sent with
the app's own system prompt and tools. `replay(record)` sets up a profile with todos 1–3, a second
profile "Acme" and a chosen project and analysis, scripts the fake to answer the prompt exactly as
the model did (its text and tool calls), approves every proposal, and returns what the turn
proposed and ran. The model's later replies were not recorded: after an action result the fake
answers with plain text ("Done."), which ends the turn. Prompts starting with "[App event]" are
replayed as narration, as the app sends them.
"""

from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from botifython_tui.config import Settings
from botifython_tui.core.actions import REGISTRY, is_placeholder
from botifython_tui.core.chat.events import (
    ANSWER,
    NARRATION,
    ActionDone,
    ActionProposed,
    AppNotice,
    Approval,
    ApprovalRequest,
    Job,
)
from botifython_tui.core.chat.host import ChatHost
from botifython_tui.core.chat.turn import ChatTurn
from botifython_tui.core.selection import Selection, save_selection
from botifython_tui.core.store import Store
from tests.fakes.ollama_server import FakeOllama, Reply

ROOT = Path(__file__).resolve().parent.parent.parent
CORPUS = ROOT / "bench" / "data" / "real_model_replies.jsonl"
MODELS = ["qwen2.5-coder:0.5b", "qwen2.5-coder:1.5b"]
EVENT_PREFIX = "[App event] "  # how the recorded narration prompts were sent


def load_records(path: Path = CORPUS) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


class QuietMemory:
    """A document memory with nothing in it (so search_documents is available)."""

    model_loaded = True

    def has_chunks(self, profile_id: int) -> bool:
        return False

    async def asearch(self, query: str, profile_id: int, k: int = 5) -> list:
        return []

    def documents(self, profile_id: int) -> list:
        return []

    def remember_exchange(self, *args: Any) -> None:
        return None


@dataclass
class Replayed:
    proposed: list[tuple[str, dict[str, Any]]] = field(default_factory=list)  # valid proposals
    refused: list[str] = field(default_factory=list)  # proposals refused before approval
    not_requested: list[str] = field(default_factory=list)
    done: list[tuple[str, str]] = field(default_factory=list)  # (name, status)
    notices: list[AppNotice] = field(default_factory=list)
    audit: list[tuple[str, str, bool]] = field(default_factory=list)  # (action, args, approved)
    requests: int = 0


def script_for(record: dict[str, Any]) -> Reply:
    calls = [
        {"name": c["function"]["name"], "arguments": c["function"].get("arguments")}
        for c in record.get("tool_calls") or []
    ]
    return Reply(text=record.get("content") or "", tool_calls=calls or None)


async def replay(
    record: dict[str, Any], fake: FakeOllama, data_dir: Path | None = None
) -> Replayed:
    """Run one recorded reply through a fresh profile; `fake` serves the model."""
    with tempfile.TemporaryDirectory() as tmp:
        root = data_dir or Path(tmp)
        settings = Settings.resolve(
            data_dir=root / "data", downloads_dir=root / "downloads", env={}, cwd=root
        )
        settings.ensure_dirs()
        settings = _with_host(settings, fake.base_url)
        store = Store(settings.db_path)
        try:
            return await _replay(record, fake, store, settings)
        finally:
            store.close()


def _with_host(settings: Settings, url: str) -> Settings:
    import dataclasses

    return dataclasses.replace(settings, ollama_host=url)


async def _replay(
    record: dict[str, Any], fake: FakeOllama, store: Store, settings: Settings
) -> Replayed:
    for title in ("check the sitemap", "fix redirects", "audit hreflang"):
        store.todos(1).add(title)
    store.profiles.create("Acme")
    save_selection(store, 1, Selection("acme-org", "example.com", "20241108"))
    fake.clear_script()
    fake.script(script_for(record))
    fake.default_reply = "Done."
    before = len(fake.chat_requests)
    out = Replayed()

    async def approve(request: ApprovalRequest) -> Approval:
        return Approval.YES

    async def start_export(org: str, project: str, analysis: str, max_edges: int) -> str:
        return f"Started the export of {org}/{project} {analysis}, up to {max_edges} edges."

    async def export_status() -> None:
        return None

    host = ChatHost(
        store,
        settings,
        approve=approve,
        memory=lambda: QuietMemory(),
        start_export=start_export,
        export_status=export_status,
        model=record["model"],
    )
    prompt = record["prompt"]
    if prompt.startswith(EVENT_PREFIX):
        job = Job(NARRATION, 1, note=prompt[len(EVENT_PREFIX) :])
    else:
        job = Job(ANSWER, 1, prompt)
    conversation = store.conversations(1).create()
    turn = ChatTurn(host, job, profile_id=1, conversation_id=conversation.id)
    async for event in turn.run():
        if isinstance(event, ActionProposed):
            if event.problem is None:
                out.proposed.append((event.name, dict(event.args)))
            else:
                out.refused.append(event.name)
            if event.not_requested:
                out.not_requested.append(event.name)
        elif isinstance(event, ActionDone):
            out.done.append((event.name, event.status))
        elif isinstance(event, AppNotice):
            out.notices.append(event)
    for profile in store.profiles.list():
        rows = reversed(store.audit(profile.id).list(100))
        out.audit += [(r.action, json.dumps(r.arguments, sort_keys=True), r.approved) for r in rows]
    out.requests = len(fake.chat_requests) - before
    return out


# --- scoring -------------------------------------------------------------------------------------


def _matches(intended: tuple[str, dict[str, Any]], proposed: tuple[str, dict[str, Any]]) -> bool:
    name, want = intended
    got_name, got = proposed
    if name != got_name:
        return False
    for key, value in want.items():
        if value == "*":
            if got.get(key) in (None, ""):
                return False
        elif isinstance(value, str):
            if str(got.get(key, "")).casefold() != value.casefold():
                return False
        elif got.get(key) != value:
            return False
    properties = REGISTRY[name].parameters.get("properties", {})
    for key, value in got.items():  # anything else must be the action's default
        if key not in want and properties.get(key, {}).get("default", object()) != value:
            return False
    return True


def reached(intended: list, proposed: list) -> bool:
    """Every intended action is among the valid proposals (each proposal used once)."""
    left = list(proposed)
    for item in intended:
        pair = (item[0], item[1])
        hit = next((p for p in left if _matches(pair, p)), None)
        if hit is None:
            return False
        left.remove(hit)
    return True


def placeholder_proposals(record: dict[str, Any], out: Replayed) -> int:
    return sum(
        1
        for _, args in out.proposed
        if any(is_placeholder(v, record["prompt"]) for v in args.values())
    )


def repeated_runs(out: Replayed) -> int:
    """Approved audit rows equal to the row before them (the same call run twice in a row)."""
    ran = [(a, args) for a, args, approved in out.audit if approved]
    return sum(1 for first, second in zip(ran, ran[1:], strict=False) if first == second)


def narration_writes(record: dict[str, Any], out: Replayed) -> int:
    if not record["prompt"].startswith(EVENT_PREFIX):
        return 0
    return sum(1 for name, _ in out.proposed if not REGISTRY[name].read_only) + sum(
        1 for _, status in out.done if status in ("done", "failed")
    )
