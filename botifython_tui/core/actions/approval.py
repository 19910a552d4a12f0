"""Who must approve an action, and the bound on the actions one user message may start."""

from __future__ import annotations

from typing import Any

from botifython_tui.core.actions.framework import Action
from botifython_tui.core.actions.parser import ORIGIN_USER
from botifython_tui.core.settings import AUTO_APPROVE_ADDITIVE
from botifython_tui.core.store import Store

MAX_ACTIONS_PER_MESSAGE = 5


def needs_approval(
    action: Action,
    args: dict[str, Any],
    *,
    auto_approve_additive: bool = False,
    origin: str = ORIGIN_USER,
) -> bool:
    """Whether the user must approve: always for untrusted origins, deletions and credits."""
    if origin != ORIGIN_USER:
        return True  # text from a document, an export, the web (or anything unknown)
    if action.read_only:
        return False
    if action.destructive or action.spends_credits:
        return True
    return not (action.additive and auto_approve_additive)


def auto_approve_additive(store: Store) -> bool:
    """The user's setting: run additive actions (such as add_todo) without asking."""
    return store.kv.get(AUTO_APPROVE_ADDITIVE) is True


class ActionChain:
    """The actions requested for one user message: at most `limit`, and tainted by untrusted text."""

    def __init__(self, limit: int = MAX_ACTIONS_PER_MESSAGE, *, origin: str = ORIGIN_USER) -> None:
        self.limit = limit
        self.count = 0
        self.origin = origin

    def allow(self) -> bool:
        """Count one more request; False once the limit is reached."""
        if self.count >= self.limit:
            return False
        self.count += 1
        return True

    @property
    def exhausted(self) -> bool:
        """No further action will run: give the model one last turn to answer, then stop."""
        return self.count >= self.limit

    @property
    def refusal(self) -> str:
        return (
            f"Not run: at most {self.limit} actions can run for one user message. Tell the user "
            "what was done and ask before doing more."
        )

    def taint(self, origin: str) -> None:
        """Untrusted text entered the conversation: every later action in the chain asks."""
        if origin != ORIGIN_USER and self.origin == ORIGIN_USER:
            self.origin = origin

    def origin_for(self, origin: str) -> str:
        return origin if origin != ORIGIN_USER else self.origin
