"""Pilot tests of the chat pane against a fake Ollama server (real HTTP)."""

from __future__ import annotations

import asyncio
import dataclasses
import socket
import time

import pytest
from textual.widgets import Input

from botifython_tui.core.app_events import TodoAdded
from botifython_tui.core.conversation import EVENT_PREFIX, EVENT_ROLE
from botifython_tui.core.store import Store
from botifython_tui.tui.app import make_app
from botifython_tui.tui.screens.chat import ChatScreen
from botifython_tui.tui.widgets.chat_input import ChatInput
from botifython_tui.tui.widgets.chat_pane import ChatPane
from tests.fakes.ollama_server import FakeOllama, Reply
from tests.tui.helpers import burst, until

LONG_REPLY = " ".join(f"word{i}" for i in range(200))


@pytest.fixture
def ollama():
    with FakeOllama(models=["llama3.2:latest", "qwen2.5:0.5b"]) as fake:
        yield fake


@pytest.fixture
def chat_settings(settings, ollama):
    return dataclasses.replace(settings, ollama_host=ollama.base_url)


async def open_chat(pilot) -> ChatPane:
    await pilot.press("f6")
    await until(pilot, lambda: isinstance(pilot.app.screen, ChatScreen))
    pane = pilot.app.screen.query_one(ChatPane)
    return pane


async def ask(pilot, pane: ChatPane, text: str) -> None:
    box = pane.query_one(ChatInput)
    box.focus()
    box.text = text
    await pilot.press("enter")


def stored(store: Store, profile_id: int = 1) -> list[tuple[str, str]]:
    """Every message the profile keeps, in every conversation, oldest first."""
    chats = store.conversations(profile_id)
    messages = sorted((m for c in chats.list() for m in chats.messages(c.id)), key=lambda m: m.id)
    return [(m.role, m.content) for m in messages]


async def test_tokens_appear_before_the_reply_ends(chat_settings, store, ollama):
    ollama.script(Reply(text=LONG_REPLY, token_delay=0.01))
    app = make_app(chat_settings, store)
    async with app.run_test(size=(100, 30)) as pilot:
        pane = await open_chat(pilot)
        await ask(pilot, pane, "Tell me about link graphs")
        await until(pilot, lambda: pane.live_reply is not None and "word5 " in pane.live_reply.text)
        assert app.chat.streaming  # still streaming: tokens arrived before the end
        await until(pilot, lambda: not app.chat.streaming)
        assert stored(store)[-1] == ("assistant", LONG_REPLY)
        assert "tokens" in app.chat.status and "tok/s" in app.chat.status
        sent = ollama.chat_requests[-1]
        assert sent["model"] == "llama3.2:latest"
        assert sent["messages"][0]["role"] == "system"
        assert sent["messages"][-1] == {"role": "user", "content": "Tell me about link graphs"}


async def test_escape_stops_the_reply_and_the_server_sees_the_disconnect(
    chat_settings, store, ollama
):
    ollama.script(Reply(text=LONG_REPLY, token_delay=0.05))
    app = make_app(chat_settings, store)
    async with app.run_test(size=(100, 30)) as pilot:
        pane = await open_chat(pilot)
        await ask(pilot, pane, "Go on and on")
        await until(pilot, lambda: len(app.chat.partial) > 20)
        await pilot.press("escape")
        await until(pilot, lambda: not app.chat.streaming, timeout=2)
        request = ollama.find_requests("/api/chat")[-1]
        deadline = time.monotonic() + 2
        while not request.disconnected and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
        assert request.disconnected
        assert request.lines_sent < 100  # generation stopped well before the 200 tokens
        role, content = stored(store)[-1]
        assert role == "assistant" and content.endswith("*(stopped)*")
        assert content.startswith("word0 word1")
        assert "Stopped" in app.chat.status
        assert pane.query_one(ChatInput).text == ""  # the input stayed usable


