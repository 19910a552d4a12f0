"""A model reply streamed as Markdown whose finished blocks stop changing.

Textual's `Markdown.append` re-reads the whole document on every call, so one `Markdown` fed a long
reply slows down as it grows. Here the reply is a column of `Markdown` widgets (segments of a few
blocks each): once a segment has grown past a couple of thousand characters, the next block end (a
blank line outside a code fence) freezes it for good, and only the last, short segment receives the
stream, in batches of at most one per frame. The cost of each token stays flat however long the reply gets.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from typing import TYPE_CHECKING

from textual.containers import Vertical
from textual.widgets import Static

if TYPE_CHECKING:  # Markdown (markdown-it) loads with the first reply, not at start-up
    from textual.widgets import Markdown
    from textual.widgets.markdown import MarkdownStream

from botifython_tui.core.text import neutralize_controls

_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})", re.MULTILINE)
SEGMENT_CHARS = 800  # a segment is frozen at the first block end past this size
MAX_LIVE_CHARS = 8000  # past this, a segment is cut at a line end even without a blank line
FLUSH_INTERVAL = 1 / 30  # tokens are drawn in batches, at most this often


def _safe(text: str) -> str:
    """Model text is Markdown, never Rich markup; control characters are made visible."""
    return neutralize_controls(text.replace("\r\n", "\n")).replace("\r", "")


async def stop_stream(stream: MarkdownStream) -> None:
    """Stop a Markdown stream without letting its cancellation out.

    Textual's `MarkdownStream.stop()` cancels the stream's task and awaits it. When the task had
    not run yet, or was cancelled a second time while appending its last text, it ends cancelled
    and the await raises `CancelledError` in the caller although nobody cancelled the caller.
    Escaping from `on_unmount`, that error ended the widget's message loop, and with it the loops
    awaiting the removal: the chat pane's and the app's (the app froze mid-reply).
    """
    try:
        await stream.stop()
    except asyncio.CancelledError:
        task = asyncio.current_task()
        if task is not None and task.cancelling():
            raise  # the caller itself is being cancelled: that must go on


class ReplyView(Vertical):
    """One assistant reply. `write()` fragments as they arrive; `finish()` when it ends."""

    DEFAULT_CSS = """
    ReplyView { height: auto; }
    ReplyView > Markdown { margin: 0; padding: 0; }
    """

    freeze_segments = True  # True trades the Markdown look of old segments for less layout work

    def __init__(self, text: str = "", **kwargs) -> None:
        super().__init__(**kwargs)
        self._initial = _safe(text)
        self._live: Markdown | None = None
        self._stream: MarkdownStream | None = None
        self._reset_block()
        self.text = ""
        self.finished = False
        self._pending: list[str] = []
        self._flush_timer = None
        self._flushing = False

    def _reset_block(self) -> None:
        self._live_text = ""
        self._scan_pos = 0  # complete lines before this offset have been looked at
        self._fence: str | None = None
        self._has_content = False

    def compose(self):
        yield from ()

    async def on_mount(self) -> None:
        if self._initial:
            self.write(self._initial)
            await self._flush()

    def write(self, fragment: str) -> None:
        """Queue a fragment; it is drawn with the others that arrive within the same frame."""
        if not fragment or self.finished:
            return
        fragment = _safe(fragment)
        self.text += fragment
        self._pending.append(fragment)
        if self._flush_timer is None and not self._flushing and self.is_mounted:
            self._flush_timer = self.set_timer(FLUSH_INTERVAL, self._flush)

    async def _flush(self) -> None:
        self._flush_timer = None
        if self._flushing:
            return
        self._flushing = True
        try:
            while self._pending and self.is_attached:
                data = "".join(self._pending)
                self._pending.clear()
                await self._draw(data)
        finally:
            self._flushing = False

    async def _draw(self, data: str) -> None:
        """Append text to the live block; complete blocks are frozen as they end."""
        while data:
            if self._live is None:
                await self._new_block()
            start = len(self._live_text)
            self._live_text += data
            end = self._scan(start)
            if end < 0:
                await self._write_live(data)
                return
            await self._write_live(data[: end - start])
            await self._close_live()
            data = data[end - start :]
            self._reset_block()

    def _scan(self, start: int) -> int:
        """Offset just past the live block's end (a blank line outside a code fence), or -1."""
        text = self._live_text
        while (newline := text.find("\n", self._scan_pos)) >= 0:
            line = text[self._scan_pos : newline + 1]
            self._scan_pos = newline + 1
            fence = _FENCE.match(line)
            if fence:
                marker = fence.group(1)
                if self._fence is None:
                    self._fence = marker[0] * 3
                elif marker.startswith(self._fence):
                    self._fence = None
            if not line.strip():
                if self._fence is None and self._has_content and self._scan_pos >= SEGMENT_CHARS:
                    return self._scan_pos
            else:
                self._has_content = True
        if self._fence is None and len(text) > MAX_LIVE_CHARS and self._scan_pos > start:
            return self._scan_pos  # a very long paragraph: cut at its last line end
        return -1

    async def _write_live(self, text: str) -> None:
        if self._stream is not None:  # None once removed: the text is kept in `self.text`
            await self._stream.write(text)

    async def _new_block(self) -> None:
        from textual.widgets import Markdown

        self._live = Markdown(classes="reply-block")
        await self.mount(self._live)
        self._stream = Markdown.get_stream(self._live)

    async def _close_live(self) -> None:
        # The stream is taken before the await: `on_unmount` may run meanwhile (the log is
        # rebuilt while the reply ends) and must not stop the same stream a second time.
        live, stream, self._live, self._stream = self._live, self._stream, None, None
        if stream is not None:
            await stop_stream(stream)
        if live is not None and self.freeze_segments and self.is_attached:
            from rich.markdown import Markdown as RichMarkdown

            # A finished segment becomes one plain widget: Textual lays out every widget on
            # every frame, and a Markdown widget is one widget per paragraph.
            frozen = Static(RichMarkdown(live.source), classes="reply-frozen")
            await self.mount(frozen, before=live)
            await live.remove()

    async def on_unmount(self) -> None:
        # Removed while streaming (the log was rebuilt): end the stream's task with the widget.
        if self._flush_timer is not None:
            self._flush_timer.stop()
        stream, self._stream = self._stream, None
        if stream is not None:
            with contextlib.suppress(Exception):
                await stop_stream(stream)

    async def finish(self) -> None:
        """The reply ended (or was stopped): draw what is queued and freeze the last block."""
        if self._flush_timer is not None:
            self._flush_timer.stop()
            self._flush_timer = None
        while self._flushing:
            await asyncio.sleep(0.005)
        await self._flush()
        await self._close_live()
        self.finished = True
