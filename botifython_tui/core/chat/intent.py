"""What the user's own words ask for: plain commands read without the model.

Small local models often answer "Switch to the profile Acme" with words that *claim* it was done,
call the wrong action, or copy placeholders. The user's words are the reference: a plain command
("Add a todo: …", "Delete todo 3", "Export the link graph with at most 200000 edges") is read
here into the actions it asks for, so the turn can propose what the model missed, prefer the
user's values over the model's, mark other changes as not requested, and keep the edge budget
unless the user named one. Anything not recognised here is left to the model. Nothing here runs
anything: every action still goes through validation and approval.
"""

from __future__ import annotations

import re
from typing import Any

NEW_TODO = "<the todo just added>"  # complete_todo's id when the user says "…and mark it done"


class UserRequests:
    """What the user's words asked for in one turn, and which of it the replies have answered."""

    def __init__(self, text: str | None) -> None:
        self.requested = requested_actions(text) if text is not None else []
        self.pending = list(self.requested)  # asked for by the user, not yet proposed
        self._answered: list[str] = []  # requests of this reply that answer the user's words

    def take(self, name: Any, args: dict) -> dict | None:
        """The user's request this call answers (removed from the pending ones), if any: the
        same action with the same values first, else the same action (the user's values win)."""
        same = [i for i, (n, _) in enumerate(self.pending) if n == name]
        if not same:
            return None
        for index in same:
            wanted = self.pending[index][1]
            if all(
                v == NEW_TODO or str(args.get(k, "")).strip().casefold() == str(v).casefold()
                for k, v in wanted.items()
            ):
                break
        else:
            index = same[0]
        _, wanted = self.pending.pop(index)
        self._answered.append(name)
        return {k: v for k, v in wanted.items() if v != NEW_TODO}

    def matched(self, name: Any) -> bool:
        """Whether a call of `name` answered the user's words (each answer counts once)."""
        if name in self._answered:
            self._answered.remove(name)
            return True
        return False


_QUOTES = "'\"“”‘’`"
_NUMBER_WORDS = r"(?:two|three|four|five|six|\d+)"
_TODO = r"(?:todo|to-do|task|reminder)"

