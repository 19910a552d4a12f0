"""The app's export runner: an export started by the assistant or from Link graphs runs where the
user is, shows in the chat, the Botify screen and Link graphs, and only one runs at a time."""

# ruff: noqa: F811 (the fixtures are imported from the modules that define them)
from __future__ import annotations

import dataclasses

import pytest
from textual.widgets import Button, Static

from botifython_tui.core import app_events
from botifython_tui.core.actions import ActionRefused
from botifython_tui.core.selection import Selection
from botifython_tui.tui.app import make_app
from botifython_tui.tui.export_runner import ExportBusy, ExportPhase
from botifython_tui.tui.screens.action_approval import ApproveAction
from botifython_tui.tui.screens.botify import BotifyScreen
from botifython_tui.tui.screens.dialogs import Confirm
from botifython_tui.tui.screens.linkgraphs import LinkGraphsScreen
from botifython_tui.tui.screens.todos import TodosScreen
from botifython_tui.tui.widgets.chat_input import ChatInput
from botifython_tui.tui.widgets.export_progress import ExportProgress
from tests.fakes.ollama_server import Reply
from tests.tui.helpers import burst, notifications, posted_events, until
from tests.tui.test_botify_support import TOKEN, quick_polls  # noqa: F401
from tests.tui.test_chat_actions import chosen_export, fake_botify, ollama  # noqa: F401
from tests.tui.test_linkgraphs import add_export

pytestmark = pytest.mark.usefixtures("quick_polls")
SELECTION = Selection("acme-org", "example.com", "20241108")


def is_credit_question(screen) -> bool:
    return isinstance(screen, Confirm) and not isinstance(screen, ApproveAction)


def titles(app) -> list[str]:
    return [n.title for n in app._notifications]


@pytest.fixture
def with_chat(chosen_export, ollama):
    return dataclasses.replace(chosen_export, ollama_host=ollama.base_url)


async def test_an_assistant_export_runs_where_the_user_is_and_shows_everywhere(
    with_chat, store, ollama, fake_botify
):
    fake_botify.polls_before_done = 10_000  # the links job stays in progress until released
    ollama.script(
        Reply(tool_calls=[{"name": "start_linkgraph_export", "arguments": {}}]),
        Reply(text="The export started; it asks about the credits first."),
    )
    app = make_app(with_chat, store)
    messages: list = []
    async with app.run_test(size=(120, 36), message_hook=messages.append) as pilot:
        await pilot.press("f2")
        assert isinstance(app.screen, TodosScreen)
        todos = app.screen
        await pilot.press("ctrl+t")
        await until(pilot, lambda: isinstance(app.focused, ChatInput))
        await burst(pilot, *"Export the link graph")
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, ApproveAction), 20)
        await pilot.press("y")
        # The counts are free; the credits are asked about over the screen the user is on.
        await until(pilot, lambda: is_credit_question(app.screen), 20)
        assert app.screen_stack[-2] is todos
        assert "credits" in app.screen.question and "depth 3" in app.screen.question
        await pilot.press("y")
        await until(pilot, lambda: len(fake_botify.jobs) == 1, 20)
        run = app.exports.state
        assert run is not None and run.selection == SELECTION
        await until(pilot, lambda: "links job" in app.chat.status, 20)
        assert app.screen is todos  # never switched
        told = app.chat.context(1).running_export  # what the assistant is told runs
        assert told == run.describe() and told.startswith("acme-org/example.com 20241108: ")

        # The Botify screen, opened mid-way, shows the run from its start.
        await pilot.press("f4")
        await until(pilot, lambda: isinstance(app.screen, BotifyScreen))
        screen = app.screen
        await until(pilot, lambda: "links job" in "\n".join(screen.query_one(ExportProgress).lines))
        lines = screen.query_one(ExportProgress).lines
        assert lines[0].startswith("Export of acme-org/example.com 20241108")
        assert any("depth 3 chosen" in line for line in lines)
        assert not screen.query_one("#cancel-export", Button).disabled
        assert screen.query_one("#start-export", Button).disabled

        await pilot.press("f2")
        assert app.screen is todos
        fake_botify.polls_before_done = 0  # now the job finishes and its files download
        await until(pilot, lambda: store.exports(1).list(), 30)
        await until(pilot, lambda: app.exports.state is None and "finished" in app.chat.status)
        assert app.screen is todos
        assert "Export finished" in titles(app)
    kinds = [type(e) for e in posted_events(messages)]
    assert kinds.count(app_events.ExportStarted) == 1
    assert kinds.index(app_events.ExportStarted) < kinds.index(app_events.ExportFinished)
    (record,) = store.exports(1).list()
    assert (record.org, record.analysis, record.depth) == ("acme-org", "20241108", 3)


