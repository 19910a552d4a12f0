"""The SQLite store: key-value semantics, profiles, profile-scoped todos, messages, migrations,
file safety and settings resolution."""

from __future__ import annotations

import hashlib
import importlib
import os
import pkgutil
import sqlite3
import stat
import tempfile
import threading
import time
from contextlib import contextmanager
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from botifython_tui.config import DB_FILENAME, LOG_FILENAME, ConfigError, Settings
from botifython_tui.core.settings import CURRENT_PROFILE
from botifython_tui.core.store import (
    SCHEMA_VERSION,
    DatabaseUnusable,
    InvalidInput,
    NotFound,
    Store,
    migrations,
)
from botifython_tui.core.store.migrations import MIGRATIONS
from botifython_tui.core.store.profiles import DEFAULT_PROFILE_NAME, MAX_PROFILE_NAME_LENGTH
from botifython_tui.core.store.todos import MAX_TITLE_LENGTH


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / DB_FILENAME


@pytest.fixture
def store(db_path: Path):
    s = Store(db_path)
    yield s
    s.close()


@contextmanager
def umask(mask: int):
    old = os.umask(mask)
    try:
        yield
    finally:
        os.umask(old)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def default_todos(store: Store):
    return store.todos(store.profiles.current().id)


# --- key-value store ---------------------------------------------------------------------------

JSON_VALUES = [
    "text",
    "",
    "unicode ✓ [bold]not markup[/] \x1b[31m",
    0,
    42,
    -7,
    2**53,
    True,
    False,
    1.5,
    None,
    [],
    [1, "a", [2, {"b": False}]],
    {},
    {"a": 1, "b": [True, None], "c": {"d": "e"}},
]


@pytest.mark.parametrize("value", JSON_VALUES, ids=repr)
def test_kv_values_round_trip_as_json_with_their_type(db_path: Path, value):
    store = Store(db_path)
    store.kv["k"] = value
    got = store.kv["k"]
    assert got == value and type(got) is type(value)
    store.close()

    reopened = Store(db_path)  # and it survives a restart
    got = reopened.kv["k"]
    assert got == value and type(got) is type(value)
    reopened.close()


def test_kv_bool_is_not_confused_with_int(store: Store):
    store.kv["t"] = True
    store.kv["one"] = 1
    assert store.kv["t"] is True
    assert store.kv["one"] == 1 and store.kv["one"] is not True


def test_kv_missing_key_raises_key_error(store: Store):
    with pytest.raises(KeyError):
        store.kv["missing"]
    with pytest.raises(KeyError):
        del store.kv["missing"]
    assert "missing" not in store.kv
    assert store.kv.get("missing") is None
    assert store.kv.get("missing", "fallback") == "fallback"


def test_kv_set_overwrite_delete_contains(store: Store):
    store.kv["a"] = 1
    assert "a" in store.kv
    store.kv["a"] = {"now": "a dict"}
    assert store.kv["a"] == {"now": "a dict"}
    assert len(store.kv) == 1
    del store.kv["a"]
    assert "a" not in store.kv
    with pytest.raises(KeyError):
        store.kv["a"]
    with pytest.raises(KeyError):
        del store.kv["a"]  # deleting twice fails the second time


def test_kv_get_returns_stored_falsy_values_not_the_default(store: Store):
    store.kv["zero"] = 0
    store.kv["empty"] = ""
    store.kv["false"] = False
    store.kv["none"] = None
    assert store.kv.get("zero", "d") == 0
    assert store.kv.get("empty", "d") == ""
    assert store.kv.get("false", "d") is False
    assert store.kv.get("none", "d") is None


def test_kv_iteration_keys_values_items_len(store: Store):
    assert len(store.kv) == 0 and list(store.kv) == []
    data = {"b": 2, "a": [1], "c": {"x": True}}
    for key, value in data.items():
        store.kv[key] = value
    assert len(store.kv) == 3
    assert list(store.kv) == store.kv.keys() == ["a", "b", "c"]  # sorted, stable
    assert store.kv.values() == [[1], 2, {"x": True}]
    assert store.kv.items() == [("a", [1]), ("b", 2), ("c", {"x": True})]
    assert dict(store.kv.items()) == data
    assert {key: store.kv[key] for key in store.kv} == data


def test_kv_pop(store: Store):
    store.kv["a"] = [1, 2]
    assert store.kv.pop("a") == [1, 2]
    assert "a" not in store.kv
    assert store.kv.pop("a", "gone") == "gone"
    with pytest.raises(KeyError):
        store.kv.pop("a")


