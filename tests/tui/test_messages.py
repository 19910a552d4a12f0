"""The app's typed messages: failed workers reach the user through one handler with the error's own
title, app events reach the screen in view, the store's changes redraw it."""

from __future__ import annotations

from textual.widgets import DataTable

from botifython_tui.core import app_events
from botifython_tui.core.botify import AuthError, ConnectionFailed
from botifython_tui.tui.app import make_app
from botifython_tui.tui.messages import AppEventPosted, StoreChanged, WorkFailed
from botifython_tui.tui.registry import AppSpec, builtin_apps
from botifython_tui.tui.screens.base import AppScreen
from tests.tui.helpers import posted_events, table_rows, until


def shown(app) -> list[tuple[str, str]]:
    return [(n.title, n.message) for n in app._notifications]


async def fail_in_a_worker(app, pilot, error: BaseException, name: str) -> None:
    async def boom() -> None:
        raise error

    app.screen.run_worker(boom, name=name, exit_on_error=False)
    await until(pilot, lambda: app._notifications)


async def test_a_failed_worker_is_one_notification_titled_by_the_error(settings, store):
    app = make_app(settings, store)
    messages: list = []
    async with app.run_test(size=(100, 30), message_hook=messages.append) as pilot:
        await pilot.press("f2")
        await fail_in_a_worker(app, pilot, ConnectionFailed("Botify could not be reached."), "x")
        await pilot.pause()
        assert shown(app) == [("Botify unreachable", "Botify could not be reached.")]
        assert sum(isinstance(m, WorkFailed) for m in messages) == 1
        errors = [e for e in posted_events(messages) if isinstance(e, app_events.ErrorShown)]
        assert errors == [
            app_events.ErrorShown("Botify unreachable", "Botify could not be reached.")
        ]


async def test_the_title_can_depend_on_the_error(settings, store):
    app = make_app(settings, store)
    async with app.run_test(size=(100, 30)) as pilot:
        await fail_in_a_worker(app, pilot, AuthError("Rejected.", status=401), "verify the token")
        assert shown(app)[0][0] == "Token rejected"


async def test_an_unexpected_failure_names_the_action_and_the_log_not_a_traceback(settings, store):
    app = make_app(settings, store)
    messages: list = []
    async with app.run_test(size=(100, 30), message_hook=messages.append) as pilot:
        await fail_in_a_worker(app, pilot, ZeroDivisionError("division by zero"), "count the links")
        ((title, text),) = shown(app)
        assert title == "Could not count the links"
        assert "ZeroDivisionError: division by zero" in text and str(settings.log_path) in text
        assert "Traceback" not in text
        # Not written for the user: the assistant is not told about it as an error of theirs.
        assert not any(isinstance(e, app_events.ErrorShown) for e in posted_events(messages))
    assert "Traceback" in settings.log_path.read_text()


class Listening(AppScreen):
    """An app screen that keeps the app events it hears of."""

    app_name = "Listening"

    def __init__(self) -> None:
        super().__init__()
        self.heard: list[app_events.AppEvent] = []

    def on_app_event_posted(self, message: AppEventPosted) -> None:
        self.heard.append(message.event)


async def test_published_events_reach_the_screen_in_view_once(settings, store):
    apps = [*builtin_apps(), AppSpec("listening", "Listening", "f9", Listening, "Listens")]
    app = make_app(settings, store, apps=apps, start_app="listening")
    async with app.run_test(size=(100, 30)) as pilot:
        screen = app.screen
        assert isinstance(screen, Listening)
        app.publish(app_events.TodoAdded("from elsewhere"))
        app.publish(app_events.BotifyDisconnected())
        await pilot.pause()
        assert screen.heard == [
            app_events.TodoAdded("from elsewhere"),
            app_events.BotifyDisconnected(),
        ]


async def test_another_instance_writing_redraws_the_screen_in_view(settings, store):
    app = make_app(settings, store)
    messages: list = []
    async with app.run_test(size=(100, 30), message_hook=messages.append) as pilot:
        await pilot.press("f2")
        screen = app.screen
        other = type(store)(settings.db_path)  # another process's connection to the same file
        try:
            other.todos(app.profile.id).add("Written by another pane")
        finally:
            other.close()
        await until(pilot, lambda: any(isinstance(m, StoreChanged) for m in messages), timeout=5)
        table = screen.query_one(DataTable)
        await until(pilot, lambda: "Written by another pane" in str(table_rows(table)))


async def test_a_failed_app_level_worker_reaches_the_same_handler(settings, store):
    app = make_app(settings, store)
    async with app.run_test(size=(100, 30)) as pilot:

        async def boom() -> None:
            raise ConnectionFailed("Botify could not be reached.")

        app.run_worker(boom, name="remember the export", exit_on_error=False)
        await until(pilot, lambda: app._notifications)
        assert shown(app) == [("Botify unreachable", "Botify could not be reached.")]


async def test_a_failure_the_job_announced_itself_is_not_told_twice(settings, store):
    app = make_app(settings, store)
    messages: list = []
    async with app.run_test(size=(100, 30), message_hook=messages.append) as pilot:
        app.post_message(WorkFailed(ConnectionFailed("gone"), "export", announced=True))
        await until(pilot, lambda: app._notifications)
        assert shown(app) == [("Botify unreachable", "gone")]
        assert not any(isinstance(e, app_events.ErrorShown) for e in posted_events(messages))
