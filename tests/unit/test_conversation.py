"""Narration text, history budget and the system prompt."""

from __future__ import annotations

from botifython_tui.core.conversation import (
    AppContext,
    describe_event,
    describe_events,
    fit_history,
    system_prompt,
)


def test_every_event_the_app_posts_is_narrated_in_plain_words():
    cases = {
        "botify_connected": {"username": "jane.doe"},
        "project_selected": {"org": "acme-org", "project": "example.com", "analysis": "20241108-2"},
        "export_started": {"org": "acme-org", "project": "example.com", "analysis": "20241108"},
        "export_finished": {
            "org": "a",
            "project": "p",
            "analysis": "x",
            "edges": 10,
            "urls": 3,
            "depth": 2,
        },
        "export_failed": {"org": "a", "project": "p", "analysis": "x", "reason": "HTTP 403"},
        "todo_added": {"title": "[bold]x\x1b[31m"},
    }
    for kind, data in cases.items():
        text = describe_event(kind, data)
        assert text and "None" not in text, kind
    assert "acme-org/example.com 20241108-2" in describe_event(
        "project_selected", cases["project_selected"]
    )
    assert "\x1b" not in describe_event("todo_added", cases["todo_added"])
    assert describe_event("unknown_event", {}) is None
    burst = describe_events([("todo_added", {"title": f"T{i}"}) for i in range(3)])
    assert burst.startswith("The user, in this order:") and "T2" in burst


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
