"""One profile's chat conversations and their messages."""

from __future__ import annotations

from botifython_tui.core.store.connection import Connection
from botifython_tui.core.store.errors import NotFound
from botifython_tui.core.store.records import Conversation, Message, utc_now

MAX_CONVERSATION_TITLE = 60


class ProfileConversations:
    """One profile's chat conversations: each a titled list of messages."""

    def __init__(self, store: Connection, profile_id: int) -> None:
        self._store = store
        self.profile_id = profile_id

    def list(self) -> list[Conversation]:
        rows = self._store.query(
            "SELECT c.id, c.profile_id, c.title, c.created_at, c.updated_at, count(m.id) "
            "FROM conversations c LEFT JOIN messages m ON m.conversation_id = c.id "
            "WHERE c.profile_id = ? GROUP BY c.id ORDER BY c.updated_at DESC, c.id DESC",
            [self.profile_id],
        )
        return [Conversation(*row) for row in rows]

    def get(self, conversation_id: int) -> Conversation:
        rows = self._store.query(
            "SELECT c.id, c.profile_id, c.title, c.created_at, c.updated_at, "
            "(SELECT count(*) FROM messages m WHERE m.conversation_id = c.id) "
            "FROM conversations c WHERE c.id = ? AND c.profile_id = ?",
            [conversation_id, self.profile_id],
        )
        if not rows:
            raise NotFound(f"There is no conversation {conversation_id} in this profile.")
        return Conversation(*rows[0])

    def create(self, title: str = "New conversation") -> Conversation:
        now = utc_now()
        with self._store.write() as db:
            cursor = db.execute(
                "INSERT INTO conversations (profile_id, title, created_at, updated_at) "
                "VALUES (?, ?, ?, ?)",
                [self.profile_id, _conversation_title(title), now, now],
            )
            conversation_id = cursor.lastrowid
        return self.get(conversation_id)

    def latest(self) -> Conversation:
        """The most recently used conversation, created if there is none."""
        conversations = self.list()
        return conversations[0] if conversations else self.create()

    def delete(self, conversation_id: int) -> None:
        with self._store.write() as db:
            self.get(conversation_id)
            db.execute(
                "DELETE FROM messages WHERE conversation_id = ? AND profile_id = ?",
                [conversation_id, self.profile_id],
            )
            db.execute(
                "DELETE FROM conversations WHERE id = ? AND profile_id = ?",
                [conversation_id, self.profile_id],
            )

    def messages(self, conversation_id: int, limit: int | None = None) -> list[Message]:
        self.get(conversation_id)
        rows = self._store.query(
            "SELECT id, profile_id, role, content, created_at FROM messages "
            "WHERE conversation_id = ? AND profile_id = ? ORDER BY id DESC LIMIT ?",
            [conversation_id, self.profile_id, -1 if limit is None else limit],
        )
        return [Message(*row) for row in reversed(rows)]

    def add_message(self, conversation_id: int, role: str, content: str) -> Message:
        now = utc_now()
        with self._store.write() as db:
            conversation = self.get(conversation_id)
            cursor = db.execute(
                "INSERT INTO messages (profile_id, conversation_id, role, content, created_at) "
                "VALUES (?, ?, ?, ?, ?)",
                [self.profile_id, conversation_id, role, content, now],
            )
            message_id = cursor.lastrowid
            title = conversation.title
            if role == "user" and title == "New conversation":
                title = _conversation_title(content)  # named after its first question
            db.execute(
                "UPDATE conversations SET updated_at = ?, title = ? WHERE id = ?",
                [now, title, conversation_id],
            )
        return Message(message_id, self.profile_id, role, content, now)

    def search(self, text: str, limit: int = 50) -> list[tuple[Conversation, Message]]:
        """Messages containing `text` (case-insensitive), newest first, with their conversation."""
        needle = text.strip()
        if not needle:
            return []
        pattern = "%" + needle.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        rows = self._store.query(
            "SELECT m.conversation_id, m.id, m.profile_id, m.role, m.content, m.created_at "
            "FROM messages m WHERE m.profile_id = ? AND m.content LIKE ? ESCAPE '\\' "
            "ORDER BY m.id DESC LIMIT ?",
            [self.profile_id, pattern, limit],
        )
        results = []
        for conversation_id, *message in rows:
            if conversation_id is None:
                continue
            results.append((self.get(conversation_id), Message(*message)))
        return results


def _conversation_title(text: str) -> str:
    title = " ".join(str(text).split())
    if len(title) > MAX_CONVERSATION_TITLE:
        title = title[: MAX_CONVERSATION_TITLE - 1].rstrip() + "…"
    return title or "New conversation"
