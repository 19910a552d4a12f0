"""The assistant's actions through the chat: tool calls and JSON, approval, the chain bound, audit."""

from __future__ import annotations

import dataclasses

import pytest

from botifython_tui.tui.app import make_app
from botifython_tui.tui.screens.chat import ChatScreen
from botifython_tui.tui.screens.dialogs import Confirm
from botifython_tui.tui.widgets.chat_input import ChatInput
from botifython_tui.tui.widgets.chat_pane import ChatPane
from tests.fakes.botify_server import FakeBotify, SyntheticGraph
from tests.fakes.ollama_server import FakeOllama, Reply
from tests.tui.helpers import until
from tests.tui.test_botify_support import ANALYSES, TOKEN, quick_polls  # noqa: F401


@pytest.fixture
def ollama():
    with FakeOllama(models=["llama3.2:latest"]) as fake:
        yield fake


@pytest.fixture
def chat_settings(settings, ollama):
    return dataclasses.replace(settings, ollama_host=ollama.base_url)


@pytest.fixture
def fake_botify():
    with FakeBotify(token=TOKEN, username="jane.doe") as fake:
        fake.add_project(
            "acme-org",
            "example.com",
            analyses=ANALYSES,
            graph=SyntheticGraph([1, 5, 25, 125], out_degree=(2, 6), seed=1),
        )
        yield fake


@pytest.fixture
def chosen_export(settings, fake_botify, store):
    """Connected to the fake Botify, with acme-org/example.com 20241108 chosen."""
    from botifython_tui.core.secrets import TokenStore
    from botifython_tui.core.selection import Selection, save_selection

    botify = dataclasses.replace(settings, botify_api_url=fake_botify.base_url, serve_port=0)
    TokenStore(botify.data_dir).save(TOKEN)
    save_selection(store, 1, Selection("acme-org", "example.com", "20241108"))
    return botify


async def ask(pilot, text: str) -> ChatPane:
    await pilot.press("f6")
    await until(pilot, lambda: isinstance(pilot.app.screen, ChatScreen))
    pane = pilot.app.screen.query_one(ChatPane)
    box = pane.query_one(ChatInput)
    box.focus()
    box.text = text
    await pilot.press("enter")
    return pane


def add_todo_call(title: str) -> Reply:
    return Reply(tool_calls=[{"name": "add_todo", "arguments": {"title": title}}])


@pytest.mark.parametrize("answer", ["y", "n"])
async def test_tool_call_asks_then_runs_or_not(chat_settings, store, ollama, answer):
    ollama.script(add_todo_call("Check [bold]canonicals[/]"), Reply(text="Done."))
    app = make_app(chat_settings, store)
    async with app.run_test(size=(100, 30)) as pilot:
        await ask(pilot, "Add a todo to check canonicals")
        await until(pilot, lambda: isinstance(app.screen, Confirm))
        assert "Check [bold]canonicals[/]" in app.screen.question  # shown literally
        await pilot.press(answer)
        await until(pilot, lambda: not app.chat.streaming)
    titles = [t.title for t in store.todos(1).list()]
    assert titles == (["Check [bold]canonicals[/]"] if answer == "y" else [])
    sent = ollama.chat_requests[0]
    assert any(t["function"]["name"] == "add_todo" for t in sent["tools"])
    follow_up = ollama.chat_requests[1]["messages"]
    assert follow_up[-1]["role"] == "tool"
    assert ('"ok": true' in follow_up[-1]["content"]) == (answer == "y")
    audit = store.audit(1).list(10)
    assert len(audit) == 1 and audit[0].action == "add_todo"


async def test_read_only_actions_run_without_asking(chat_settings, store, ollama):
    store.todos(1).add("Existing task")
    ollama.script(Reply(tool_calls=[{"name": "list_todos", "arguments": {}}]), Reply(text="One."))
    app = make_app(chat_settings, store)
    async with app.run_test(size=(100, 30)) as pilot:
        await ask(pilot, "What are my todos?")
        await until(pilot, lambda: not app.chat.streaming)
        assert not isinstance(app.screen, Confirm)
    assert "Existing task" in ollama.chat_requests[1]["messages"][-1]["content"]


