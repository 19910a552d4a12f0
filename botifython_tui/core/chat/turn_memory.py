"""What one chat turn takes from the document memory and gives back to it.

A question is grounded in the relevant passages of this profile's memory (numbered, within a
budget; the sources are listed); "which documents do you know about?" is answered from the store;
the finished exchange joins the memory. Without the memory stack installed, every step is skipped
and the chat goes on without it.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

from botifython_tui.core.actions import ActionRefused
from botifython_tui.core.chat.events import ChatEvent, SourcesFound, StatusChanged
from botifython_tui.core.chat.host import ChatHost
from botifython_tui.logs import get_logger

log = get_logger("chat")

GROUNDING_TOKENS = 1200  # of the context budget, for document passages


class TurnMemory:
    """The memory as one turn in one conversation uses it; `grounding` and `sources` hold what
    `ground()` found for the prompt."""

    def __init__(self, host: ChatHost, profile_id: int, conversation_id: int) -> None:
        self.host = host
        self.profile_id = profile_id
        self.conversation_id = conversation_id
        self.grounding = ""
        self.sources: list[Any] = []

    def _memory(self) -> Any:
        if self.host.memory is None:
            return None
        try:
            return self.host.memory()
        except ImportError:  # the memory stack is not installed: chat without it
            return None

    def available(self) -> bool:
        return self._memory() is not None

    async def inventory(self, question: str) -> str | None:
        """'Which documents do you know about?' is answered from the store, not by the model."""
        memory = self._memory()
        if memory is None:
            return None
        from botifython_tui.core.memory.grounding import inventory_answer, is_inventory_question

        if not is_inventory_question(question):
            return None
        documents = await asyncio.to_thread(memory.documents, self.profile_id)
        return inventory_answer(documents)

    async def ground(self, question: str) -> AsyncIterator[ChatEvent]:
        """The relevant chunks of this profile's memory, numbered, within a budget."""
        self.grounding, self.sources = "", []
        memory = self._memory()
        if memory is None or not await asyncio.to_thread(memory.has_chunks, self.profile_id):
            return
        from botifython_tui.core.memory.grounding import build_context

        yield StatusChanged(
            "Searching your documents…"
            if memory.model_loaded
            else "Loading the embedding model (first search only)…"
        )
        try:
            hits = await memory.asearch(question, self.profile_id, k=6)
        except Exception as exc:  # a broken memory must not stop the chat
            log.warning("Document search failed: %s", exc)
            return
        self.grounding, self.sources = build_context(
            hits, GROUNDING_TOKENS, conversation_id=self.conversation_id
        )
        if self.sources:
            yield SourcesFound(list(self.sources))

    async def search_documents(self, query: str, limit: int) -> list[dict]:
        """The same search the grounding uses, as passages with their sources (an action)."""
        from botifython_tui.core.memory.grounding import source_label

        memory = self._memory()
        if memory is None:
            raise ActionRefused("The document memory is not installed here.")
        hits = await memory.asearch(query, self.profile_id, k=limit)
        return [
            {
                "source": source_label(hit.kind, hit.source, hit.title),
                "score": round(hit.score, 3),
                "text": hit.text[:1200],
            }
            for hit in hits
        ]

    async def remember(self, question: str, answer: str) -> None:
        """Each exchange joins the memory (the setting `memory.remember_chats`)."""
        from botifython_tui.core.memory.feeds import remembers_chats

        memory = self._memory()
        if memory is None or not self.host.save or not remembers_chats(self.host.store.kv):
            return
        profile_id, conversation_id = self.profile_id, self.conversation_id
        title = self.host.store.conversations(profile_id).get(conversation_id).title

        def remember() -> None:
            memory.remember_exchange(profile_id, conversation_id, title, question, answer)

        if self.host.background is not None:
            self.host.background(remember)
            return
        try:
            await asyncio.to_thread(remember)
        except Exception as exc:  # remembering is a bonus; the reply is saved
            log.warning("Could not remember the exchange: %s", exc)
