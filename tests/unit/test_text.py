"""The one neutraliser: nothing from outside may drive the terminal or reorder what is read."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from botifython_tui.core.text import neutralize_controls, single_line

OSC52 = "\x1b]52;c;cHduZWQ=\x07"
TITLE = "\x1b]0;pwned\x1b\\"
# What must never come out: ESC, any C1 control, bidi embeddings/overrides/isolates/marks.
UNSAFE = re.compile("[\x1b\x80-\x9f\u202a-\u202e\u2066-\u2069\u200e\u200f\u061c]")

# Pieces an attacker would combine: whole sequences (7-bit and 8-bit), broken ones, controls,
# bidi characters and Rich markup.
ATTACK_PIECES = [
    OSC52,
    TITLE,
    "\x1b]2;title\x9c",
    "\x9d0;eight-bit title\x07",
    "\x1b[2J\x1b[H",
    "\x9b31m",
    "\x1bP+q544e\x1b\\",
    "\x90dcs payload\x9c",
    "\x1b_apc payload\x1b\\",
    "\x1b^pm payload\x1b\\",
    "\x1bXsos payload\x1b\\",
    "\x1bc",
    "\x1b(B",
    "\x1b",
    "\x1b]",
    "\x1b[",
    "\x07\x08\r\x00\x7f\x85",
    "\u202eevil\u202c",
    "\u2066\u2067\u2068\u2069",
    "\u200e\u200f\u061c",
    "[bold red]markup[/]",
    "[link=https://evil.example]x[/link]",
    "\ud800",
]
attack_text = st.lists(
    st.one_of(st.sampled_from(ATTACK_PIECES), st.text(max_size=20)), max_size=12
).map("".join)


@pytest.mark.parametrize(
    "text",
    [
        OSC52,
        TITLE,
        "\x1b]52;c;QUJD",  # unterminated
        "\x9d52;c;QUJD\x9c",
        "\x1bP1$r0m\x1b\\",
        "\x1b_Gf=100;AAAA\x1b\\",  # kitty graphics (APC)
        "\x1b[?1049h",
        "\x1b[31m\x1b[0m",
    ],
)
def test_escape_sequences_are_removed_with_their_payload(text):
    out = neutralize_controls(f"model{text}name")
    assert "\x1b" not in out
    assert not UNSAFE.search(out)
    for payload in ("QUJD", "cHduZWQ", "pwned", "AAAA", "1049", "0m", "$r0m"):
        assert payload not in out
    assert out.startswith("model")
    if "QUJD" not in text or text.endswith("\x9c"):  # terminated: the text after it stays
        assert out == "modelname"


def test_csi_keeps_the_text_around_it():
    assert neutralize_controls("\x1b[31mred\x1b[0m text") == "red text"


def test_an_unterminated_sequence_ends_at_the_line_end():
    assert neutralize_controls("a\x1b]0;title\nsecond line") == "a\nsecond line"


def test_other_controls_become_visible_and_newlines_and_tabs_stay():
    assert neutralize_controls("a\x07b\x00c\x7fd\x85e") == "a␇b␀c␡d\\x85e"
    assert neutralize_controls("line 1\n\tline 2") == "line 1\n\tline 2"
    assert neutralize_controls("car\rriage") == "car␍riage"


def test_bidi_controls_are_removed():
    assert neutralize_controls("invoice\u202egpj.exe") == "invoicegpj.exe"
    assert neutralize_controls("\u2066a\u2069\u200e\u200f\u061c") == "a"


def test_plain_text_unicode_and_markup_are_unchanged():
    text = "Crawl of café.example — [bold]depth[/] 3 · 日本語 · עברית"
    assert neutralize_controls(text) == text
    assert single_line(text) == text


def test_single_line_collapses_breaks():
    assert single_line("a\r\nb\tc\u2028d") == "a b c d"
    assert single_line("x\x1b]0;t\ny\x07z") == "x y␇z"  # as neutralize_controls reads it


def test_not_a_string_and_lone_surrogates():
    assert neutralize_controls(42) == "42"
    assert neutralize_controls("a\ud800b") == "a\ufffdb"
    neutralize_controls("a\udcffb").encode("utf-8")


@settings(max_examples=400, deadline=None)
@given(attack_text)
def test_nothing_unsafe_survives_and_neutralising_is_idempotent(text):
    for function in (neutralize_controls, single_line):
        out = function(text)
        assert not UNSAFE.search(out), repr(out)
        assert not re.search("[\x00-\x08\x0b-\x1f\x7f]", out)
        assert function(out) == out
        out.encode("utf-8")  # printable and loggable
    assert "\n" not in single_line(text)
