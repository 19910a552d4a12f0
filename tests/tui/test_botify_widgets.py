"""The Botify screen's widgets, each alone in a small host app, and the messages the screen posts."""

from __future__ import annotations

import re

from textual.app import App, ComposeResult
from textual.widgets import DataTable, Input, Static

from botifython_tui.core import app_events
from botifython_tui.core.botify import Analysis
from botifython_tui.core.secrets import TokenStore
from botifython_tui.core.selection import Selection, load_selection
from botifython_tui.tui.app import make_app
from botifython_tui.tui.errors import report_error
from botifython_tui.tui.messages import WorkFailed
from botifython_tui.tui.screens.dialogs import Confirm
from botifython_tui.tui.widgets.project_picker import ProjectPicker
from botifython_tui.tui.widgets.token_panel import TokenPanel, TokenState
from tests.tui.helpers import burst, posted_events, table_rows
from tests.tui.test_botify_support import (
    ANALYSES,
    TOKEN,
    message,
    open_botify,
    status,
    submit,
    titles,
    until,
)

pytest_plugins = ["tests.tui.test_botify_support"]  # the fake Botify and settings fixtures

UNSAFE = re.compile("[\x1b\x80-\x9f\u202a-\u202e\u2066-\u2069\u200e\u200f\u061c]")
HOSTILE = "\x1b]52;c;cHduZWQ=\x07\x1b]0;pwned\x1b\\\u202e[bold]x[/]"


class Host(App):
    """Mounts one widget and gives it what the real app gives: settings, store, and the one
    handler that turns a failed worker into a titled notification."""

    def __init__(self, widget_type: type, settings, store) -> None:
        super().__init__()
        self.widget_type = widget_type
        self.settings = settings
        self.store = store

    def compose(self) -> ComposeResult:
        yield self.widget_type()

    def on_work_failed(self, failed: WorkFailed) -> None:
        report_error(self, failed.error, failed.action)


def of_type(messages: list, kind: type) -> list:
    """The messages of one kind, each once (the hook sees a message again as it bubbles up)."""
    unique = {id(m): m for m in messages if isinstance(m, kind)}
    return list(unique.values())


def asked(app) -> bool:
    """A question is on screen, ready for an answer."""
    return isinstance(app.screen, Confirm) and app.screen.shown_at is not None


# --- the token panel ------------------------------------------------------------------------------
async def test_accepted_token_posts_connected_and_is_saved(botify_settings, store):
    app = Host(TokenPanel, botify_settings, store)
    messages: list = []
    async with app.run_test(size=(80, 24), message_hook=messages.append) as pilot:
        panel = app.query_one(TokenPanel)
        await submit(pilot, "token-input", TOKEN)
        await until(pilot, lambda: of_type(messages, TokenPanel.Connected))
        [connected] = of_type(messages, TokenPanel.Connected)
        assert (connected.username, connected.pasted) == ("jane.doe", True)
        assert panel.state is TokenState.OK and panel.connected
        assert TokenStore(botify_settings.data_dir).load() == TOKEN
        assert app.query_one("#token-input", Input).value == ""
        shown = str(app.query_one("#token-status", Static).render())
        assert "jane.doe" in shown and "abcd" in shown and TOKEN not in shown
        assert not app.query_one("#demo-offer").display  # a working token: no demo offer


async def test_rejected_token_posts_nothing_and_is_told_under_a_title(botify_settings, store):
    app = Host(TokenPanel, botify_settings, store)
    messages: list = []
    async with app.run_test(size=(80, 24), message_hook=messages.append) as pilot:
        panel = app.query_one(TokenPanel)
        await submit(pilot, "token-input", "wrong-token-9999")
        await until(pilot, lambda: "Token rejected" in titles(app))
        assert "HTTP 401" in message(app, "Token rejected")
        assert "wrong-token" not in message(app, "Token rejected")
        assert of_type(messages, TokenPanel.Connected) == []
        assert panel.state is TokenState.NONE  # back to where it was: nothing was saved
        assert "not saved" in str(app.query_one("#token-status", Static).render())
        assert TokenStore(botify_settings.data_dir).load() is None
        assert app.query_one("#demo-offer").display


