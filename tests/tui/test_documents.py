"""The Documents screen and chat grounding, with the fast hashing embedder (no model download)."""

from __future__ import annotations

import dataclasses
import sys
import threading

import pytest

pytest.importorskip("faiss")

from botifython_tui.core.memory import HashingEmbedder, Memory  # noqa: E402
from botifython_tui.tui.app import make_app  # noqa: E402
from botifython_tui.tui.screens.chat import ChatScreen  # noqa: E402
from botifython_tui.tui.screens.dialogs import Confirm, TextPrompt  # noqa: E402
from botifython_tui.tui.screens.documents import DocumentsScreen  # noqa: E402
from botifython_tui.tui.widgets.chat_input import ChatInput  # noqa: E402
from botifython_tui.tui.widgets.chat_pane import ChatPane  # noqa: E402
from tests.fakes.ollama_server import FakeOllama, Reply  # noqa: E402
from tests.tui.helpers import until as wait_until  # noqa: E402


async def until(pilot, condition, timeout: float = 15.0) -> None:
    await wait_until(pilot, condition, timeout)


@pytest.fixture
def docs(tmp_path):
    folder = tmp_path / "notes"
    folder.mkdir()
    (folder / "robots.md").write_text(
        "# Robots\n\nThe robots.txt file tells crawlers which paths to avoid.\n"
    )
    (folder / "canonical.md").write_text(
        "# Canonicals\n\nA canonical tag names the preferred URL among duplicates.\n"
    )
    return folder


def app_with_memory(settings, store, embedder):
    app = make_app(settings, store)
    app._memory = Memory(store, settings.data_dir, embedder)
    return app


async def test_add_search_and_remove_from_the_documents_screen(settings, store, docs):
    embedder = HashingEmbedder()
    app = app_with_memory(settings, store, embedder)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("f8")
        await until(pilot, lambda: isinstance(app.screen, DocumentsScreen))
        screen = app.screen
        await pilot.press("a")
        assert isinstance(app.screen, TextPrompt)
        app.screen.query_one("Input").value = str(docs)
        await pilot.press("enter")
        await until(pilot, lambda: screen.query_one("#docs-table").row_count == 2)
        assert "Added 2" in str(screen.query_one("#docs-status").render())
        ui_thread = threading.main_thread().ident
        assert embedder.calls and all(thread != ui_thread for thread, _ in embedder.calls)

        await pilot.press("f")
        app.screen.query_one("Input").value = "which paths should crawlers avoid"
        await pilot.press("enter")
        await until(pilot, lambda: "robots" in str(screen.query_one("#docs-results").render()))

        await pilot.press("d")
        assert isinstance(app.screen, Confirm)
        await pilot.press("y")
        await until(pilot, lambda: screen.query_one("#docs-table").row_count == 1)


async def test_chat_is_grounded_with_numbered_sources(settings, store, docs):
    memory = Memory(store, settings.data_dir, HashingEmbedder())
    await_report = memory.add_paths  # runs in a thread below
    with FakeOllama(models=["llama3.2:latest"]) as ollama:
        ollama.script(Reply(text="Use robots.txt to keep crawlers out [1]."))
        chat_settings = dataclasses.replace(settings, ollama_host=ollama.base_url)
        app = make_app(chat_settings, store)
        app._memory = memory
        async with app.run_test(size=(100, 30)) as pilot:
            await pilot.app.run_worker(lambda: await_report([str(docs)], 1), thread=True).wait()
            await pilot.press("f6")
            await until(pilot, lambda: isinstance(app.screen, ChatScreen))
            box = app.screen.query_one(ChatPane).query_one(ChatInput)
            box.focus()
            box.text = "Which paths should crawlers avoid with robots.txt?"
            await pilot.press("enter")
            await until(pilot, lambda: not app.chat.streaming)
        system = ollama.chat_requests[-1]["messages"][0]["content"]
        assert "[1]" in system and "robots.md" in system
        chats = store.conversations(1)
        reply = chats.messages(chats.latest().id)[-1].content
        assert "Sources: [1]" in reply and "robots.md" in reply


