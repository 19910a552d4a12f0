"""The Botify screen's plain decisions: its status line and the tab it opens on."""

from __future__ import annotations

from botifython_tui.core.selection import Selection
from botifython_tui.tui.screens.botify_support import first_tab, status_line

CHOSEN = Selection("acme-org", "example.com", "20241108")


def test_the_status_line_names_what_is_missing_and_where_to_give_it():
    assert status_line("Not connected (1)", None, exporting=False) == (
        "Not connected (1) · no project chosen (2)"
    )
    no_analysis = Selection("acme-org", "example.com", "")
    line = status_line("Connected as jane", no_analysis, exporting=False)
    assert line.endswith("no analysis chosen (2)") and CHOSEN.project_label in line
    line = status_line("Connected as jane", CHOSEN, exporting=True)
    assert line.split(" · ")[-2:] == ["20241108", "exporting…"]


def test_server_text_in_the_status_line_is_one_plain_line():
    hostile = Selection("acme\x1b]52;c;eA==\x07-org", "ex\nample.com", "2024\u202e1108")
    line = status_line("Connected as \x1b[31mjane", hostile, exporting=False)
    assert "\x1b" not in line and "\n" not in line and "\u202e" not in line


def test_the_screen_opens_on_what_is_missing_first():
    assert first_tab(False, CHOSEN) == "tab-connect"
    assert first_tab(True, None) == "tab-project"
    assert first_tab(True, Selection("acme-org", "example.com", "")) == "tab-project"
    assert first_tab(True, CHOSEN) == "tab-export"