def test_kv_is_shared_between_two_stores_on_one_file(db_path: Path):
    one, two = Store(db_path), Store(db_path)
    one.kv["shared"] = {"n": 1}
    assert two.kv["shared"] == {"n": 1}
    del two.kv["shared"]
    assert "shared" not in one.kv
    one.close()
    two.close()


# --- profiles ----------------------------------------------------------------------------------


def test_fresh_database_has_one_default_profile(store: Store):
    profiles = store.profiles.list()
    assert [p.name for p in profiles] == [DEFAULT_PROFILE_NAME] == ["Default"]
    assert store.profiles.current() == profiles[0]
    assert profiles[0].created_at


def test_reopening_does_not_add_another_default_profile(db_path: Path):
    Store(db_path).close()
    Store(db_path).close()
    store = Store(db_path)
    assert [p.name for p in store.profiles.list()] == ["Default"]
    store.close()


def test_profile_create_list_get_find(store: Store):
    work = store.profiles.create("  Client   Work ")
    assert work.name == "Client Work"  # whitespace collapsed
    home = store.profiles.create("Home")
    assert [p.name for p in store.profiles.list()] == ["Default", "Client Work", "Home"]
    assert store.profiles.get(work.id) == work
    assert store.profiles.find("client work") == work  # case-insensitive
    assert store.profiles.find(" CLIENT  WORK ") == work
    assert store.profiles.find(str(home.id)) == home  # by id
    with pytest.raises(NotFound, match="Nope"):
        store.profiles.find("Nope")
    with pytest.raises(NotFound):
        store.profiles.get(9999)


@pytest.mark.parametrize("name", ["default", "DEFAULT", "  Default  ", "dEfAuLt"])
def test_duplicate_profile_names_are_refused_case_insensitively(store: Store, name: str):
    with pytest.raises(InvalidInput, match="already exists"):
        store.profiles.create(name)
    assert len(store.profiles.list()) == 1


@pytest.mark.parametrize("name", ["", " ", "\t\n  "])
def test_blank_profile_names_are_refused(store: Store, name: str):
    with pytest.raises(InvalidInput, match="blank"):
        store.profiles.create(name)
    other = store.profiles.create("Other")
    with pytest.raises(InvalidInput, match="blank"):
        store.profiles.rename(other.id, name)
    assert store.profiles.get(other.id).name == "Other"


def test_too_long_profile_names_are_refused(store: Store):
    store.profiles.create("x" * MAX_PROFILE_NAME_LENGTH)
    with pytest.raises(InvalidInput, match=str(MAX_PROFILE_NAME_LENGTH)):
        store.profiles.create("y" * (MAX_PROFILE_NAME_LENGTH + 1))


def test_profile_rename(store: Store):
    work = store.profiles.create("Work")
    renamed = store.profiles.rename(work.id, "Clients")
    assert renamed.id == work.id and renamed.name == "Clients"
    assert [p.name for p in store.profiles.list()] == ["Default", "Clients"]
    # changing only the case of its own name is allowed
    assert store.profiles.rename(work.id, "CLIENTS").name == "CLIENTS"
    # taking another profile's name is not
    with pytest.raises(InvalidInput, match="already exists"):
        store.profiles.rename(work.id, "default")
    assert store.profiles.get(work.id).name == "CLIENTS"
    with pytest.raises(NotFound):
        store.profiles.rename(9999, "Ghost")
    assert "Ghost" not in [p.name for p in store.profiles.list()]


def test_profile_delete_removes_its_todos_and_messages_only(store: Store):
    keep = store.profiles.current()
    gone = store.profiles.create("Gone")
    kept_todo = store.todos(keep.id).add("kept")
    store.todos(gone.id).add("doomed 1")
    store.todos(gone.id).add("doomed 2")
    gone_chats = store.conversations(gone.id)
    gone_chats.add_message(gone_chats.create().id, "user", "hello")
    kept_chats = store.conversations(keep.id)
    kept_chat = kept_chats.create()
    kept_chats.add_message(kept_chat.id, "user", "kept message")

    store.profiles.delete(gone.id)

    assert [p.id for p in store.profiles.list()] == [keep.id]
    with pytest.raises(NotFound):
        store.profiles.get(gone.id)
    # nothing of the deleted profile is left anywhere in the tables
    assert store.query("SELECT count(*) FROM todos WHERE profile_id = ?", [gone.id])[0][0] == 0
    assert store.query("SELECT count(*) FROM messages WHERE profile_id = ?", [gone.id])[0][0] == 0
    assert store.todos(keep.id).list() == [kept_todo]
    assert store.query("SELECT count(*) FROM conversations WHERE profile_id = ?", [gone.id]) == [
        (0,)
    ]
    assert [m.content for m in kept_chats.messages(kept_chat.id)] == ["kept message"]
    # a view on the deleted profile can no longer add todos
    with pytest.raises(NotFound):
        store.todos(gone.id).add("orphan")


