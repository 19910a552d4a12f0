"""The core chat turn and the reply scheduler against the fake Ollama (real HTTP), no Textual."""

from __future__ import annotations

import asyncio
import dataclasses
import time

import pytest

from botifython_tui.core.app_events import ExportFinished, TodoAdded
from botifython_tui.core.chat.events import (
    ANSWER,
    CLAIMED,
    IGNORED,
    NARRATION,
    REPEATED,
    ActionDone,
    ActionProposed,
    AppNotice,
    Approval,
    ApprovalRequest,
    Job,
    QuestionQueued,
    ReplySaved,
    SourcesCited,
    SourcesFound,
    TokenReceived,
    TurnEnded,
    TurnStarted,
)
from botifython_tui.core.chat.host import ChatHost
from botifython_tui.core.chat.scheduler import (
    NarrationLevel,
    ReplyScheduler,
    narration_level,
)
from botifython_tui.core.chat.turn import ChatTurn
from botifython_tui.core.conversation import EVENT_ROLE
from tests.fakes.ollama_server import FakeOllama, Reply


@pytest.fixture
def ollama():
    with FakeOllama(models=["llama3.2:latest"]) as fake:
        yield fake


@pytest.fixture
def host_settings(settings, ollama):
    return dataclasses.replace(settings, ollama_host=ollama.base_url)


def stored(store, profile_id: int = 1) -> list[tuple[str, str]]:
    conversations = store.conversations(profile_id)
    return [(m.role, m.content) for m in conversations.messages(conversations.latest().id)]


async def run_question(host: ChatHost, text: str) -> list:
    conversation = host.store.conversations(1).latest()
    turn = ChatTurn(host, Job(ANSWER, 1, text), profile_id=1, conversation_id=conversation.id)
    return [event async for event in turn.run()]


class Approver:
    """Answers approvals from a list and records what it was asked."""

    def __init__(self, *answers: Approval) -> None:
        self.answers = list(answers)
        self.asked: list[ApprovalRequest] = []

    async def __call__(self, request: ApprovalRequest) -> Approval:
        self.asked.append(request)
        return self.answers.pop(0) if self.answers else Approval.NO


def add_todo(title: str) -> dict:
    return {"name": "add_todo", "arguments": {"title": title}}


async def test_a_plain_answer_streams_and_is_saved_once(host_settings, store, ollama):
    ollama.script(Reply(text="Link graphs show internal links."))
    events = await run_question(ChatHost(store, host_settings), "What is a link graph?")
    tokens = "".join(e.text for e in events if isinstance(e, TokenReceived))
    assert tokens == "Link graphs show internal links."
    saved = [e for e in events if isinstance(e, ReplySaved)]
    assert len(saved) == 1 and saved[0].message_id is not None and "tokens" in saved[0].stats
    assert isinstance(events[0], TurnStarted) and isinstance(events[-1], TurnEnded)
    assert stored(store) == [
        ("user", "What is a link graph?"),
        ("assistant", "Link graphs show internal links."),
    ]


async def test_tool_call_granted_runs_and_the_model_gets_the_result(host_settings, store, ollama):
    ollama.script(Reply(tool_calls=[add_todo("Check canonicals")]), Reply(text="Added it."))
    approver = Approver(Approval.YES)
    events = await run_question(ChatHost(store, host_settings, approve=approver), "Add a todo")
    assert [t.title for t in store.todos(1).list()] == ["Check canonicals"]
    proposed = [e for e in events if isinstance(e, ActionProposed)]
    assert len(proposed) == 1 and proposed[0].needs_approval
    assert "Check canonicals" in approver.asked[0].proposal.description
    done = [e for e in events if isinstance(e, ActionDone)]
    assert [d.status for d in done] == ["done"]
    follow_up = ollama.chat_requests[1]["messages"][-1]
    assert follow_up["role"] == "tool" and '"ok": true' in follow_up["content"]
    roles = [role for role, _ in stored(store)]
    assert roles == ["user", EVENT_ROLE, "assistant"]  # tool-call only: no empty reply saved
    assert store.audit(1).list(10)[0].action == "add_todo"


