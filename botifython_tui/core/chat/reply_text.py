"""A reply as it streams in: tokens kept as they came, joined only when the whole text is read.

Joining on every token would copy the whole reply each time (quadratic in its length); the turn
and the chat pane both hold the reply in progress this way.
"""

from __future__ import annotations


class ReplyText:
    """The text of a reply in progress; `chars` is its length, `tail(n)` what follows its first n."""

    def __init__(self, text: str = "") -> None:
        self._chunks: list[str] = [text] if text else []
        self.chars = len(text)

    def append(self, text: str) -> None:
        self._chunks.append(text)
        self.chars += len(text)

    @property
    def text(self) -> str:
        if len(self._chunks) > 1:
            self._chunks[:] = ["".join(self._chunks)]
        return self._chunks[0] if self._chunks else ""

    def __bool__(self) -> bool:
        return self.chars > 0

    def tail(self, shown: int) -> str:
        """The end of the text past its first `shown` characters (only the last chunks joined)."""
        missing = self.chars - shown
        if missing <= 0:
            return ""
        parts: list[str] = []
        for chunk in reversed(self._chunks):
            parts.append(chunk)
            missing -= len(chunk)
            if missing <= 0:
                break
        return "".join(reversed(parts))[-(self.chars - shown) :]