async def test_a_hostile_username_reaches_no_notification_or_status_raw(
    botify_settings, store, fake
):
    fake.username = f"jane{HOSTILE}"
    app = Host(TokenPanel, botify_settings, store)
    messages: list = []
    async with app.run_test(size=(80, 24), message_hook=messages.append) as pilot:
        await submit(pilot, "token-input", TOKEN)
        await until(pilot, lambda: of_type(messages, TokenPanel.Connected))
        await pilot.pause()
        assert "Connected as jane" in message(app, "Botify")
        assert "[bold]x[/]" in message(app, "Botify")  # markup shown as written
        for note in app._notifications:
            assert not UNSAFE.search(note.title + note.message)
        assert not UNSAFE.search(str(app.query_one("#token-status", Static).render()))


async def test_stored_token_is_checked_and_disconnect_posts_disconnected(
    botify_settings, store, fake
):
    TokenStore(botify_settings.data_dir).save(TOKEN)
    app = Host(TokenPanel, botify_settings, store)
    messages: list = []
    async with app.run_test(size=(80, 24), message_hook=messages.append) as pilot:
        panel = app.query_one(TokenPanel)
        panel.verify_stored()
        await until(pilot, lambda: of_type(messages, TokenPanel.Connected))
        [connected] = of_type(messages, TokenPanel.Connected)
        assert not connected.pasted  # the stored one: nothing new was saved
        assert "Botify" not in titles(app)  # no "Connected as …, the token is saved"

        panel.disconnect()
        await until(pilot, lambda: asked(app))
        await pilot.press("n")  # changed their mind: nothing is forgotten
        await until(pilot, lambda: not isinstance(app.screen, Confirm))
        assert TokenStore(botify_settings.data_dir).load() == TOKEN
        assert of_type(messages, TokenPanel.Disconnected) == []

        panel.disconnect()
        await until(pilot, lambda: asked(app))
        await pilot.press("y")
        await until(pilot, lambda: of_type(messages, TokenPanel.Disconnected))
        assert TokenStore(botify_settings.data_dir).load() is None
        assert panel.state is TokenState.NONE and panel.username is None


async def test_demo_button_posts_demo_requested(botify_settings, store):
    app = Host(TokenPanel, botify_settings, store)
    messages: list = []
    async with app.run_test(size=(80, 24), message_hook=messages.append) as pilot:
        await pilot.pause()
        await pilot.click("#demo-button")
        await until(pilot, lambda: of_type(messages, TokenPanel.DemoRequested))


# --- the project picker ---------------------------------------------------------------------------
async def test_choosing_a_project_row_selects_its_latest_finished_analysis(connected, store, fake):
    fake.add_project("acme-org", "shop.example.com", analyses=["20240301", "20240415"])
    app = Host(ProjectPicker, connected, store)
    messages: list = []
    async with app.run_test(size=(100, 30), message_hook=messages.append) as pilot:
        picker = app.query_one(ProjectPicker)
        projects = app.query_one("#projects-table", DataTable)
        picker.load_projects()
        await until(pilot, lambda: projects.row_count == 2)
        labels = [row[0].split()[0] for row in table_rows(projects)]
        projects.focus()
        projects.move_cursor(row=labels.index("acme-org/shop.example.com"))
        await pilot.press("enter")
        await until(pilot, lambda: of_type(messages, ProjectPicker.Selected))
        [selected] = of_type(messages, ProjectPicker.Selected)
        assert selected.selection == Selection("acme-org", "shop.example.com", "20240415")
        assert not selected.final  # proposed by the picker; the person may still pick another
        assert app.query_one("#analyses-table", DataTable).has_focus
        # The picker only proposes: the screen keeps the choice, nothing is stored here.
        assert load_selection(store, 1) is None

        await pilot.press("down", "enter")  # the person picks the older one
        await until(pilot, lambda: len(of_type(messages, ProjectPicker.Selected)) == 2)
        picked = of_type(messages, ProjectPicker.Selected)[-1]
        assert picked.selection == Selection("acme-org", "shop.example.com", "20240301")
        assert picked.final