def test_last_profile_cannot_be_deleted(store: Store):
    only = store.profiles.current()
    store.todos(only.id).add("still here")
    with pytest.raises(InvalidInput, match="last profile"):
        store.profiles.delete(only.id)
    assert store.profiles.list() == [only]
    assert len(store.todos(only.id).list()) == 1
    with pytest.raises(NotFound):
        store.profiles.delete(9999)


def test_current_profile_is_remembered_across_reopen(db_path: Path):
    store = Store(db_path)
    work = store.profiles.create("Work")
    assert store.profiles.use(work.id) == work
    assert store.profiles.current() == work
    assert store.kv[CURRENT_PROFILE] == work.id  # remembered in the key-value store
    store.close()

    store = Store(db_path)
    assert store.profiles.current() == work
    store.close()


def test_current_profile_falls_back_when_its_profile_is_deleted(db_path: Path):
    store = Store(db_path)
    default = store.profiles.current()
    work = store.profiles.create("Work")
    store.profiles.use(work.id)
    store.profiles.delete(work.id)
    assert store.profiles.current() == default
    store.close()
    store = Store(db_path)
    assert store.profiles.current() == default
    store.close()


@pytest.mark.parametrize("garbage", [9999, "Work", None, [1]])
def test_current_profile_falls_back_when_the_remembered_value_is_unusable(store: Store, garbage):
    store.kv[CURRENT_PROFILE] = garbage
    assert store.profiles.current().name == "Default"


def test_use_unknown_profile_is_refused_and_current_unchanged(store: Store):
    before = store.profiles.current()
    with pytest.raises(NotFound):
        store.profiles.use(9999)
    assert store.profiles.current() == before


# --- todos -------------------------------------------------------------------------------------


def test_add_todo(store: Store):
    todos = default_todos(store)
    first = todos.add("  Buy milk  ")
    second = todos.add("Call Bob")
    assert first.title == "Buy milk"  # stripped
    assert first.done is False
    assert first.profile_id == store.profiles.current().id
    assert first.created_at and first.updated_at
    assert second.position > first.position
    assert todos.list() == [first, second]
    assert todos.get(first.id) == first


@pytest.mark.parametrize("title", ["", " ", "\t", "\n  \r\n"])
def test_blank_todo_titles_are_refused_with_a_clear_message(store: Store, title: str):
    todos = default_todos(store)
    with pytest.raises(InvalidInput, match="blank"):
        todos.add(title)
    assert todos.list() == []


def test_too_long_todo_titles_are_refused(store: Store):
    todos = default_todos(store)
    ok = todos.add("x" * MAX_TITLE_LENGTH)
    assert len(ok.title) == MAX_TITLE_LENGTH
    with pytest.raises(InvalidInput, match=str(MAX_TITLE_LENGTH)):
        todos.add("y" * (MAX_TITLE_LENGTH + 1))
    with pytest.raises(InvalidInput):
        todos.rename(ok.id, "z" * (MAX_TITLE_LENGTH + 1))
    assert todos.list() == [ok]


def test_toggle_and_set_done(store: Store):
    todos = default_todos(store)
    todo = todos.add("task")
    assert todos.toggle(todo.id).done is True
    assert todos.get(todo.id).done is True
    assert todos.toggle(todo.id).done is False
    assert todos.set_done(todo.id).done is True
    assert todos.set_done(todo.id, True).done is True  # idempotent
    assert todos.set_done(todo.id, False).done is False
    assert todos.set_done(todo.id, False).done is False
    with pytest.raises(NotFound):
        todos.toggle(9999)
    with pytest.raises(NotFound):
        todos.set_done(9999)


def test_rename_todo(store: Store):
    todos = default_todos(store)
    todo = todos.add("old")
    renamed = todos.rename(todo.id, "  new title ")
    assert renamed.title == "new title" and renamed.id == todo.id
    assert renamed.done == todo.done and renamed.position == todo.position
    with pytest.raises(InvalidInput, match="blank"):
        todos.rename(todo.id, "   ")
    assert todos.get(todo.id).title == "new title"
    with pytest.raises(NotFound):
        todos.rename(9999, "ghost")