async def test_which_documents_do_you_know_is_answered_from_the_store(settings, store, docs):
    memory = Memory(store, settings.data_dir, HashingEmbedder())
    with FakeOllama(models=["llama3.2:latest"]) as ollama:
        chat_settings = dataclasses.replace(settings, ollama_host=ollama.base_url)
        app = make_app(chat_settings, store)
        app._memory = memory
        async with app.run_test(size=(100, 30)) as pilot:
            await pilot.app.run_worker(lambda: memory.add_paths([str(docs)], 1), thread=True).wait()
            await pilot.press("f6")
            await until(pilot, lambda: isinstance(app.screen, ChatScreen))
            box = app.screen.query_one(ChatPane).query_one(ChatInput)
            box.focus()
            box.text = "Which documents do you know about?"
            await pilot.press("enter")
            await until(pilot, lambda: not app.chat.streaming)
        assert ollama.chat_requests == []  # not guessed by the model
        chats = store.conversations(1)
        answer = chats.messages(chats.latest().id)[-1].content
        assert "robots.md" in answer and "canonical.md" in answer


async def test_each_exchange_is_remembered(settings, store, monkeypatch):
    memory = Memory(store, settings.data_dir, HashingEmbedder())
    monkeypatch.delenv("BOTIFYTHON_REMEMBER_CHATS")  # the environment would win over the store
    store.kv["memory.remember_chats"] = True
    with FakeOllama(models=["llama3.2:latest"]) as ollama:
        ollama.script(Reply(text="Hreflang tags link language versions."))
        chat_settings = dataclasses.replace(settings, ollama_host=ollama.base_url)
        app = make_app(chat_settings, store)
        app._memory = memory
        async with app.run_test(size=(100, 30)) as pilot:
            await pilot.press("f6")
            await until(pilot, lambda: isinstance(app.screen, ChatScreen))
            box = app.screen.query_one(ChatPane).query_one(ChatInput)
            box.focus()
            box.text = "What are hreflang tags?"
            await pilot.press("enter")
            await until(pilot, lambda: not app.chat.streaming)
            await until(pilot, lambda: [d for d in memory.documents(1) if d.kind == "chat"])
    chats = [d for d in memory.documents(1) if d.kind == "chat"]
    assert chats and chats[0].title.startswith("What are hreflang")


async def test_search_documents_action_uses_the_memory_and_taints_the_chain(settings, store, docs):
    memory = Memory(store, settings.data_dir, HashingEmbedder())
    with FakeOllama(models=["llama3.2:latest"]) as ollama:
        ollama.script(
            Reply(
                tool_calls=[{"name": "search_documents", "arguments": {"query": "canonical tag"}}]
            ),
            Reply(tool_calls=[{"name": "add_todo", "arguments": {"title": "Injected"}}]),
            Reply(text="Done."),
        )
        store.kv["assistant.auto_approve_additive"] = True
        chat_settings = dataclasses.replace(settings, ollama_host=ollama.base_url)
        app = make_app(chat_settings, store)
        app._memory = memory
        async with app.run_test(size=(100, 30)) as pilot:
            await pilot.app.run_worker(lambda: memory.add_paths([str(docs)], 1), thread=True).wait()
            await pilot.press("f6")
            await until(pilot, lambda: isinstance(app.screen, ChatScreen))
            box = app.screen.query_one(ChatPane).query_one(ChatInput)
            box.focus()
            box.text = "Search my notes"
            await pilot.press("enter")
            # after reading documents, even an additive action asks (auto-approve or not)
            await until(pilot, lambda: isinstance(app.screen, Confirm))
            await pilot.press("n")
            await until(pilot, lambda: not app.chat.streaming)
        result = ollama.chat_requests[1]["messages"][-1]["content"]
        assert "canonical.md" in result
        assert store.todos(1).list() == []


MEMORY_STACK = ("numpy", "faiss", "onnxruntime", "tokenizers", "sentence_transformers", "torch")


async def test_without_the_memory_extra_the_screen_says_what_to_install(
    settings, store, monkeypatch
):
    """The memory modules made unimportable (a None entry makes `import` fail): the screen
    says in one line what to install, every key says it again, and the app keeps running."""
    for name in MEMORY_STACK:
        monkeypatch.setitem(sys.modules, name, None)
    app = make_app(settings, store)
    async with app.run_test(size=(120, 30)) as pilot:
        await pilot.press("f8")
        await until(pilot, lambda: isinstance(app.screen, DocumentsScreen))
        screen = app.screen
        status = str(screen.query_one("#docs-status").render())
        assert status.startswith("The document memory is not installed (numpy, faiss-cpu")
        assert "pip install 'botifython-tui[memory]'" in status and "\n" not in status
        for key in ("a", "f", "r"):
            await pilot.press(key)
            assert isinstance(app.screen, DocumentsScreen)  # no prompt opened
        await pilot.pause()
        assert any("not installed" in str(n.message) for n in app._notifications)
        await pilot.press("f2")  # the rest of the app works
        await until(pilot, lambda: app.screen.app_name == "Todos")