async def test_tool_call_denied_changes_nothing_and_is_audited(host_settings, store, ollama):
    ollama.script(Reply(tool_calls=[add_todo("Nope")]), Reply(text="Fine, not added."))
    events = await run_question(
        ChatHost(store, host_settings, approve=Approver(Approval.NO)), "Add a todo"
    )
    assert store.todos(1).list() == []
    assert [e.status for e in events if isinstance(e, ActionDone)] == ["rejected"]
    audit = store.audit(1).list(10)
    assert len(audit) == 1 and not audit[0].approved
    assert '"ok": false' in ollama.chat_requests[1]["messages"][-1]["content"]


async def test_without_an_approver_changes_are_refused_and_reads_run(host_settings, store, ollama):
    store.todos(1).add("Existing")
    ollama.script(
        Reply(tool_calls=[{"name": "list_todos", "arguments": {}}, add_todo("Sneaky")]),
        Reply(text="Done."),
    )
    events = await run_question(ChatHost(store, host_settings, approve=None), "Todos?")
    statuses = {e.name: e.status for e in events if isinstance(e, ActionDone)}
    assert statuses == {"list_todos": "done", "add_todo": "rejected"}
    assert [t.title for t in store.todos(1).list()] == ["Existing"]


async def test_several_actions_are_shown_first_then_approved_together(host_settings, store, ollama):
    ollama.script(
        Reply(tool_calls=[add_todo("One"), add_todo("Two"), add_todo("Three")]),
        Reply(text="All three added."),
    )
    approver = Approver(Approval.ALL)
    events = await run_question(ChatHost(store, host_settings, approve=approver), "Add three")
    assert [t.title for t in store.todos(1).list()] == ["One", "Two", "Three"]
    assert len(approver.asked) == 1 and approver.asked[0].others_waiting == 2
    kinds = [type(e).__name__ for e in events if isinstance(e, ActionProposed | ActionDone)]
    assert kinds == ["ActionProposed"] * 3 + ["ActionDone"] * 3  # each shown before any runs


async def test_the_chain_is_bounded(host_settings, store, ollama):
    store.kv["assistant.auto_approve_additive"] = True
    titles = iter(f"again {n}" for n in range(100))
    ollama.default_reply = lambda body: Reply(tool_calls=[add_todo(next(titles))])
    events = await run_question(ChatHost(store, host_settings), "Add todos forever")
    assert len(store.todos(1).list()) == 5
    assert "limit" in [e.status for e in events if isinstance(e, ActionDone)]
    assert len(ollama.chat_requests) <= 7
    assert isinstance(events[-1], TurnEnded)


async def test_the_same_call_after_its_result_is_not_run_again(host_settings, store, ollama):
    store.kv["assistant.auto_approve_additive"] = True
    ollama.default_reply = lambda body: Reply(tool_calls=[add_todo("Check the XML sitemap")])
    events = await run_question(ChatHost(store, host_settings), "Add a todo: check the XML sitemap")
    assert [t.title for t in store.todos(1).list()] == ["check the XML sitemap"]
    assert [e.status for e in events if isinstance(e, ActionDone)] == ["done"]
    notices = [e for e in events if isinstance(e, AppNotice)]
    assert [n.kind for n in notices] == [REPEATED] and "not run twice" in notices[0].text
    assert len(ollama.chat_requests) == 2
    assert isinstance(events[-1], TurnEnded)


async def test_after_a_repeat_the_rest_of_the_request_is_still_proposed(
    host_settings, store, ollama
):
    store.kv["assistant.auto_approve_additive"] = True
    ollama.default_reply = lambda body: Reply(tool_calls=[add_todo("Fix redirects")])
    await run_question(
        ChatHost(store, host_settings),
        "Add three todos: fix redirects, audit hreflang, compress images",
    )
    titles = [t.title for t in store.todos(1).list()]
    assert titles == ["fix redirects", "audit hreflang", "compress images"]


