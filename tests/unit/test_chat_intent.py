"""The user's own words read into the actions they ask for (and nothing for anything else)."""

from __future__ import annotations

import pytest

from botifython_tui.core.chat.intent import (
    NEW_TODO,
    claims_action,
    edge_budget_named,
    forbids_actions,
    requested_actions,
)


@pytest.mark.parametrize(
    "text, wanted",
    [
        ("add a task: fix the 404s", [("add_todo", {"title": "fix the 404s"})]),
        ("Create a todo called update robots", [("add_todo", {"title": "update robots"})]),
        ('Add a todo "x y"', [("add_todo", {"title": "x y"})]),
        ("mark task 4 done", [("complete_todo", {"todo_id": 4})]),
        ("remove todo 5", [("delete_todo", {"todo_id": 5})]),
        ("change profile to Client B", [("switch_profile", {"profile": "Client B"})]),
        ("set project acme-org/shop.com", [("set_project", {"project": "acme-org/shop.com"})]),
        ("select analysis latest", [("select_analysis", {"analysis": "latest"})]),
        ("export the linkgraph with 50k edges", [("start_linkgraph_export", {"max_edges": 50000})]),
        ("what is the status of my export?", [("export_status", {})]),
        (
            "Add the todo 'a' and then mark it done",
            [("add_todo", {"title": "a"}), ("complete_todo", {"todo_id": NEW_TODO})],
        ),
    ],
)
def test_plain_commands_are_read(text, wanted):
    assert requested_actions(text) == wanted


@pytest.mark.parametrize(
    "text",
    [
        "What does a todo do?",
        "How do I add a todo?",
        "Add todo list support to the roadmap?",
        "Add a todo for me",
        "Don't add anything, just tell me how todos work here.",
        "[App event] The user added the todo 'audit hreflang'.",
        "Thanks!",
        "x" * 600,
    ],
)
def test_questions_and_unclear_words_ask_for_nothing(text):
    assert requested_actions(text) == []


def test_forbids_claims_and_budgets():
    assert forbids_actions("Do not change anything") and not forbids_actions("Add a todo: x")
    assert claims_action("[App event] You have switched to the profile Acme.")
    assert claims_action("Added the todo “x”.") and claims_action("I have added it.")
    assert not claims_action("You're welcome! Ask me anything.")
    assert not claims_action("A canonical tag names the preferred URL.")
    assert edge_budget_named("at most 200,000 edges") == 200_000
    assert edge_budget_named("2 million links") == 2_000_000
    assert edge_budget_named("Export the link graph") is None
