"""A reply removed while it streams: the stream stops, and nothing else does.

Textual's `MarkdownStream.stop()` raises `CancelledError` in its caller when the stream's task
ends cancelled (stopped before it first ran, or stopped twice). Escaping a widget's `on_unmount`,
that ended the widget's message loop and the app's, which awaited the removal: the app froze when
the profile was switched mid-reply under load.
"""

from __future__ import annotations

import asyncio

import pytest
from textual.app import App, ComposeResult
from textual.containers import VerticalScroll
from textual.widgets import Markdown

from botifython_tui.tui.widgets.reply_view import ReplyView, stop_stream
from tests.tui.helpers import until

PARAGRAPHS = "\n\n".join(f"Paragraph {n} about internal links and anchors." * 3 for n in range(40))


class Host(App):
    def compose(self) -> ComposeResult:
        yield VerticalScroll(id="log")


async def test_textual_raises_in_the_caller_when_a_stream_stops_before_it_ran():
    """The fault itself: if Textual fixes it, `stop_stream` is still right, and this says so."""
    app = Host()
    async with app.run_test() as pilot:
        markdown = Markdown()
        await app.query_one("#log").mount(markdown)
        stream = Markdown.get_stream(markdown)  # its task is created, not yet run
        with pytest.raises(asyncio.CancelledError):
            await stream.stop()
        assert asyncio.current_task().cancelling() == 0  # nobody cancelled this task
        await pilot.pause()


async def test_stop_stream_keeps_the_callers_loop_alive():
    app = Host()
    async with app.run_test() as pilot:
        markdown = Markdown()
        await app.query_one("#log").mount(markdown)
        stream = Markdown.get_stream(markdown)
        await stop_stream(stream)  # returns: the error was the stream's own
        await pilot.pause()
        assert app.is_running


async def test_stop_stream_still_lets_the_callers_own_cancellation_through():
    class SlowStream:
        async def stop(self) -> None:
            await asyncio.sleep(30)

    task = asyncio.create_task(stop_stream(SlowStream()))  # type: ignore[arg-type]
    await asyncio.sleep(0.01)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert task.cancelled()


@pytest.mark.parametrize("rounds", [12])
async def test_replies_removed_while_they_stream_leave_the_app_running(rounds):
    app = Host()
    async with app.run_test() as pilot:
        log = app.query_one("#log")
        for n in range(rounds):
            reply = ReplyView()
            await log.mount(reply)
            reply.write(PARAGRAPHS[: 200 + 97 * n])
            # The reply ends (in the chat's worker) while the log is rebuilt (in the pane).
            ending = asyncio.create_task(reply.finish())
            if n % 2:
                await asyncio.sleep(0)
            await log.remove_children()
            await ending
            await pilot.pause()
        assert app.is_running
        await log.mount(Markdown("still drawing"))
        await until(pilot, lambda: len(log.children) == 1)