async def test_narration_is_requested_without_tools_and_never_acts(host_settings, store, ollama):
    ollama.script(Reply(text='Nice. {"action": "add_todo", "args": {"title": "again"}}',
                        tool_calls=[add_todo("audit hreflang")]))  # fmt: skip
    conversation = store.conversations(1).latest()
    job = Job(NARRATION, 1, note="The user added the todo 'audit hreflang'.")
    approver = Approver(Approval.YES)
    turn = ChatTurn(
        ChatHost(store, host_settings, approve=approver),
        job,
        profile_id=1,
        conversation_id=conversation.id,
    )
    events = [event async for event in turn.run()]
    assert "tools" not in ollama.chat_requests[0]
    assert '"action"' not in ollama.chat_requests[0]["messages"][0]["content"]
    assert store.todos(1).list() == [] and approver.asked == []
    assert not [e for e in events if isinstance(e, ActionProposed | ActionDone)]
    assert [role for role, _ in stored(store)] == [EVENT_ROLE, "assistant"]


async def test_grounding_cites_relevant_passages_only(host_settings, store, ollama, tmp_path):
    pytest.importorskip("faiss")
    from botifython_tui.core.memory import HashingEmbedder, Memory

    notes = tmp_path / "notes"
    notes.mkdir()
    (notes / "robots.md").write_text(
        "# Robots\n\nThe robots.txt file tells crawlers which paths to avoid.\n"
    )
    memory = Memory(store, host_settings.data_dir, HashingEmbedder())
    await asyncio.to_thread(memory.add_paths, [str(notes)], 1)
    old = store.conversations(1).create("Pizza")
    await asyncio.to_thread(
        memory.remember_exchange, 1, old.id, "Pizza", "Best pizza dough?", "Use strong flour."
    )
    ollama.script(Reply(text="Use robots.txt to keep crawlers out [1]."))
    events = await run_question(
        ChatHost(store, host_settings, memory=lambda: memory),
        "Which paths should crawlers avoid with robots.txt?",
    )
    found = [e for e in events if isinstance(e, SourcesFound)]
    assert found and all("pizza" not in s.label.lower() for s in found[0].sources)
    system = ollama.chat_requests[-1]["messages"][0]["content"]
    assert "[1]" in system and "robots.md" in system and "flour" not in system
    cited = [e for e in events if isinstance(e, SourcesCited)]
    assert cited and "robots.md" in cited[0].footer
    assert "Sources: [1]" in stored(store)[-1][1]


def test_unrelated_passages_and_the_current_chat_are_not_relevant():
    from botifython_tui.core.memory.grounding import MIN_CHAT_SCORE, MIN_DOCUMENT_SCORE, is_relevant
    from botifython_tui.core.memory.records import CHAT, DOCUMENT, EXPORT, Hit

    def hit(kind, source, score, exact=False):
        return Hit(score, 1, kind, source, "", 0, "text", exact)

    hits = [
        hit(DOCUMENT, "a.md", 0.8),
        hit(DOCUMENT, "b.md", 0.1),
        hit(DOCUMENT, "edge.md", MIN_DOCUMENT_SCORE),
        hit(DOCUMENT, "code.md", 0.1, exact=True),  # holds the question's error code
        hit(EXPORT, "export:x", MIN_DOCUMENT_SCORE - 0.01),
        hit(CHAT, "chat:7", 0.4),
        hit(CHAT, "chat:9", MIN_CHAT_SCORE - 0.01, exact=True),
        hit(CHAT, "chat:8", 0.9),
        hit(CHAT, "chat:3", 0.9),
    ]
    kept = [h.source for h in hits if is_relevant(h, conversation_id=3)]
    assert kept == ["a.md", "edge.md", "code.md", "chat:8"]
    assert is_relevant(hits[-1])  # another conversation's turn may cite chat 3