async def test_history_persists_across_a_restart(chat_settings, ollama):
    ollama.script(Reply(text="First answer."), Reply(text="Second answer."))
    store = Store(chat_settings.db_path)
    app = make_app(chat_settings, store)
    async with app.run_test(size=(100, 30)) as pilot:
        pane = await open_chat(pilot)
        await ask(pilot, pane, "First question")
        await until(pilot, lambda: not app.chat.streaming and len(stored(store)) == 2)
    store.close()

    store = Store(chat_settings.db_path)
    app = make_app(chat_settings, store)
    async with app.run_test(size=(100, 30)) as pilot:
        pane = await open_chat(pilot)
        await until(pilot, lambda: pane.shown_version == app.chat.version)
        shown = [m.content for m in pane.query("ChatMessage")]
        assert shown == ["First question", "First answer."]
        await ask(pilot, pane, "Second question")
        await until(pilot, lambda: not app.chat.streaming and len(stored(store)) == 4)
        sent = [m["content"] for m in ollama.chat_requests[-1]["messages"][1:]]
        assert sent == ["First question", "First answer.", "Second question"]
    store.close()


async def test_history_sent_stays_within_the_budget(chat_settings, store, ollama):
    conversations = store.conversations(1)
    conversation = conversations.latest()
    for i in range(60):
        conversations.add_message(conversation.id, "user", f"old question {i} " + "x" * 400)
        conversations.add_message(conversation.id, "assistant", f"old answer {i} " + "y" * 400)
    store.kv["chat.context_tokens"] = 1000
    app = make_app(chat_settings, store)
    async with app.run_test(size=(100, 30)) as pilot:
        pane = await open_chat(pilot)
        await ask(pilot, pane, "The newest question")
        await until(pilot, lambda: not app.chat.streaming)
    sent = ollama.chat_requests[-1]["messages"]
    assert sent[0]["role"] == "system"
    assert sent[-1]["content"] == "The newest question"
    assert sum(len(m["content"]) for m in sent) // 3 <= 1000
    assert 2 < len(sent) < 20  # old turns were dropped, newest first kept
    assert "old answer 59" in sent[-2]["content"]


async def test_a_burst_of_todos_becomes_one_narration_request(chat_settings, store, ollama):
    store.kv["chat.narration"] = "everything"  # todos are not milestones
    app = make_app(chat_settings, store)
    async with app.run_test(size=(100, 30)) as pilot:
        app.chat.scheduler.quiet = 1.0  # longer than the gap between two presses, even under load
        todo_box = app.screen.query_one("#new-todo", Input)
        todo_box.focus()
        for i in range(10):
            todo_box.value = f"Task {i}"
            await pilot.press("enter")
        await until(pilot, lambda: len(ollama.chat_requests) == 1)
        await until(pilot, lambda: not app.chat.streaming)
        await pilot.pause(0.5)
        assert len(ollama.chat_requests) == 1
        sent = ollama.chat_requests[0]["messages"]
        event = sent[-1]["content"]
        assert event.startswith(EVENT_PREFIX) and "[App event]" not in event
        assert all(f"Task {i}" in event for i in range(10))
        roles = [role for role, _ in stored(store)]
        assert roles == [EVENT_ROLE, "assistant"]


async def test_narration_waits_silently_when_ollama_is_absent(settings, store):
    dead = dataclasses.replace(settings, ollama_host="http://127.0.0.1:9")
    store.kv["chat.narration"] = "everything"
    app = make_app(dead, store)
    async with app.run_test(size=(100, 30)) as pilot:
        app.chat.scheduler.quiet = 0.1
        todo_box = app.screen.query_one("#new-todo", Input)
        todo_box.focus()
        todo_box.value = "Crawl the blog"
        await pilot.press("enter")
        assert [t.title for t in store.todos(1).list()] == ["Crawl the blog"]
        await until(pilot, lambda: app.chat.scheduler.owed)
        assert not [n for n in app._notifications if n.severity == "error"]
        assert stored(store)[0][0] == EVENT_ROLE  # the event is kept for later