async def test_reload_lists_the_projects_again_only_once_connected(connected, store, fake):
    app = Host(ProjectPicker, connected, store)
    async with app.run_test(size=(100, 30)) as pilot:
        picker = app.query_one(ProjectPicker)
        projects = app.query_one("#projects-table", DataTable)
        picker.reload()  # no token has worked yet: said, nothing asked of Botify
        await until(pilot, lambda: "Not connected" in titles(app))
        await pilot.pause(0.2)
        assert projects.row_count == 0 and fake.find_requests("/projects/") == []
        picker.connected("jane.doe")
        await until(pilot, lambda: projects.row_count == 1)
        fake.add_project("acme-org", "shop.example.com", analyses=["20240415"])
        picker.reload()
        await until(pilot, lambda: projects.row_count == 2)
        asked = len(fake.find_requests("/projects/"))
        picker.forget_projects()  # disconnected: r is refused again
        picker.reload()
        await pilot.pause(0.2)
        assert projects.row_count == 0 and len(fake.find_requests("/projects/")) == asked


async def test_a_pasted_url_selects_the_analysis_it_names(connected, store, fake):
    fake.max_page_size = 2  # the analyses come in two pages
    app = Host(ProjectPicker, connected, store)
    messages: list = []
    async with app.run_test(size=(100, 30), message_hook=messages.append) as pilot:
        url = "https://app.botify.com/acme-org/example.com/20241108/segmentation/?ctx=1"
        await submit(pilot, "url-input", url)
        await until(pilot, lambda: of_type(messages, ProjectPicker.Selected))
        [selected] = of_type(messages, ProjectPicker.Selected)
        assert selected.selection == Selection("acme-org", "example.com", "20241108")
        rows = table_rows(app.query_one("#analyses-table", DataTable))
        assert [row[0] for row in rows] == ANALYSES
        assert app.query_one("#url-input", Input).value == ""

        await submit(pilot, "url-input", "https://example.org/not/botify/")
        await pilot.pause()
        assert "Not a project URL" in titles(app)
        assert len(of_type(messages, ProjectPicker.Selected)) == 1


async def test_the_analysis_chosen_before_is_kept_when_the_project_comes_again(
    connected, store, fake
):
    app = Host(ProjectPicker, connected, store)
    messages: list = []
    async with app.run_test(size=(100, 30), message_hook=messages.append) as pilot:
        picker = app.query_one(ProjectPicker)
        picker.show_selection(Selection("acme-org", "example.com", "20241001"), fetch=False)
        await submit(pilot, "url-input", "acme-org/example.com")
        await until(pilot, lambda: of_type(messages, ProjectPicker.Selected))
        [selected] = of_type(messages, ProjectPicker.Selected)
        assert selected.selection.analysis == "20241001"  # not the newest: the one in use