_FORBIDS = re.compile(
    r"\b(?:don'?t|do not|never|without)\s+(?:\w+\s+)?(?:add|change|create|delete|do|run|touch|"
    r"export|switch|modify|remove|adding|changing)\b|\bjust (?:tell|explain|say)\b",
    re.IGNORECASE,
)
_CLAUSE_SPLIT = re.compile(
    r"\s*(?:,?\s+and then\s+|,?\s+then\s+|;\s*|,?\s+and\s+(?=(?:list|mark|switch|delete|remove|"
    r"show|export|select|search|add|complete|use)\b))",
    re.IGNORECASE,
)
_ADD_MANY = re.compile(
    rf"^(?:please\s+)?(?:add|create)\s+{_NUMBER_WORDS}\s+(?:new\s+)?{_TODO}s\s*:?\s*(?P<list>.+)$",
    re.IGNORECASE,
)
_ADD = re.compile(
    rf"^(?:please\s+)?(?:add|create|make|new)\s+(?:a\s+|an\s+|the\s+|one\s+)?(?:new\s+)?{_TODO}\b"
    r"(?:\s+(?:titled|called|named|saying|that says)\s*:?|\s*[:\-–])\s*(?P<title>.+)$"
    rf"|^(?:please\s+)?(?:add|create)\s+(?:a\s+|an\s+|the\s+)?(?:new\s+)?{_TODO}\s+"
    r"(?P<quoted>(?P<q>['\"“‘]).+?['\"”’])(?=\s|$)",
    re.IGNORECASE,
)
_REMIND = re.compile(r"^(?:please\s+)?remind me to\s+(?P<title>.+)$", re.IGNORECASE)
_MARK_IT = re.compile(
    r"^(?:then\s+)?(?:mark|set)\s+it\s+(?:as\s+)?(?:done|complete|completed|finished)\b",
    re.IGNORECASE,
)
_COMPLETE = re.compile(
    rf"^(?:please\s+)?(?:mark|set)\s+(?:the\s+)?{_TODO}\s*#?(?P<id>\d+)\s+(?:as\s+)?"
    r"(?:done|complete|completed|finished)\b"
    rf"|^(?:please\s+)?(?:complete|finish|close)\s+(?:the\s+)?{_TODO}\s*#?(?P<id2>\d+)\b",
    re.IGNORECASE,
)
_FINISHED = re.compile(
    rf"\b(?:finished|completed|done with)\b.*\b{_TODO}\s*#?(?P<id>\d+)\b", re.IGNORECASE
)
_DELETE = re.compile(
    rf"^(?:please\s+)?(?:delete|remove)\s+(?:the\s+)?{_TODO}\s*#?(?P<id>\d+)\b", re.IGNORECASE
)
_LIST_TODOS = re.compile(
    rf"^(?:please\s+)?(?:what'?s|what is|what are|show|list|see|display)\b.*\b{_TODO}s?\b",
    re.IGNORECASE,
)
_LIST_PROFILES = re.compile(
    r"^(?:please\s+)?(?:which|what|list|show)\b.*\bprofiles\b", re.IGNORECASE
)
_SWITCH = re.compile(
    r"^(?:please\s+)?(?:switch|change|go)\s+(?:to\s+)?(?:the\s+)?profile\s+(?:to\s+)?(?P<p>.+)$"
    r"|^(?:please\s+)?(?:switch|change|go)\s+to\s+(?:the\s+)?(?P<p2>.+?)\s+profile$"
    r"|^(?:please\s+)?use\s+the\s+profile\s+(?P<p3>.+)$",
    re.IGNORECASE,
)
_PROJECT = re.compile(
    r"^(?:please\s+)?(?:use|set|choose|select|switch to|open)\s+(?:the\s+)?(?:botify\s+)?project"
    r"\s+(?:to\s+)?(?P<p>https?://\S+|[\w.-]+/[\w.-]+/?)$",
    re.IGNORECASE,
)
_LIST_ANALYSES = re.compile(
    r"^(?:please\s+)?(?:show|list|what are|which are|see)\b.*\banalys[ie]s\b", re.IGNORECASE
)
_SELECT_ANALYSIS = re.compile(
    r"^(?:please\s+)?(?:select|choose|use|pick)\s+(?:the\s+)?analysis\s+"
    r"(?P<a>latest|\d{8}(?:-\d+)?)\b",
    re.IGNORECASE,
)
_EXPORT = re.compile(
    r"^(?:please\s+)?(?:export|start (?:an? |the )?(?:link[- ]?graph )?export of)\s+(?:the\s+)?"
    r"(?:internal\s+)?link[- ]?graph\b",
    re.IGNORECASE,
)
_EDGES = re.compile(
    r"\b(?:at most|up to|max(?:imum)?(?: of)?|limit(?:ed)? to|no more than|only)\s+"
    r"(?P<n>\d[\d,_ ]*)\s*(?P<k>k|thousand|m|million)?\s+(?:edges|links)\b"
    r"|\b(?P<n2>\d[\d,_]*)\s*(?P<k2>k|thousand|m|million)?\s+(?:edges|links)\b",
    re.IGNORECASE,
)
_STATUS = re.compile(
    r"\bhow(?:'s| is)\b.*\bexport\b|\bexport status\b|\bstatus of (?:my|the) export\b|\bis (?:my|the) export (?:done|finished|"
    r"running|ready)\b",
    re.IGNORECASE,
)
_SEARCH = re.compile(
    r"^(?:please\s+)?(?:search|look through|check)\s+(?:in\s+)?(?:my|the)\s+(?:notes|documents|"
    r"docs|files)\s+(?:for|about)\s+(?P<q>.+)$"
    r"|^(?:what do|what does)\s+(?:my|the)\s+(?:notes|documents|docs|files)\s+say\s+about\s+"
    r"(?P<q2>.+)$",
    re.IGNORECASE,
)