async def test_a_hanging_ollama_never_slows_the_action_itself(settings, store):
    hang = socket.socket()
    hang.bind(("127.0.0.1", 0))
    hang.listen(8)  # accepts connections into the backlog and never answers
    port = hang.getsockname()[1]
    store.kv["chat.narration"] = "everything"
    app = make_app(dataclasses.replace(settings, ollama_host=f"127.0.0.1:{port}"), store)
    try:
        async with app.run_test(size=(100, 30)) as pilot:
            app.chat.scheduler.quiet = 0.05
            todo_box = app.screen.query_one("#new-todo", Input)
            todo_box.focus()
            todo_box.value = "First"
            await pilot.press("enter")
            await until(pilot, lambda: app.chat.scheduler.narrating)  # narration is stuck
            started = time.monotonic()
            todo_box.value = "Second"
            await pilot.press("enter")
            assert time.monotonic() - started < 1.0
            assert [t.title for t in store.todos(1).list()] == ["First", "Second"]
    finally:
        hang.close()


@pytest.mark.parametrize(
    ("setup", "expected"),
    [
        (
            lambda f: f.script(Reply(status=500, error="model runner has unexpectedly stopped")),
            "HTTP 500",
        ),
        (lambda f: f.script(Reply(text=LONG_REPLY, error_after=5)), "error in the middle"),
        (lambda f: f.script(Reply(text=LONG_REPLY, drop_after=5)), "dropped"),
        (lambda f: f.script(Reply(status=503)), "busy"),
        (lambda f: setattr(f, "models", []), "ollama pull"),
    ],
    ids=["5xx", "mid-stream-error", "dropped", "busy", "no-models"],
)
async def test_faults_show_a_clear_message_and_keep_the_conversation(
    chat_settings, store, ollama, setup, expected
):
    setup(ollama)
    app = make_app(chat_settings, store)
    async with app.run_test(size=(100, 30)) as pilot:
        pane = await open_chat(pilot)
        await ask(pilot, pane, "Hello?")
        await until(pilot, lambda: not app.chat.streaming)
        await pilot.pause()
        errors = [n.message for n in app._notifications if n.severity == "error"]
        assert errors and expected in errors[-1]
        assert pane.query(".chat-error")
        assert stored(store)[0] == ("user", "Hello?")  # the question is never lost
        assert app.is_running


async def test_missing_model_says_how_to_pull_it(chat_settings, store, ollama):
    store.kv["chat.model"] = "mistral"
    app = make_app(chat_settings, store)
    async with app.run_test(size=(100, 30)) as pilot:
        pane = await open_chat(pilot)
        await ask(pilot, pane, "Hi")
        await until(pilot, lambda: not app.chat.streaming)
        errors = [n.message for n in app._notifications if n.severity == "error"]
        assert "ollama pull mistral" in errors[-1]


async def test_unreachable_and_slow_hosts(settings, store, ollama):
    app = make_app(dataclasses.replace(settings, ollama_host="127.0.0.1:9"), store)
    async with app.run_test(size=(100, 30)) as pilot:
        pane = await open_chat(pilot)
        await ask(pilot, pane, "Anyone there?")
        await until(pilot, lambda: not app.chat.streaming)
        errors = [n.message for n in app._notifications if n.severity == "error"]
        assert "127.0.0.1:9" in errors[-1] and "ollama serve" in errors[-1]

    ollama.script(Reply(text="late", first_token_delay=3))
    app = make_app(dataclasses.replace(settings, ollama_host=ollama.base_url), store)
    async with app.run_test(size=(100, 30)) as pilot:
        app.chat.client_options = {"first_token_timeout": 0.5}
        pane = await open_chat(pilot)
        started = time.monotonic()
        await ask(pilot, pane, "Slow?")
        await until(pilot, lambda: not app.chat.streaming, timeout=5)
        assert time.monotonic() - started < 3
        errors = [n.message for n in app._notifications if n.severity == "error"]
        assert "stopped sending" in errors[-1]


async def test_model_markup_and_escapes_are_shown_literally(chat_settings, store, ollama):
    hostile = "Use [bold red]this[/] and [link=http://x]that[/link] \x1b[2J\x1b]0;pwned\x07 ok"
    ollama.script(Reply(text=hostile))
    app = make_app(chat_settings, store)
    async with app.run_test(size=(100, 30)) as pilot:
        pane = await open_chat(pilot)
        await ask(pilot, pane, "[bold]my question[/]")
        await until(pilot, lambda: not app.chat.streaming)
        await pilot.pause()
        reply = pane.query("ReplyView").last()
        assert "[bold red]this[/]" in reply.text
        assert "\x1b" not in reply.text and "\x07" not in reply.text
        user = pane.query(".chat-user-text").first()
        assert "[bold]my question[/]" in str(user.render())