def test_delete_todo(store: Store):
    todos = default_todos(store)
    a, b = todos.add("a"), todos.add("b")
    assert todos.delete(a.id) == a
    assert todos.list() == [b]
    with pytest.raises(NotFound):
        todos.get(a.id)
    with pytest.raises(NotFound):
        todos.delete(a.id)


def test_move_up_and_down_including_the_ends(store: Store):
    todos = default_todos(store)
    a, b, c = (todos.add(t) for t in "abc")

    def titles():
        return [t.title for t in todos.list()]

    assert todos.move(a.id, -1) is False  # already first
    assert todos.move(c.id, +1) is False  # already last
    assert titles() == ["a", "b", "c"]

    assert todos.move(c.id, -1) is True
    assert titles() == ["a", "c", "b"]
    assert todos.move(c.id, -1) is True
    assert titles() == ["c", "a", "b"]
    assert todos.move(c.id, -1) is False
    assert titles() == ["c", "a", "b"]
    assert todos.move(a.id, +1) is True
    assert titles() == ["c", "b", "a"]
    assert todos.move(a.id, +1) is False

    positions = [t.position for t in todos.list()]
    assert len(set(positions)) == 3 and positions == sorted(positions)
    # a new todo still goes to the end after reordering
    todos.add("d")
    assert titles() == ["c", "b", "a", "d"]
    with pytest.raises(NotFound):
        todos.move(9999, -1)
    assert b.id in [t.id for t in todos.list()]


def test_move_order_survives_reopen(db_path: Path):
    store = Store(db_path)
    todos = default_todos(store)
    a, b = todos.add("a"), todos.add("b")
    todos.move(b.id, -1)
    store.close()
    store = Store(db_path)
    assert [t.id for t in default_todos(store).list()] == [b.id, a.id]
    store.close()


def test_counts(store: Store):
    todos = default_todos(store)
    assert todos.counts() == (0, 0)
    ids = [todos.add(f"t{i}").id for i in range(5)]
    todos.set_done(ids[0])
    todos.set_done(ids[3])
    assert todos.counts() == (3, 2)
    todos.delete(ids[0])
    assert todos.counts() == (3, 1)


# --- scoping: one profile can never reach another's todos ---------------------------------------


def test_a_profile_view_cannot_touch_another_profiles_todo(store: Store):
    a = store.profiles.current()
    b = store.profiles.create("B")
    a_todos, b_todos = store.todos(a.id), store.todos(b.id)
    a_own = a_todos.add("A's own")
    secret = b_todos.add("B's secret")
    b_todos.add("B's second")
    snapshot = b_todos.list()

    assert secret.id not in [t.id for t in a_todos.list()]
    assert [t.title for t in a_todos.list()] == ["A's own"]
    attempts = {
        "get": lambda: a_todos.get(secret.id),
        "toggle": lambda: a_todos.toggle(secret.id),
        "set_done": lambda: a_todos.set_done(secret.id, True),
        "rename": lambda: a_todos.rename(secret.id, "hijacked"),
        "delete": lambda: a_todos.delete(secret.id),
        "move up": lambda: a_todos.move(secret.id, -1),
        "move down": lambda: a_todos.move(secret.id, +1),
    }
    for what, attempt in attempts.items():
        with pytest.raises(NotFound):
            attempt()
        assert b_todos.list() == snapshot, f"{what} through A's view changed B's todos"
    assert a_todos.list() == [a_own]
    assert a_todos.counts() == (1, 0) and b_todos.counts() == (2, 0)

    # and the other way round
    with pytest.raises(NotFound):
        b_todos.delete(a_own.id)
    assert a_todos.get(a_own.id) == a_own


def test_new_todos_get_the_views_profile(store: Store):
    b = store.profiles.create("B")
    todo = store.todos(b.id).add("for B")
    assert todo.profile_id == b.id
    assert store.todos(store.profiles.current().id).list() == []
    row = store.query("SELECT profile_id FROM todos WHERE id = ?", [todo.id])[0]
    assert row[0] == b.id