async def test_json_form_when_the_model_has_no_tools(chat_settings, store, ollama):
    ollama.capabilities["llama3.2:latest"] = ["completion"]
    ollama.script(
        Reply(text='Sure.\n```json\n{"action": "add_todo", "args": {"title": "From JSON",}}\n```'),
        Reply(text="Added."),
    )
    store.kv["assistant.auto_approve_additive"] = True  # additive actions may skip the question
    app = make_app(chat_settings, store)
    async with app.run_test(size=(100, 30)) as pilot:
        await ask(pilot, "Add a todo")
        await until(pilot, lambda: not app.chat.streaming)
    assert [t.title for t in store.todos(1).list()] == ["From JSON"]
    assert store.kv["chat.tools.llama3.2:latest"] is False
    last = ollama.chat_requests[-1]
    assert "tools" not in last
    assert '"action"' in last["messages"][0]["content"]  # the JSON form is described
    assert last["messages"][-1]["content"].startswith("[Action result] add_todo")


async def test_deletions_always_ask_even_with_auto_approve(chat_settings, store, ollama):
    todo = store.todos(1).add("Keep me")
    store.kv["assistant.auto_approve_additive"] = True
    ollama.script(
        Reply(tool_calls=[{"name": "delete_todo", "arguments": {"todo_id": todo.id}}]),
        Reply(text="Ok."),
    )
    app = make_app(chat_settings, store)
    async with app.run_test(size=(100, 30)) as pilot:
        await ask(pilot, "Delete it")
        await until(pilot, lambda: isinstance(app.screen, Confirm))
        await pilot.press("n")
        await until(pilot, lambda: not app.chat.streaming)
    assert [t.title for t in store.todos(1).list()] == ["Keep me"]


async def test_chain_is_bounded(chat_settings, store, ollama):
    store.kv["assistant.auto_approve_additive"] = True
    titles = iter(f"again {n}" for n in range(100))
    ollama.default_reply = lambda body: add_todo_call(next(titles))  # a model that never stops
    app = make_app(chat_settings, store)
    async with app.run_test(size=(100, 30)) as pilot:
        await ask(pilot, "Add todos forever")
        await until(pilot, lambda: not app.chat.streaming, timeout=20)
    assert len(store.todos(1).list()) == 5
    assert len(ollama.chat_requests) <= 7


async def test_the_same_call_again_ends_the_turn(chat_settings, store, ollama):
    store.kv["assistant.auto_approve_additive"] = True
    ollama.default_reply = lambda body: add_todo_call("again")  # the same call, every turn
    app = make_app(chat_settings, store)
    async with app.run_test(size=(100, 30)) as pilot:
        await ask(pilot, "Add todos forever")
        await until(pilot, lambda: not app.chat.streaming, timeout=20)
    assert [t.title for t in store.todos(1).list()] == ["again"]
    assert len(ollama.chat_requests) == 2


async def test_malformed_and_unknown_actions_run_nothing(chat_settings, store, ollama):
    ollama.script(
        Reply(
            text='{"action": "drop_database", "args": {}} and {"action": "add_todo", "args": {"title": 5}}'
        ),
        Reply(text="Sorry."),
    )
    store.kv["assistant.auto_approve_additive"] = True
    app = make_app(chat_settings, store)
    async with app.run_test(size=(100, 30)) as pilot:
        await ask(pilot, "Do something")
        await until(pilot, lambda: not app.chat.streaming)
    assert store.todos(1).list() == []
    refusals = ollama.chat_requests[1]["messages"][-2:]
    assert all('"ok": false' in m["content"] for m in refusals)


async def test_the_actions_log_shows_what_ran(chat_settings, store, ollama):
    ollama.script(add_todo_call("Audit me [b]"), Reply(text="Done."))
    app = make_app(chat_settings, store)
    async with app.run_test(size=(100, 30)) as pilot:
        await ask(pilot, "Add it")
        await until(pilot, lambda: isinstance(app.screen, Confirm))
        await pilot.press("y")
        await until(pilot, lambda: not app.chat.streaming)
        await pilot.press("f7")
        await until(pilot, lambda: app.screen.app_name == "Actions")
        table = app.screen.query_one("#actions-table")
        assert table.row_count == 1
        row = [cell.plain for cell in table.get_row_at(0)]
        assert row[1] == "add_todo" and row[2] == "✓" and "Audit me [b]" in row[3]