async def test_docked_pane_toggles_beside_todos(chat_settings, store, ollama):
    ollama.script(Reply(text="Docked answer."))
    app = make_app(chat_settings, store)
    async with app.run_test(size=(120, 30)) as pilot:
        assert not app.screen.query(ChatPane)  # mounted on first use, not at start-up
        await pilot.press("ctrl+t")
        await pilot.pause()
        docked = app.screen.query_one(ChatPane)
        assert docked.display
        assert app.focused is docked.query_one(ChatInput)
        await ask(pilot, docked, "From the todo screen")
        await until(pilot, lambda: not app.chat.streaming)
        await until(pilot, lambda: docked.query("ReplyView"))
        assert docked.query("ReplyView").last().text == "Docked answer."
        await pilot.press("ctrl+t")
        assert not docked.display


async def test_conversations_new_search_and_delete(chat_settings, store, ollama):
    conversations = store.conversations(1)
    old = conversations.create()
    conversations.add_message(old.id, "user", "What about canonical tags?")
    conversations.add_message(old.id, "assistant", "They matter.")
    app = make_app(chat_settings, store)
    async with app.run_test(size=(100, 30)) as pilot:
        pane = await open_chat(pilot)
        await pilot.press("ctrl+l")  # new conversation
        await ask(pilot, pane, "Fresh start")
        await until(pilot, lambda: not app.chat.streaming)
        assert len(conversations.list()) == 2
        await pilot.press("ctrl+f")
        search = app.screen.query_one("#chat-search", Input)
        search.value = "canonical"
        await pilot.pause()
        listing = app.screen.query_one("#chat-list")
        assert listing.option_count == 1
        listing.focus()
        listing.highlighted = 0
        await pilot.press("enter")
        await until(pilot, lambda: app.chat.conversation_id == old.id)
        await until(pilot, lambda: pane.shown_version == app.chat.version)
        assert [m.content for m in pane.query("ChatMessage")][0] == "What about canonical tags?"
        listing.focus()
        await pilot.press("d", "y")
        await pilot.pause()
        assert [c.id for c in conversations.list()] != [] and old.id not in [
            c.id for c in conversations.list()
        ]


async def test_switching_profile_mid_reply_keeps_the_reply_in_its_own_profile(
    chat_settings, store, ollama
):
    other = store.profiles.create("Client B")
    store.kv["chat.narration"] = "off"  # the switch is a milestone: no comment in profile B here
    ollama.script(Reply(text=LONG_REPLY, token_delay=0.03))
    app = make_app(chat_settings, store)
    async with app.run_test(size=(100, 30)) as pilot:
        pane = await open_chat(pilot)
        await ask(pilot, pane, "Start answering")
        await until(pilot, lambda: len(app.chat.partial) > 10)
        app.switch_profile(other.id)
        await until(pilot, lambda: not app.chat.streaming)
        assert stored(store, 1)[-1][1].endswith("*(stopped)*")
        assert stored(store, other.id) == []  # nothing leaked into the other profile
        assert app.is_running


async def test_the_botify_token_never_reaches_the_model(chat_settings, store, ollama):
    import json

    from botifython_tui.core.secrets import TokenStore

    TokenStore(chat_settings.data_dir).save("tok-SECRET-1234567890")
    app = make_app(chat_settings, store)
    async with app.run_test(size=(100, 30)) as pilot:
        pane = await open_chat(pilot)
        await ask(pilot, pane, "What is my Botify token?")
        await until(pilot, lambda: not app.chat.streaming)
    assert "tok-SECRET" not in json.dumps(ollama.chat_requests)
    assert "tok-SECRET" not in chat_settings.log_path.read_text()


