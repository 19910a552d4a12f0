"""Snapshot tests of the main screens at 80x24 (regenerate with --snapshot-update)."""

from __future__ import annotations

import pytest

from botifython_tui.tui.app import make_app

SIZE = (80, 24)


@pytest.fixture
def populated(store):
    todos = store.todos(1)
    for title in ("Verify the Botify token", "Pick project and analysis", "Export the link graph"):
        todos.add(title)
    todos.set_done(1)
    todos.add("Literal [bold]markup[/] stays literal")
    store.profiles.create("Client [red]A[/]")
    return store


async def freeze(pilot) -> None:
    for field in pilot.app.screen.query("Input, TextArea"):
        field.cursor_blink = False
    await pilot.pause()


def test_todos_screen(snap_compare, settings, populated):
    app = make_app(settings, populated)
    assert snap_compare(app, terminal_size=SIZE, run_before=freeze)


def test_profiles_screen(snap_compare, settings, populated):
    app = make_app(settings, populated)

    async def open_profiles(pilot):
        await pilot.press("f3")
        await freeze(pilot)

    assert snap_compare(app, terminal_size=SIZE, run_before=open_profiles)


def test_delete_confirmation(snap_compare, settings, populated):
    app = make_app(settings, populated)

    async def ask_delete(pilot):
        await pilot.press("escape", "d")  # from the input (focused on arrival) to the list
        await freeze(pilot)

    assert snap_compare(app, terminal_size=SIZE, run_before=ask_delete)


def test_chat_with_a_finished_reply(snap_compare, settings, store):
    conversations = store.conversations(1)
    conversation = conversations.create()
    conversations.add_message(conversation.id, "user", "How do I spend crawl budget well?")
    conversations.add_message(
        conversation.id,
        "assistant",
        "## Crawl budget\n\nFix broken links first:\n\n- remove 404s\n- shorten redirect chains\n\n"
        "Then look at **depth**: pages at depth 4+ are crawled least. Literal [bold]markup[/] stays.",
    )
    store.kv["chat.model"] = "llama3.2:latest"
    app = make_app(settings, store)

    async def open_chat(pilot):
        await pilot.press("f6")
        await pilot.pause(0.5)
        await freeze(pilot)

    assert snap_compare(app, terminal_size=SIZE, run_before=open_chat)