# A reply that says an action happened. Checked only when no action ran in the turn.
_CLAIM = re.compile(
    r"^\s*\[App event\]|^\s*\(?Note from the app\b"
    r"|\b(?:I(?:'ve| have)?|you(?:'ve| have)|it(?:'s| has)|has been|have been|is now|was|were)\s+"
    r"(?:\w+\s+){0,2}(?:added|created|switched|deleted|removed|marked|completed|selected|"
    r"started|set|changed|reminded|exported)\b"
    r"|^\s*(?:Added|Created|Switched|Deleted|Removed|Marked|Completed|Selected|Started|Done)\b",
    re.IGNORECASE,
)


def forbids_actions(text: str) -> bool:
    """The user said not to do anything ("Don't add anything, just tell me …")."""
    return bool(_FORBIDS.search(text or ""))


def claims_action(text: str) -> bool:
    """A reply that says, in the app's event words or plainly, that something was done."""
    return bool(_CLAIM.search(text or ""))


def edge_budget_named(text: str) -> int | None:
    """The number of edges the user named, if any."""
    match = _EDGES.search(text or "")
    if match is None:
        return None
    digits = re.sub(r"[,_ ]", "", match.group("n") or match.group("n2") or "")
    if not digits.isdigit():
        return None
    value = int(digits)
    unit = (match.group("k") or match.group("k2") or "").lower()
    if unit in ("k", "thousand"):
        value *= 1000
    elif unit in ("m", "million"):
        value *= 1_000_000
    return value


def _clean(value: str) -> str:
    value = value.strip().rstrip(".!?").strip()
    if len(value) >= 2 and value[0] in _QUOTES and value[-1] in _QUOTES:
        value = value[1:-1].strip()
    return value


def requested_actions(text: str) -> list[tuple[str, dict[str, Any]]]:
    """The actions the user's words ask for, in order ([] for a question or anything unclear)."""
    text = " ".join((text or "").split())
    if not text or len(text) > 500 or text.startswith("[App event]") or forbids_actions(text):
        return []
    found: list[tuple[str, dict[str, Any]]] = []
    many = _ADD_MANY.match(text)
    if many:
        titles = re.split(r"\s*(?:,\s*(?:and\s+)?|\s+and\s+)\s*", many.group("list"))
        return [("add_todo", {"title": _clean(t)}) for t in titles if _clean(t)][:5]
    for clause in _CLAUSE_SPLIT.split(text):
        request = _clause(clause.strip(), text)
        if request is not None:
            found.append(request)
    return found[:5]


def _clause(clause: str, whole: str) -> tuple[str, dict[str, Any]] | None:
    if not clause:
        return None
    if match := _MARK_IT.match(clause):
        return ("complete_todo", {"todo_id": NEW_TODO})
    if match := _COMPLETE.match(clause):
        return ("complete_todo", {"todo_id": int(match.group("id") or match.group("id2"))})
    if match := _DELETE.match(clause):
        return ("delete_todo", {"todo_id": int(match.group("id"))})
    if match := _REMIND.match(clause):
        return ("add_todo", {"title": _clean(match.group("title"))})
    if (match := _ADD.match(clause)) and _clean(match.group("title") or match.group("quoted")):
        return ("add_todo", {"title": _clean(match.group("title") or match.group("quoted"))})
    if match := _FINISHED.search(clause):
        return ("complete_todo", {"todo_id": int(match.group("id"))})
    if match := _SWITCH.match(clause):
        name = _clean(match.group("p") or match.group("p2") or match.group("p3") or "")
        return ("switch_profile", {"profile": name}) if name else None
    if match := _PROJECT.match(clause):
        return ("set_project", {"project": match.group("p")})
    if match := _SELECT_ANALYSIS.match(clause):
        return ("select_analysis", {"analysis": match.group("a").lower()})
    if _EXPORT.match(clause):
        budget = edge_budget_named(clause)
        return ("start_linkgraph_export", {"max_edges": budget} if budget else {})
    if _STATUS.search(clause):
        return ("export_status", {})
    if match := _SEARCH.match(clause):
        query = _clean(match.group("q") or match.group("q2") or "")
        return ("search_documents", {"query": query}) if query else None
    if _LIST_ANALYSES.match(clause):
        return ("list_analyses", {})
    if _LIST_PROFILES.match(clause):
        return ("list_profiles", {})
    if _LIST_TODOS.match(clause):
        return ("list_todos", {})
    return None