OPS = st.sampled_from(["add", "toggle", "rename", "delete", "up", "down", "get"])


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(
    steps=st.lists(
        st.tuples(OPS, st.integers(0, 1), st.integers(0, 30), st.text(min_size=1, max_size=8)),
        max_size=40,
    )
)
def test_random_operations_across_two_profiles_stay_isolated(steps):
    """A model of two profiles' todo lists; every operation by id through either view must either
    act on the view's own todo, or raise NotFound and change nothing."""
    with tempfile.TemporaryDirectory() as tmp:
        store = Store(Path(tmp) / DB_FILENAME)
        try:
            pids = [store.profiles.current().id, store.profiles.create("Second").id]
            views = [store.todos(pid) for pid in pids]
            model: list[list[list]] = [[], []]  # per profile: [id, title, done] in order
            every_id: list[int] = []
            for op, who, pick, text in steps:
                view, mine = views[who], model[who]
                if op == "add":
                    title = "t" + text.strip()
                    todo = view.add(title)
                    mine.append([todo.id, title, False])
                    every_id.append(todo.id)
                    continue
                # any id ever used (possibly deleted or another profile's), or a made-up one
                target = every_id[pick % len(every_id)] if every_id and pick < 25 else 10_000 + pick
                index = next((i for i, item in enumerate(mine) if item[0] == target), None)
                before = store.query("SELECT * FROM todos ORDER BY id")
                if index is None:
                    with pytest.raises(NotFound):
                        if op == "toggle":
                            view.toggle(target)
                        elif op == "rename":
                            view.rename(target, "hijacked")
                        elif op == "delete":
                            view.delete(target)
                        elif op in ("up", "down"):
                            view.move(target, -1 if op == "up" else 1)
                        else:
                            view.get(target)
                    assert store.query("SELECT * FROM todos ORDER BY id") == before
                    continue
                if op == "toggle":
                    mine[index][2] = not mine[index][2]
                    assert view.toggle(target).done is mine[index][2]
                elif op == "rename":
                    mine[index][1] = "renamed" + text.strip()
                    view.rename(target, mine[index][1])
                elif op == "delete":
                    mine.pop(index)
                    view.delete(target)
                elif op in ("up", "down"):
                    new = index + (-1 if op == "up" else 1)
                    moved = view.move(target, -1 if op == "up" else 1)
                    assert moved is (0 <= new < len(mine))
                    if moved:
                        mine.insert(new, mine.pop(index))
                else:
                    assert view.get(target).title == mine[index][1]
            for view, mine in zip(views, model, strict=True):
                assert [[t.id, t.title, t.done] for t in view.list()] == mine
                assert view.counts() == (
                    sum(not item[2] for item in mine),
                    sum(item[2] for item in mine),
                )
        finally:
            store.close()


# --- chat messages -----------------------------------------------------------------------------


def test_messages_are_per_profile_per_conversation_and_in_order(store: Store):
    a = store.profiles.current()
    b = store.profiles.create("B")
    chats = store.conversations(a.id)
    chat = chats.create()
    other = chats.create()
    first = chats.add_message(chat.id, "user", "hello")
    store.conversations(b.id).add_message(store.conversations(b.id).create().id, "user", "b's")
    chats.add_message(other.id, "user", "another conversation")
    chats.add_message(chat.id, "assistant", "hi there")
    chats.add_message(chat.id, "user", "third")
    listed = chats.messages(chat.id)
    assert [(m.role, m.content) for m in listed] == [
        ("user", "hello"),
        ("assistant", "hi there"),
        ("user", "third"),
    ]
    assert listed[0] == first
    assert all(m.profile_id == a.id and m.created_at for m in listed)
    assert [m.content for m in chats.messages(other.id)] == ["another conversation"]
    # limit keeps the newest, still oldest first
    assert [m.content for m in chats.messages(chat.id, limit=2)] == ["hi there", "third"]
    # another profile's view sees neither the conversation nor its messages
    with pytest.raises(NotFound):
        store.conversations(b.id).messages(chat.id)
    with pytest.raises(NotFound):
        store.conversations(b.id).add_message(chat.id, "user", "intruder")
    assert [m.content for m in chats.messages(chat.id)] == ["hello", "hi there", "third"]


def test_messages_survive_reopen(db_path: Path):
    store = Store(db_path)
    chats = store.conversations(1)
    chats.add_message(chats.latest().id, "user", "[bold]kept[/] \x1b[31m")
    store.close()
    store = Store(db_path)
    chats = store.conversations(1)
    assert [m.content for m in chats.messages(chats.latest().id)] == ["[bold]kept[/] \x1b[31m"]
    store.close()


# --- schema and migrations ---------------------------------------------------------------------


def test_migrations_are_ordered_and_define_the_schema_version(store: Store):
    assert len(MIGRATIONS) == SCHEMA_VERSION >= 2
    assert store.schema_version == SCHEMA_VERSION
    tables = set(store.db.table_names())
    assert {"kv", "profiles", "todos", "messages"} <= tables


