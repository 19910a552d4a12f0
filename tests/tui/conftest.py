"""Pilot presses keys faster than any person: dialogs take an answer at once unless a test says."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def immediate_answers(monkeypatch: pytest.MonkeyPatch) -> None:
    """Confirm ignores keys typed within half a second of the last one; Pilot types in between
    with no pause at all. Tests of that guard set `Confirm.answer_delay` themselves."""
    from botifython_tui.tui.screens.dialogs import Confirm

    monkeypatch.setattr(Confirm, "answer_delay", 0.0)