async def test_enter_while_a_reply_streams_queues_the_message(chat_settings, store, ollama):
    ollama.script(Reply(text=LONG_REPLY, token_delay=0.05), Reply(text="Second answer."))
    app = make_app(chat_settings, store)
    async with app.run_test(size=(100, 30)) as pilot:
        pane = await open_chat(pilot)
        await ask(pilot, pane, "First question")
        await until(pilot, lambda: len(app.chat.partial) > 20)
        await ask(pilot, pane, "Second question")
        assert pane.query_one(ChatInput).text == ""  # taken, not ignored
        queued = pane.query_one("#chat-queued")
        await until(pilot, lambda: queued.display and "Second question" in str(queued.render()))
        assert "Queued" in app.chat.status
        await until(pilot, lambda: not app.chat.streaming, timeout=20)
        assert not queued.display
    assert stored(store) == [
        ("user", "First question"),
        ("assistant", LONG_REPLY),
        ("user", "Second question"),
        ("assistant", "Second answer."),
    ]


async def test_a_question_wins_over_narration_and_replies_never_mix(chat_settings, store, ollama):
    narration = " ".join(f"comment{i}" for i in range(150))
    ollama.script(
        Reply(text=narration, token_delay=0.03),
        Reply(text="The answer."),
        Reply(text="About your second todo."),
    )
    store.kv["chat.narration"] = "everything"
    app = make_app(chat_settings, store)
    async with app.run_test(size=(100, 30)) as pilot:
        app.chat.scheduler.quiet = 0.05
        pane = await open_chat(pilot)
        app.publish(TodoAdded("First"))
        await until(pilot, lambda: len(app.chat.partial) > 30)
        app.publish(TodoAdded("Second"))
        await ask(pilot, pane, "My question")
        await until(pilot, lambda: len(ollama.chat_requests) == 3, timeout=20)
        await until(pilot, lambda: not app.chat.streaming, timeout=20)
        await until(pilot, lambda: pane.shown_version == app.chat.version)
        bubbles = [r.text for r in pane.query("ReplyView")]
    roles = [role for role, _ in stored(store)]
    assert roles == [EVENT_ROLE, "assistant", "user", "assistant", EVENT_ROLE, "assistant"]
    replies = [content for role, content in stored(store) if role == "assistant"]
    assert replies[0].endswith("*(stopped)*") and "The answer" not in replies[0]
    assert replies[1:] == ["The answer.", "About your second todo."]
    assert bubbles[1:] == ["The answer.", "About your second todo."]
    assert "comment" not in bubbles[1] and "comment" not in bubbles[2]


async def test_ctrl_n_turns_narration_off_and_back_to_its_level(chat_settings, store, ollama):
    store.kv["chat.narration"] = "everything"
    app = make_app(chat_settings, store)
    async with app.run_test(size=(100, 30)) as pilot:
        await open_chat(pilot)
        await pilot.press("ctrl+n")
        assert store.kv["chat.narration"] == "off"
        assert "off" in str(app.screen.query_one("#chat-narration").render())
        app.publish(TodoAdded("Told, not commented"))
        await pilot.pause(0.3)
        await pilot.press("ctrl+n")
        assert store.kv["chat.narration"] == "everything"
        # Past the quiet period: what happened while it was off is not brought up now.
        await pilot.pause(app.chat.scheduler.quiet + 0.5)
    assert ollama.chat_requests == []


@pytest.mark.parametrize("keys", [("ctrl+t", "h", "i"), ("ctrl+t", "ctrl+t", "ctrl+t", "x")])
async def test_keys_right_after_ctrl_t_never_crash_the_app(chat_settings, store, ollama, keys):
    """Ctrl+T mounts the pane on its first showing; keys that arrive before it is composed (or a
    toggle pressed again at once) must not find it half-built."""
    app = make_app(chat_settings, store)
    async with app.run_test(size=(120, 30)) as pilot:
        await burst(pilot, *keys)
        await pilot.pause(0.2)
        assert app.return_code is None and app.is_running
        pane = app.screen.query_one(ChatPane)
        assert pane.display is (keys.count("ctrl+t") % 2 == 1)
        if pane.display:
            await until(pilot, lambda: app.focused is pane.query_one(ChatInput))