def test_an_old_schema_database_is_upgraded_without_losing_data(db_path: Path):
    old = Store(db_path, schema_version=1)
    assert old.schema_version == 1
    assert "messages" not in old.db.table_names()
    assert "created_at" not in old.db["todos"].columns_dict
    old.kv["setting"] = {"theme": "dark"}
    work = old.profiles.create("Work")
    old.profiles.use(work.id)
    # v1 had no todo timestamps: write todos the way a v1 app did
    with old.write() as db:
        for position, title in enumerate(["first", "second"], start=1):
            db.execute(
                "INSERT INTO todos (profile_id, title, done, position) VALUES (?, ?, ?, ?)",
                [work.id, title, position == 2, position],
            )
    old.close()

    store = Store(db_path)
    assert store.schema_version == SCHEMA_VERSION
    assert store.kv["setting"] == {"theme": "dark"}
    assert [p.name for p in store.profiles.list()] == ["Default", "Work"]
    assert store.profiles.current().id == work.id
    todos = store.todos(work.id).list()
    assert [(t.title, t.done) for t in todos] == [("first", False), ("second", True)]
    assert all(t.created_at and t.updated_at for t in todos)  # backfilled
    # the new tables work on the upgraded database
    store.todos(work.id).add("third")
    chats = store.conversations(work.id)
    chat = chats.latest()
    chats.add_message(chat.id, "user", "new table works")
    assert [m.content for m in chats.messages(chat.id)] == ["new table works"]
    assert store.query("PRAGMA integrity_check")[0][0] == "ok"
    store.close()

    # upgrading is done once: a further open changes nothing
    store = Store(db_path)
    assert store.schema_version == SCHEMA_VERSION
    assert [t.title for t in store.todos(work.id).list()] == ["first", "second", "third"]
    store.close()


def test_every_schema_step_module_is_listed_once_in_order():
    modules = sorted(info.name for info in pkgutil.iter_modules(migrations.__path__))
    # step N is the module mNNN_…, and the list applies them in that order
    assert [int(name[1:4]) for name in modules] == list(range(1, SCHEMA_VERSION + 1))
    assert all(name[0] == "m" and name[4] == "_" for name in modules)
    assert [step.__module__ for step in MIGRATIONS] == [
        f"{migrations.__name__}.{name}" for name in modules
    ]
    for name in modules:
        module = importlib.import_module(f"{migrations.__name__}.{name}")
        assert module.__doc__ and module.__doc__.startswith(f"Schema step {int(name[1:4])}:")
        assert module.apply.__doc__  # each step says what it does


def schema(store: Store) -> list[tuple]:
    return store.query("SELECT type, name, tbl_name, sql FROM sqlite_master ORDER BY type, name")


def test_a_database_of_any_older_version_upgrades_to_the_schema_of_a_new_one(tmp_path: Path):
    fresh = Store(tmp_path / "fresh.db")
    expected = schema(fresh)
    fresh.close()
    assert {"kv", "profiles", "todos", "conversations", "messages", "exports", "audit"} <= {
        name for kind, name, _, _ in expected if kind == "table"
    }
    for version in range(SCHEMA_VERSION):
        path = tmp_path / f"v{version}.db"
        old = Store(path, schema_version=version)
        assert old.schema_version == version
        if version >= 1:
            old.kv["kept"] = version
        old.close()
        store = Store(path)
        assert store.schema_version == SCHEMA_VERSION
        assert schema(store) == expected, f"upgraded from version {version}"
        if version >= 1:
            assert store.kv["kept"] == version
        assert [p.name for p in store.profiles.list()] == [DEFAULT_PROFILE_NAME]
        store.close()


def test_a_database_from_a_newer_schema_is_refused_and_left_alone(db_path: Path):
    Store(db_path).close()
    conn = sqlite3.connect(db_path)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.close()
    before = sha(db_path)

    with pytest.raises(DatabaseUnusable) as caught:
        Store(db_path)
    message = str(caught.value)
    assert str(db_path) in message
    assert "newer" in message
    assert sha(db_path) == before
    conn = sqlite3.connect(db_path)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION + 1
    conn.close()


# --- sharing the file: WAL and busy timeout ------------------------------------------------------


def test_wal_mode_and_busy_timeout_are_set(db_path: Path):
    store = Store(db_path)
    assert store.query("PRAGMA journal_mode")[0][0].lower() == "wal"
    assert store.query("PRAGMA busy_timeout")[0][0] >= 1000
    store.close()
    # WAL is persistent: another program opening the file sees it too
    conn = sqlite3.connect(db_path)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0].lower() == "wal"
    conn.close()
    store = Store(db_path, busy_timeout=2.5)
    assert store.query("PRAGMA busy_timeout")[0][0] == 2500
    store.close()