def test_narration_level_reads_old_and_new_values():
    assert narration_level({}) is NarrationLevel.MILESTONES
    assert narration_level({"chat.narration": False}) is NarrationLevel.OFF
    assert narration_level({"chat.narration": True}) is NarrationLevel.MILESTONES
    assert narration_level({"chat.narration": "everything"}) is NarrationLevel.EVERYTHING
    assert narration_level({"chat.narration": "nonsense"}) is NarrationLevel.MILESTONES


# --- the scheduler: one reply at a time ---------------------------------------------------------


class Driver:
    """A scheduler over real turns, its events collected by a background task."""

    def __init__(self, host: ChatHost, level: NarrationLevel, quiet: float = 0.05) -> None:
        self.host = host
        self.events: list = []
        self.scheduler = ReplyScheduler(self._start, level=level, quiet=quiet, retry_after=0.2)
        self.task = asyncio.create_task(self._collect())

    def _start(self, job: Job):
        conversation = self.host.store.conversations(1).latest()
        turn = ChatTurn(self.host, job, profile_id=1, conversation_id=conversation.id)
        return turn.run()

    async def _collect(self) -> None:
        async for event in self.scheduler.events():
            self.events.append(event)

    async def until(self, condition, timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            assert time.monotonic() < deadline, "condition not met in time"
            await asyncio.sleep(0.02)

    def ended(self) -> list[TurnEnded]:
        return [e for e in self.events if isinstance(e, TurnEnded)]

    async def close(self) -> None:
        self.scheduler.close()
        self.task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await self.task


NARRATION_A = " ".join(f"slow{i}" for i in range(200))
ANSWER_TEXT = "Crawl budget is the number of URLs a crawler fetches."
NARRATION_B = "Good luck with the export."


async def test_a_question_during_narration_gets_its_own_reply_in_order(
    host_settings, store, ollama
):
    """Issue scenario: narration streams, another event is pending, the user asks."""
    ollama.script(
        Reply(text=NARRATION_A, token_delay=0.03),
        Reply(text=ANSWER_TEXT, token_delay=0.01),
        Reply(text=NARRATION_B, token_delay=0.01),
    )
    driver = Driver(ChatHost(store, host_settings), NarrationLevel.EVERYTHING)
    try:
        driver.scheduler.app_event(TodoAdded("First"))
        await driver.until(
            lambda: len([e for e in driver.events if isinstance(e, TokenReceived)]) > 5
        )
        driver.scheduler.app_event(TodoAdded("Second"))  # pending narration
        driver.scheduler.ask("What is crawl budget?")
        await driver.until(lambda: len(driver.ended()) == 3)
    finally:
        await driver.close()

    messages = stored(store)
    assert [role for role, _ in messages] == [
        EVENT_ROLE,
        "assistant",
        "user",
        "assistant",
        EVENT_ROLE,
        "assistant",
    ]
    assert "First" in messages[0][1] and "Second" in messages[4][1]
    first = messages[1][1]
    assert first.endswith("*(stopped)*")  # the question won: narration stopped, kept, marked
    assert NARRATION_A.startswith(first.removesuffix("\n\n*(stopped)*"))
    assert messages[2][1] == "What is crawl budget?"
    assert messages[3][1] == ANSWER_TEXT  # complete, and nothing of another reply in it
    assert messages[5][1] == NARRATION_B
    assert [e.job.kind for e in driver.ended()] == [NARRATION, ANSWER, NARRATION]
    # Every reply streamed into its own bubble: the tokens between two ends are one reply.
    replies, current = [], ""
    for event in driver.events:
        if isinstance(event, TokenReceived):
            current += event.text
        elif isinstance(event, ReplySaved):
            replies.append(current)
            current = ""
    assert replies[1:] == [ANSWER_TEXT, NARRATION_B]
    # The model saw the answer's question last, never a half reply mixed with another.
    answer_request = ollama.chat_requests[1]["messages"]
    assert answer_request[-1] == {"role": "user", "content": "What is crawl budget?"}


async def test_questions_asked_while_a_reply_streams_are_queued_not_lost(
    host_settings, store, ollama
):
    ollama.script(
        Reply(text="First answer, slowly " + "x " * 40, token_delay=0.02),
        Reply(text="Second answer."),
        Reply(text="Third answer."),
    )
    driver = Driver(ChatHost(store, host_settings), NarrationLevel.OFF)
    try:
        driver.scheduler.ask("one")
        await driver.until(lambda: any(isinstance(e, TokenReceived) for e in driver.events))
        driver.scheduler.ask("two")
        driver.scheduler.ask("three")
        await driver.until(lambda: len(driver.ended()) == 3)
    finally:
        await driver.close()
    queued = [e for e in driver.events if isinstance(e, QuestionQueued)]
    assert [(q.job.text, q.position) for q in queued] == [("two", 1), ("three", 2)]
    messages = stored(store)
    assert [content for role, content in messages if role == "user"] == ["one", "two", "three"]
    assert [c for r, c in messages if r == "assistant"][1:] == ["Second answer.", "Third answer."]
    assert [r for r, _ in messages] == ["user", "assistant"] * 3


async def test_milestones_level_tells_events_but_comments_only_on_milestones(
    host_settings, store, ollama
):
    ollama.script(Reply(text="Answer."), Reply(text="Export done, nice."))
    driver = Driver(ChatHost(store, host_settings), NarrationLevel.MILESTONES)
    try:
        driver.scheduler.app_event(TodoAdded("Quiet one"))
        await asyncio.sleep(0.3)
        assert ollama.chat_requests == []  # not a milestone: no comment requested
        driver.scheduler.ask("Hello")
        await driver.until(lambda: len(driver.ended()) == 1)
        sent = ollama.chat_requests[0]["messages"]
        assert "Quiet one" in sent[-2]["content"]  # told, before the question
        driver.scheduler.app_event(ExportFinished("o", "p", "a", edges=3))
        await driver.until(lambda: len(driver.ended()) == 2)
    finally:
        await driver.close()
    assert driver.ended()[-1].job.kind == NARRATION
    assert stored(store)[-1] == ("assistant", "Export done, nice.")


@pytest.mark.parametrize("turned_off", ["before the event", "while it waits for quiet"])
async def test_what_happened_while_narration_was_off_gets_no_comment_when_it_is_back(
    host_settings, store, ollama, turned_off
):
    ollama.script(Reply(text="Answer."), Reply(text="About the export."))
    driver = Driver(ChatHost(store, host_settings), NarrationLevel.EVERYTHING, quiet=0.1)
    try:
        if turned_off == "before the event":
            driver.scheduler.set_level(NarrationLevel.OFF)
            driver.scheduler.app_event(ExportFinished("o", "p", "a", edges=3))
        else:
            driver.scheduler.app_event(ExportFinished("o", "p", "a", edges=3))
            driver.scheduler.set_level(NarrationLevel.OFF)
        driver.scheduler.set_level(NarrationLevel.EVERYTHING)
        await asyncio.sleep(0.5)  # five quiet periods
        assert ollama.chat_requests == []  # the event was not commented on after the fact
        driver.scheduler.ask("Hello")
        await driver.until(lambda: len(driver.ended()) == 1)
        assert "3 edges" in ollama.chat_requests[0]["messages"][-2]["content"]  # but told
        driver.scheduler.app_event(TodoAdded("After it is back"))
        await driver.until(lambda: len(driver.ended()) == 2)  # new events are commented on
    finally:
        await driver.close()
    assert [e.job.kind for e in driver.ended()] == [ANSWER, NARRATION]
    assert "After it is back" in ollama.chat_requests[1]["messages"][-1]["content"]


async def test_a_failed_narration_is_owed_and_asked_again_without_repeating(
    host_settings, store, ollama
):
    ollama.script(Reply(status=500), Reply(text="Now I can comment."))
    driver = Driver(ChatHost(store, host_settings), NarrationLevel.EVERYTHING)
    try:
        for i in range(5):
            driver.scheduler.app_event(TodoAdded(f"T{i}"))
        await driver.until(lambda: driver.scheduler.owed)
        assert (
            len(ollama.chat_requests) == 1
            and "T4" in ollama.chat_requests[0]["messages"][-1]["content"]
        )
        await driver.until(lambda: len(driver.ended()) == 2 and not driver.scheduler.owed)
    finally:
        await driver.close()
    events_told = [c for r, c in stored(store) if r == EVENT_ROLE]
    assert len(events_told) == 1  # the events were saved once, the reply asked for again
    assert stored(store)[-1] == ("assistant", "Now I can comment.")


# --- real small models: the action asked for happens, and nothing else ----------------------------


def export_host(store, host_settings, approver, started):
    from botifython_tui.core.selection import Selection, save_selection

    save_selection(store, 1, Selection("acme-org", "example.com", "20241108"))

    async def start_export(org, project, analysis, max_edges):
        started.append(max_edges)
        return "Started."

    return ChatHost(store, host_settings, approve=approver, start_export=start_export)


async def test_an_unrequested_export_after_the_todo_is_marked_and_keeps_the_budget(
    host_settings, store, ollama
):
    ollama.script(
        Reply(tool_calls=[add_todo("Check the XML sitemap")]),
        Reply(tool_calls=[{"name": "start_linkgraph_export", "arguments": {"max_edges": 10**8}}]),
        Reply(text="Done."),
    )
    approver, started = Approver(Approval.YES, Approval.NO), []
    host = export_host(store, host_settings, approver, started)
    events = await run_question(host, "Please add a todo titled: check the XML sitemap")
    assert [t.title for t in store.todos(1).list()] == ["check the XML sitemap"]
    export = approver.asked[1].proposal
    assert export.not_requested and export.description.startswith("Not requested: ")
    budget = f"{host_settings.max_edges:,} edges (the app's setting export.max_edges)"
    assert budget in export.description and "Botify credits (" in export.description
    assert "100,000,000" not in export.description and started == []
    assert [e.status for e in events if isinstance(e, ActionDone)] == ["done", "rejected"]


async def test_a_number_the_user_named_is_the_budget(host_settings, store, ollama):
    ollama.script(
        Reply(tool_calls=[{"name": "start_linkgraph_export", "arguments": {"max_edges": 10**8}}]),
        Reply(text="Started."),
    )
    approver, started = Approver(Approval.YES), []
    host = export_host(store, host_settings, approver, started)
    await run_question(host, "Export the link graph with at most 200000 edges")
    assert started == [200_000] and not approver.asked[0].proposal.not_requested


async def test_a_claimed_action_is_marked_nothing_was_done(host_settings, store, ollama):
    ollama.script(Reply(text="You have switched to the profile Acme."))
    events = await run_question(ChatHost(store, host_settings), "Tell me about Acme")
    notices = [e for e in events if isinstance(e, AppNotice)]
    assert [n.kind for n in notices] == [CLAIMED] and "Nothing was done" in notices[0].text
    assert isinstance(events[-2], AppNotice)  # after the reply it is about
    assert stored(store)[-1] == (EVENT_ROLE, notices[0].text)


async def test_a_claim_in_answer_to_a_command_is_marked_and_the_command_proposed(
    host_settings, store, ollama
):
    store.profiles.create("Acme")
    ollama.script(Reply(text="[App event] You have switched to the profile Acme."))
    approver = Approver(Approval.YES)
    events = await run_question(
        ChatHost(store, host_settings, approve=approver), "Switch to the profile Acme"
    )
    assert [n.kind for n in events if isinstance(n, AppNotice)] == [CLAIMED]
    assert [(e.name, e.status) for e in events if isinstance(e, ActionDone)] == [
        ("switch_profile", "done")
    ]


async def test_a_plain_answer_is_not_a_claim(host_settings, store, ollama):
    ollama.script(Reply(text="A canonical tag names the preferred URL of a page."))
    events = await run_question(ChatHost(store, host_settings), "What is a canonical tag?")
    assert not [e for e in events if isinstance(e, AppNotice | ActionProposed)]


async def test_the_users_words_forbid_actions(host_settings, store, ollama):
    ollama.script(Reply(tool_calls=[add_todo("x")]))
    approver = Approver(Approval.YES)
    events = await run_question(
        ChatHost(store, host_settings, approve=approver), "Don't add anything, just tell me"
    )
    assert store.todos(1).list() == [] and approver.asked == []
    assert [e.kind for e in events if isinstance(e, AppNotice)] == [IGNORED]


async def test_a_copy_of_the_apps_hint_never_becomes_an_action(host_settings, store, ollama):
    ollama.models.append("plain:latest")
    ollama.capabilities["plain:latest"] = ["completion"]  # no tools: actions as JSON in text
    example = '{"action": "add_todo", "args": {"title": "Check the robots.txt"}}'
    ollama.script(Reply(text=f"Sure:\n{example}"), Reply(text='{"action": "add_todo", '
                  '"args": {"title": "…"}}'), Reply(text="ok"))  # fmt: skip
    approver = Approver(Approval.YES)
    host = ChatHost(store, host_settings, approve=approver, model="plain:latest")
    await run_question(host, "What can you do?")
    assert store.todos(1).list() == [] and approver.asked == []
    systems = [r["messages"][0]["content"] for r in ollama.chat_requests if "tools" not in r]
    assert (
        systems and example in systems[0]
    )  # the app's own example: a model repeating it acts on nothing


# --- bad input -----------------------------------------------------------------------------------


async def test_fifty_tool_calls_in_one_reply_are_bounded(host_settings, store, ollama):
    store.kv["assistant.auto_approve_additive"] = True
    ollama.script(Reply(tool_calls=[add_todo(f"t{n}") for n in range(50)]), Reply(text="ok"))
    events = await run_question(ChatHost(store, host_settings), "go")
    assert len(store.todos(1).list()) == 5
    assert len([e for e in events if isinstance(e, ActionProposed)]) <= 20


@pytest.mark.parametrize(
    "arguments, titles",
    [
        (None, []),
        ('{"title": "from a string"}', ["from a string"]),
        (["a list"], []),
        ('"{\\"title\\": \\"nested\\"}"', ["nested"]),
        ("not json {", []),
    ],
)
async def test_odd_arguments(host_settings, store, ollama, arguments, titles):
    store.kv["assistant.auto_approve_additive"] = True
    ollama.script(
        Reply(tool_calls=[{"name": "add_todo", "arguments": arguments}]), Reply(text="ok")
    )
    events = await run_question(ChatHost(store, host_settings), "go")
    assert [t.title for t in store.todos(1).list()] == titles
    assert isinstance(events[-1], TurnEnded) and events[-1].outcome == "ok"


@pytest.mark.parametrize(
    "name", ["add todo", "[bold]add_todo[/]", "add_todo\x1b[31m", "add_todo\n; rm -rf /", ""]
)
async def test_odd_tool_names_run_nothing_and_show_no_markup(host_settings, store, ollama, name):
    ollama.script(Reply(tool_calls=[{"name": name, "arguments": {"title": "x"}}]), Reply(text="ok"))
    events = await run_question(ChatHost(store, host_settings), "go")
    proposed = [e for e in events if isinstance(e, ActionProposed)]
    for event in proposed:
        assert "\x1b" not in event.name + event.description and "\n" not in event.description
    if name == "add todo":  # spaces in a known name are read as the name
        assert proposed and proposed[0].name == "add_todo"
    assert store.todos(1).list() == []  # a change without an approver never runs


async def test_a_tool_call_and_the_same_action_as_json_in_text_run_once(
    host_settings, store, ollama
):
    store.kv["assistant.auto_approve_additive"] = True
    text = '{"action": "add_todo", "args": {"title": "once"}}'
    ollama.script(Reply(text=text, tool_calls=[add_todo("once")]), Reply(text="ok"))
    await run_question(ChatHost(store, host_settings), "Add a todo: once")
    assert [t.title for t in store.todos(1).list()] == ["once"]