async def test_several_actions_are_listed_then_approved_all_at_once(chat_settings, store, ollama):
    calls = [{"name": "add_todo", "arguments": {"title": f"Task {i}"}} for i in range(3)]
    ollama.script(Reply(tool_calls=calls), Reply(text="Three added."))
    app = make_app(chat_settings, store)
    async with app.run_test(size=(100, 30)) as pilot:
        pane = await ask(pilot, "Add three todos")
        await until(pilot, lambda: isinstance(app.screen, Confirm))
        dialog = app.screen
        assert "Action 1 of 3" in dialog.question
        assert "Approve all 3 (a)" in [str(b.label) for b in dialog.query("Button")]
        listed = [str(m.content) for m in pane.query("ChatMessage")]
        assert sum("Task" in line and "proposes" in line for line in listed) == 3
        await pilot.press("a")
        await until(pilot, lambda: not app.chat.streaming)
        assert not isinstance(app.screen, Confirm)  # asked once for all three
    assert [t.title for t in store.todos(1).list()] == ["Task 0", "Task 1", "Task 2"]


@pytest.mark.usefixtures("quick_polls")
async def test_an_assistant_export_does_not_switch_the_users_screen(
    chosen_export, store, ollama, fake_botify
):
    settings = dataclasses.replace(chosen_export, ollama_host=ollama.base_url)
    ollama.script(
        Reply(tool_calls=[{"name": "start_linkgraph_export", "arguments": {}}]),
        Reply(text="The export started."),
    )
    app = make_app(settings, store)
    async with app.run_test(size=(100, 30)) as pilot:
        await ask(pilot, "Export the link graph")
        await until(pilot, lambda: isinstance(app.screen, Confirm))
        assert "credits" in app.screen.question
        await pilot.press("y")
        # Once the counts are made (free), the export asks about its exact credits, over the
        # screen the user is on.
        await until(pilot, lambda: isinstance(app.screen, Confirm), timeout=20)
        assert "credits" in app.screen.question
        assert isinstance(app.screen_stack[-2], ChatScreen)
        await pilot.press("y")
        await until(pilot, lambda: not app.chat.streaming, timeout=20)
        assert isinstance(app.screen, ChatScreen)  # the user stays where they were
        await until(pilot, lambda: store.exports(1).list(), timeout=20)
        assert isinstance(app.screen, ChatScreen)
        await until(pilot, lambda: "Export" in app.chat.status, timeout=5)


async def test_a_stopped_reply_closes_its_approval_dialog_and_runs_nothing(
    chat_settings, store, ollama
):
    other = store.profiles.create("Client B")
    store.kv["chat.narration"] = "off"
    ollama.script(add_todo_call("Never added"), Reply(text="Not reached."))
    app = make_app(chat_settings, store)
    async with app.run_test(size=(100, 30)) as pilot:
        await ask(pilot, "Add a todo")
        await until(pilot, lambda: isinstance(app.screen, Confirm))
        app.switch_profile(other.id)  # the user moved on: the reply stops, the question is moot
        await until(pilot, lambda: not isinstance(app.screen, Confirm))
        await until(pilot, lambda: not app.chat.streaming)
    assert store.todos(1).list() == [] and store.todos(other.id).list() == []
    assert len(ollama.chat_requests) == 1


async def test_ctrl_s_turns_auto_approval_of_additions_on_and_off(chat_settings, store, ollama):
    from botifython_tui.core.actions import auto_approve_additive

    ollama.script(add_todo_call("Check the hreflang"), Reply(text="Added."))
    app = make_app(chat_settings, store)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("f6")
        await until(pilot, lambda: isinstance(app.screen, ChatScreen))
        await pilot.press("ctrl+s")
        await until(pilot, lambda: auto_approve_additive(store))
        await ask(pilot, "Add a todo to check the hreflang")
        await until(pilot, lambda: not app.chat.streaming)
        assert not isinstance(app.screen, Confirm)  # the addition ran without a question
        await pilot.press("ctrl+s")
        await until(pilot, lambda: not auto_approve_additive(store))
    assert [t.title for t in store.todos(1).list()] == ["Check the hreflang"]