async def test_one_export_at_a_time_from_every_front_end(chosen_export, store, fake_botify):
    fake_botify.polls_before_done = 10_000
    add_export(store, chosen_export, "20241108")
    app = make_app(chosen_export, store)
    messages: list = []
    async with app.run_test(size=(100, 30), message_hook=messages.append) as pilot:
        await pilot.press("f5")
        assert isinstance(app.screen, LinkGraphsScreen)
        linkgraphs = app.screen
        running_line = linkgraphs.query_one("#linkgraphs-running", Static)
        assert not running_line.display
        await pilot.press("e")  # export the highlighted analysis again
        await until(pilot, lambda: is_credit_question(app.screen), 20)
        assert "credits" in app.screen.question and "20241108 at depth 3" in app.screen.question
        await pilot.press("y")
        await until(pilot, lambda: len(fake_botify.jobs) == 1, 20)
        await until(pilot, lambda: "links job" in str(running_line.render()))
        assert running_line.display

        await pilot.press("e")  # a second one is refused, nothing is bought
        await until(pilot, lambda: "Export running" in titles(app))
        with pytest.raises(ExportBusy):
            app.exports.start(SELECTION, 1000)
        with pytest.raises(ActionRefused):
            await app.exports.start_for_assistant(SELECTION, 1000)
        assert len(fake_botify.jobs) == 1 and not is_credit_question(app.screen)

        assert app.exports.cancel()
        assert app.exports.state.phase is ExportPhase.CANCELLING
        await until(pilot, lambda: app.exports.state is None and not running_line.display)
        assert not app.exports.cancel()  # nothing left to cancel
    assert len(store.exports(1).list()) == 1  # only the one made before
    kinds = [type(e) for e in posted_events(messages)]
    assert kinds == [app_events.ExportStarted, app_events.ExportCancelled]


async def test_link_graphs_lists_an_export_when_it_finishes(chosen_export, store, fake_botify):
    add_export(store, chosen_export, "20241108")
    app = make_app(chosen_export, store)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("f5")
        screen = app.screen
        assert len(screen.records) == 1
        await pilot.press("e")
        await until(pilot, lambda: is_credit_question(app.screen), 20)
        await pilot.press("y")
        await until(pilot, lambda: len(screen.records) == 2, 30)  # the list redrew itself
        assert app.screen is screen
        assert screen.records[0].depth == 3


async def test_export_again_without_a_token_says_how_to_connect(settings, store):
    add_export(store, settings, "20241108")
    app = make_app(settings, store)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("f5")
        await pilot.press("e")
        await until(pilot, lambda: "Cannot export" in titles(app))
        assert any("API token" in text for text in notifications(app))
        assert app.exports.state is None and not isinstance(app.screen, Confirm)


def test_a_hostile_job_status_reaches_the_status_lines_neutralised():
    from botifython_tui.core.linkgraph import JobPolled
    from botifython_tui.tui.export_runner import RunningExport, status_text

    run = RunningExport(SELECTION, 1000, profile_id=1)
    run.status = status_text(
        JobPolled("links", "PROCESSING\x1b]52;c;cHduZWQ=\x07\n[bold]x[/]", 2.0)
    )
    line = run.describe()
    assert line.startswith("acme-org/example.com 20241108: links job PROCESSING")
    assert "\x1b" not in line and "\x07" not in line and "\n" not in line
    assert "[bold]x[/]" in line  # shown as typed (the widgets take it with markup off)


async def test_an_export_without_a_token_or_an_analysis_is_refused_where_it_can_be_fixed(
    chosen_export, store, fake_botify
):
    from botifython_tui.core.secrets import TokenStore
    from botifython_tui.core.selection import save_selection
    from botifython_tui.tui.export_runner import ExportRefused

    TokenStore(chosen_export.data_dir).clear()
    app = make_app(chosen_export, store)
    async with app.run_test(size=(120, 36)) as pilot:
        await pilot.press("f4")
        await until(pilot, lambda: isinstance(app.screen, BotifyScreen))
        screen = app.screen
        with pytest.raises(ExportRefused) as refused:
            app.exports.start(Selection("acme-org", "example.com", None), 1000)
        assert refused.value.missing == "token"  # the token first: without it nothing lists
        screen.action_show_tab("tab-export")
        await pilot.pause()
        await pilot.press("s")
        await until(pilot, lambda: "Cannot export" in titles(app))
        await until(pilot, lambda: screen.tabs.active == "tab-connect")
        assert "API token" in notifications(app)[-1]

        TokenStore(chosen_export.data_dir).save(TOKEN)
        save_selection(store, 1, Selection("acme-org", "example.com", None))
        screen.refresh_data()
        with pytest.raises(ExportRefused) as refused:
            app.exports.start(screen.selection, 1000)
        assert refused.value.missing == "analysis"
        screen.action_show_tab("tab-export")
        await pilot.pause()
        await pilot.press("s")
        await until(pilot, lambda: screen.tabs.active == "tab-project")
        assert notifications(app)[-1] == "Choose a project and an analysis first."
        assert app.exports.state is None and not is_credit_question(app.screen)
    assert not fake_botify.jobs and store.exports(1).list() == []