def test_a_write_waits_for_another_connections_write_lock_instead_of_failing(store: Store):
    todos = default_todos(store)
    other = sqlite3.connect(store.path, isolation_level=None, check_same_thread=False)
    other.execute("BEGIN IMMEDIATE")
    other.execute("INSERT INTO kv (key, value) VALUES ('other', '1')")
    release = threading.Timer(0.4, lambda: other.execute("COMMIT"))
    started = time.monotonic()
    release.start()
    try:
        todo = todos.add("written after the other writer")
    finally:
        release.join()
        other.close()
    assert time.monotonic() - started >= 0.3  # it did wait for the lock
    assert todos.get(todo.id).title == "written after the other writer"
    assert store.kv["other"] == 1  # and the other writer's commit is not lost


# --- files: permissions, corrupt and unwritable ---------------------------------------------------


def test_database_file_is_created_0600_whatever_the_umask(tmp_path: Path):
    path = tmp_path / DB_FILENAME
    with umask(0):
        store = Store(path)
        default_todos(store).add("makes the WAL")
        assert mode(path) == 0o600
        for extra in (path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
            if extra.exists():
                assert mode(extra) == 0o600, extra
        store.close()
    assert mode(path) == 0o600


def test_data_folder_is_created_0700_whatever_the_umask(tmp_path: Path):
    settings = Settings.resolve(
        data_dir=tmp_path / "deep" / "data", downloads_dir=tmp_path / "dl", env={}
    )
    with umask(0):
        settings.ensure_dirs()
    assert settings.data_dir.is_dir() and mode(settings.data_dir) == 0o700
    assert settings.downloads_dir.is_dir()
    settings.ensure_dirs()  # idempotent
    assert mode(settings.data_dir) == 0o700


def _damaged_real_database(path: Path) -> None:
    store = Store(path)
    todos = default_todos(store)
    for i in range(200):
        todos.add(f"{i} " + "x" * 400)
    store.close()
    data = bytearray(path.read_bytes())
    page = 4096
    assert len(data) > 10 * page
    for offset in range(page, len(data), page):  # every page but the first (the schema)
        data[offset : offset + 64] = b"\xff" * 64
    path.write_bytes(bytes(data))


def _truncated_real_database(path: Path) -> None:
    store = Store(path)
    todos = default_todos(store)
    for i in range(200):
        todos.add(f"{i} " + "x" * 400)
    store.close()
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


CORRUPTIONS = {
    "random bytes": lambda p: p.write_bytes(os.urandom(8192)),
    "text file": lambda p: p.write_text("these are my notes, not a database\n" * 50),
    "sqlite header then garbage": lambda p: p.write_bytes(b"SQLite format 3\x00" + b"\xab" * 8000),
    "truncated database": _truncated_real_database,
    "damaged pages": _damaged_real_database,
}


@pytest.mark.parametrize("corrupt", list(CORRUPTIONS.values()), ids=list(CORRUPTIONS))
def test_corrupt_file_gives_a_clear_error_and_is_left_untouched(tmp_path: Path, corrupt):
    path = tmp_path / DB_FILENAME
    corrupt(path)
    before, size = sha(path), path.stat().st_size

    with pytest.raises(DatabaseUnusable) as caught:
        Store(path)
    message = str(caught.value)
    assert str(path) in message
    assert "not a Botifython database" in message or "corrupt" in message

    assert path.stat().st_size == size
    assert sha(path) == before, "the corrupt file was modified"
    assert sorted(p.name for p in tmp_path.iterdir()) == [DB_FILENAME]  # no -wal/-shm left


def test_database_path_under_a_file_gives_a_clear_error(tmp_path: Path):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("file")
    with pytest.raises(DatabaseUnusable) as caught:
        Store(blocker / DB_FILENAME)
    assert str(blocker / DB_FILENAME) in str(caught.value)
    assert blocker.read_text() == "file"


def test_data_dir_that_is_a_file_is_a_config_error(tmp_path: Path):
    blocker = tmp_path / "data"
    blocker.write_text("keep me")
    settings = Settings.resolve(data_dir=blocker, downloads_dir=tmp_path / "dl", env={})
    with pytest.raises(ConfigError) as caught:
        settings.ensure_dirs()
    assert str(blocker) in str(caught.value)
    assert "not a folder" in str(caught.value)
    assert blocker.read_text() == "keep me"


def test_data_dir_under_a_file_is_a_config_error(tmp_path: Path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    settings = Settings.resolve(data_dir=blocker / "data", downloads_dir=tmp_path / "dl", env={})
    with pytest.raises(ConfigError) as caught:
        settings.ensure_dirs()
    assert str(blocker / "data") in str(caught.value)
    assert "--data-dir" in str(caught.value)


def test_downloads_dir_that_is_a_file_is_a_config_error(tmp_path: Path):
    blocker = tmp_path / "downloads"
    blocker.write_text("x")
    settings = Settings.resolve(data_dir=tmp_path / "data", downloads_dir=blocker, env={})
    with pytest.raises(ConfigError, match="downloads"):
        settings.ensure_dirs()


def test_read_only_data_dir_is_a_config_error(tmp_path: Path):
    # Root bypasses permission bits, but a folder whose bits let nobody write is refused anyway.
    data = tmp_path / "data"
    data.mkdir(mode=0o500)
    try:
        settings = Settings.resolve(data_dir=data, downloads_dir=tmp_path / "dl", env={})
        with pytest.raises(ConfigError, match="not writable"):
            settings.ensure_dirs()
        assert stat.S_IMODE(data.stat().st_mode) == 0o500  # and never chmod-ed
    finally:
        data.chmod(0o700)


# --- settings resolution -----------------------------------------------------------------------


def test_settings_default_to_the_user_data_folder_and_downloads_under_cwd(tmp_path: Path):
    settings = Settings.resolve(env={"XDG_DATA_HOME": str(tmp_path / "xdg")}, cwd=tmp_path)
    data = tmp_path / "xdg" / "botifython"
    assert settings.data_dir == data and settings.data_dir_origin == "default"
    assert settings.downloads_dir == tmp_path / "downloads"
    assert settings.db_path == data / DB_FILENAME == data / "botifython.db"
    assert settings.log_path == data / LOG_FILENAME


def test_settings_environment_beats_default(tmp_path: Path):
    env = {"BOTIFYTHON_DATA_DIR": "/srv/bf/data", "BOTIFYTHON_DOWNLOADS_DIR": "/srv/bf/dl"}
    settings = Settings.resolve(env=env, cwd=tmp_path)
    assert settings.data_dir == Path("/srv/bf/data")
    assert settings.downloads_dir == Path("/srv/bf/dl")


def test_settings_flag_beats_environment(tmp_path: Path):
    env = {"BOTIFYTHON_DATA_DIR": "/env/data", "BOTIFYTHON_DOWNLOADS_DIR": "/env/dl"}
    settings = Settings.resolve(
        data_dir="/flag/data", downloads_dir="/flag/dl", env=env, cwd=tmp_path
    )
    assert settings.data_dir == Path("/flag/data")
    assert settings.downloads_dir == Path("/flag/dl")
    # flags are independent: one flag, the other from the environment
    mixed = Settings.resolve(data_dir="/flag/data", env=env, cwd=tmp_path)
    assert mixed.downloads_dir == Path("/env/dl")


def test_settings_relative_paths_are_resolved_against_cwd(tmp_path: Path):
    settings = Settings.resolve(
        data_dir="rel/data", env={"BOTIFYTHON_DOWNLOADS_DIR": "rel/dl"}, cwd=tmp_path
    )
    assert settings.data_dir == tmp_path / "rel" / "data"
    assert settings.downloads_dir == tmp_path / "rel" / "dl"
    assert settings.data_dir.is_absolute() and settings.downloads_dir.is_absolute()


def test_settings_empty_values_fall_through(tmp_path: Path):
    env = {"BOTIFYTHON_DATA_DIR": "", "BOTIFYTHON_DOWNLOADS_DIR": "/env/dl"}
    env["XDG_DATA_HOME"] = str(tmp_path / "xdg")
    settings = Settings.resolve(data_dir="", downloads_dir="", env=env, cwd=tmp_path)
    assert settings.data_dir == tmp_path / "xdg" / "botifython"
    assert settings.downloads_dir == Path("/env/dl")


def test_settings_expand_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    settings = Settings.resolve(data_dir="~/bf", env={}, cwd=Path("/elsewhere"))
    assert settings.data_dir == tmp_path / "home" / "bf"


def test_settings_read_the_process_environment_and_cwd_by_default(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("BOTIFYTHON_DATA_DIR", "from-env")
    monkeypatch.delenv("BOTIFYTHON_DOWNLOADS_DIR", raising=False)
    settings = Settings.resolve()
    assert settings.data_dir == tmp_path / "from-env"
    assert settings.downloads_dir == tmp_path / "downloads"
