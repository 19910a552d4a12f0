"""Narration text, history budget and the system prompt."""

from __future__ import annotations

import dataclasses

import pytest

from botifython_tui.core import app_events
from botifython_tui.core.conversation import (
    AppContext,
    describe_event,
    describe_events,
    fit_history,
    system_prompt,
)


def every_app_event() -> list[app_events.AppEvent]:
    """One instance of every concrete app event class, with hostile text where there is text."""
    hostile = "[bold]x\x1b[31m"
    made = []
    pending = [app_events.AppEvent]
    while pending:
        cls = pending.pop()
        pending.extend(cls.__subclasses__())
        if cls in (app_events.AppEvent, app_events.ExportEvent):
            continue
        fields = {
            f.name: (hostile if f.type in ("str", "str | None") else 7)
            for f in dataclasses.fields(cls)
        }
        made.append(cls(**fields))
    return made


def test_every_app_event_is_narrated_in_plain_words():
    events = every_app_event()
    assert len(events) >= 14
    for event in events:
        text = describe_event(event)
        assert text and "None" not in text and "\x1b" not in text, event
    selected = app_events.ProjectSelected("acme-org", "example.com", "20241108-2")
    assert "acme-org/example.com 20241108-2" in describe_event(selected)
    burst = describe_events([app_events.TodoAdded(f"T{i}") for i in range(3)])
    assert burst.startswith("The user, in this order:") and "T2" in burst


def test_an_event_without_words_is_a_type_error_not_a_silent_drop():
    @dataclasses.dataclass(frozen=True)
    class Unheard(app_events.AppEvent):
        pass

    with pytest.raises(TypeError, match="Unheard"):
        describe_event(Unheard())


def test_milestones_are_the_export_ending_errors_and_profile_switches():
    milestones = {type(e).__name__ for e in every_app_event() if e.milestone}
    assert milestones == {"ExportFinished", "ExportFailure", "ErrorShown", "ProfileSwitched"}


def test_system_prompt_tells_the_context_and_never_a_token():
    prompt = system_prompt(
        AppContext(
            profile="Client",
            screen="Botify",
            project="acme-org/example.com",
            analysis="20241108",
            running_export="acme-org/example.com 20241108",
        )
    )
    assert "acme-org/example.com" in prompt and "export running" in prompt
    assert "Never ask for, repeat or guess API tokens" in prompt


def test_history_keeps_the_system_prompt_and_the_newest_message():
    history = [("user", "x" * 3000), ("assistant", "y" * 3000), ("user", "latest question")]
    messages = fit_history("system", history, budget_tokens=1100)
    assert messages[0] == {"role": "system", "content": "system"}
    assert messages[-1]["content"] == "latest question"
    assert len(messages) == 3  # the oldest turn did not fit
