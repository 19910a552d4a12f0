"""Undo in the store: a deleted todo or profile comes back as it was (ids and order kept)."""

from __future__ import annotations

import pytest

from botifython_tui.core.store import NotFound, Store


def owned_rows(store: Store, profile_id: int) -> dict[str, list[tuple]]:
    tables = ("todos", "conversations", "messages", "exports", "audit")
    return {
        table: store.query(f"SELECT * FROM {table} WHERE profile_id = ? ORDER BY id", [profile_id])
        for table in tables
    }


def test_a_deleted_todo_comes_back_with_its_id_place_and_state(store):
    todos = store.todos(1)
    first, middle, last = (todos.add(t) for t in ("first", "middle", "last"))
    todos.set_done(middle.id)
    deleted = todos.delete(middle.id)
    todos.add("added after the delete")
    restored = todos.restore(deleted)
    assert restored == deleted  # same id, title, done, position, timestamps
    assert [t.title for t in todos.list()] == ["first", "middle", "last", "added after the delete"]
    assert first.id != last.id


def test_a_todo_restored_when_its_id_was_taken_gets_a_new_one(store):
    todos = store.todos(1)
    todos.add("keep")
    gone = todos.delete(todos.add("gone").id)
    taker = todos.add("takes the id")  # SQLite reuses the highest id
    assert taker.id == gone.id
    restored = todos.restore(gone)
    assert restored.id != gone.id and restored.title == "gone"
    assert [t.title for t in todos.list()] == ["keep", "gone", "takes the id"]


def test_a_todo_is_restored_only_into_its_own_profile(store):
    other = store.profiles.create("Other")
    deleted = store.todos(1).delete(store.todos(1).add("mine").id)
    with pytest.raises(NotFound):
        store.todos(other.id).restore(deleted)
    assert store.todos(other.id).list() == []


def test_a_deleted_profile_comes_back_with_everything_it_owned(store):
    keep = store.profiles.create("Keep")
    work = store.profiles.create("Work")
    store.profiles.use(work.id)
    todos = store.todos(work.id)
    for title in ("one", "two", "three"):
        todos.add(title)
    todos.move(todos.list()[2].id, -2)  # an order of its own: three, one, two
    conversations = store.conversations(work.id)
    chat = conversations.create("About crawl budget")
    conversations.add_message(chat.id, "user", "What is crawl budget?")
    conversations.add_message(chat.id, "assistant", "The pages a crawler visits.")
    store.exports(work.id).add(
        org="acme",
        project="site",
        analysis="2024",
        depth=3,
        edges=10,
        urls=5,
        links_path="/x.csv",
        meta_path=None,
        summary={"nodes": 5},
    )
    store.audit(work.id).add("add_todo", {"title": "x"}, approved=True, result="ok", ok=True)
    store.todos(keep.id).add("untouched")
    before = owned_rows(store, work.id)

    deleted = store.profiles.delete(work.id)
    assert deleted.was_current and deleted.count("todos") == 3
    assert store.profiles.current().id != work.id
    assert all(rows == [] for rows in owned_rows(store, work.id).values())

    profile = store.profiles.restore(deleted)
    assert profile == work
    assert owned_rows(store, work.id) == before
    assert [t.title for t in store.todos(work.id).list()] == ["three", "one", "two"]
    assert [t.title for t in store.todos(keep.id).list()] == ["untouched"]


def test_a_restored_profile_whose_name_and_ids_were_taken_keeps_its_rows_together(store):
    store.profiles.create("Keep")
    work = store.profiles.create("Work")
    conversations = store.conversations(work.id)
    chat = conversations.create("Chat")
    conversations.add_message(chat.id, "user", "hello")
    store.todos(work.id).add("a todo")
    deleted = store.profiles.delete(work.id)

    again = store.profiles.create("work")  # same name (case aside), takes the id as well
    other_chat = store.conversations(again.id).create("Squatter")  # takes the conversation id
    assert again.id == work.id and other_chat.id == chat.id

    restored = store.profiles.restore(deleted)
    assert restored.id != work.id and restored.name == "Work (restored)"
    [conversation] = store.conversations(restored.id).list()
    assert conversation.title == "Chat"
    messages = store.conversations(restored.id).messages(conversation.id)
    assert [m.content for m in messages] == ["hello"]
    assert [t.title for t in store.todos(restored.id).list()] == ["a todo"]
    assert store.conversations(again.id).messages(other_chat.id) == []