async def test_an_unfinished_analysis_is_refused(connected, store, fake):
    app = Host(ProjectPicker, connected, store)
    messages: list = []
    async with app.run_test(size=(100, 30), message_hook=messages.append) as pilot:
        picker = app.query_one(ProjectPicker)
        # Botify lists an analysis still crawling (the fake only serves finished ones).
        picker.analyses_for = ("acme-org", "example.com")
        picker.analyses = [
            Analysis("20241201", "", f"crawling{HOSTILE}", "2024-12-01T00:00:00"),
            Analysis("20241108", "", "SUCCESS", "2024-11-08T00:00:00"),
        ]
        picker.fill_analyses(to_selection=True)
        table = app.query_one("#analyses-table", DataTable)
        assert table_rows(table)[0][2].startswith("crawling") and table_rows(table)[1][2] == ""
        assert not UNSAFE.search(table_rows(table)[0][2])
        table.focus()
        table.move_cursor(row=0)
        await pilot.press("enter")
        await pilot.pause()
        assert "Analysis not ready" in titles(app)
        assert "crawling" in message(app, "Analysis not ready")
        assert not UNSAFE.search(message(app, "Analysis not ready"))
        assert of_type(messages, ProjectPicker.Selected) == []

        await pilot.press("down", "enter")  # finished, whatever the case Botify writes it in
        await until(pilot, lambda: of_type(messages, ProjectPicker.Selected))
        assert of_type(messages, ProjectPicker.Selected)[0].selection.analysis == "20241108"


async def test_an_unknown_project_is_told_and_selects_nothing(connected, store, fake):
    app = Host(ProjectPicker, connected, store)
    messages: list = []
    async with app.run_test(size=(100, 30), message_hook=messages.append) as pilot:
        await submit(pilot, "url-input", "acme-org/no-such-project")
        await until(pilot, lambda: "Not found on Botify" in titles(app))
        assert of_type(messages, ProjectPicker.Selected) == []
        assert app.query_one("#url-input", Input).value  # left there to fix


# --- the whole screen: each app event posted once -------------------------------------------------
async def test_the_screen_posts_botify_connected_and_project_selected_once(
    botify_settings, store, fake
):
    app = make_app(botify_settings, store)
    messages: list = []
    async with app.run_test(size=(80, 24), message_hook=messages.append) as pilot:
        screen = await open_botify(pilot)
        await submit(pilot, "token-input", TOKEN)
        await until(pilot, lambda: "Connected as jane.doe" in status(app))
        projects = screen.query_one("#projects-table", DataTable)
        await until(pilot, lambda: projects.row_count == 1 and projects.has_focus)
        await pilot.press("enter")  # the one project: its newest analysis is proposed
        await until(pilot, lambda: load_selection(store, 1) is not None)
        await pilot.press("down", "enter")  # then the person picks another
        await until(pilot, lambda: load_selection(store, 1).analysis == ANALYSES[1])
        await until(pilot, lambda: status(app).endswith(ANALYSES[1]))

    events = posted_events(messages)
    assert of_type(events, app_events.BotifyConnected) == [app_events.BotifyConnected("jane.doe")]
    assert of_type(events, app_events.ProjectSelected) == [
        app_events.ProjectSelected("acme-org", "example.com", ANALYSES[0]),
        app_events.ProjectSelected("acme-org", "example.com", ANALYSES[1]),
    ]
    assert of_type(events, app_events.BotifyDisconnected) == []


async def test_a_stored_token_connects_without_announcing_it_again(connected, store, fake):
    app = make_app(connected, store)
    messages: list = []
    async with app.run_test(size=(80, 24), message_hook=messages.append) as pilot:
        screen = await open_botify(pilot)
        await until(pilot, lambda: screen.query_one("#projects-table", DataTable).row_count == 1)
    assert of_type(posted_events(messages), app_events.BotifyConnected) == []


async def test_enter_twice_on_a_token_connects_once(botify_settings, store, fake):
    app = make_app(botify_settings, store)
    messages: list = []
    async with app.run_test(size=(80, 24), message_hook=messages.append) as pilot:
        screen = await open_botify(pilot)
        field = screen.query_one("#token-input", Input)
        field.focus()
        field.value = TOKEN
        await burst(pilot, "enter", "enter")  # a double press arriving at once
        await until(pilot, lambda: "Connected as jane.doe" in status(app))
        await until(pilot, lambda: screen.query_one("#projects-table", DataTable).row_count == 1)
    assert of_type(posted_events(messages), app_events.BotifyConnected) == [
        app_events.BotifyConnected("jane.doe")
    ]
    assert len(of_type(messages, TokenPanel.Connected)) == 1
