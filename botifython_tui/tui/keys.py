"""Keys go where the screen says they go, in order, even when typed in one burst.

Textual hands a key to the focused widget's message queue and runs the bindings only once the key
has bubbled back up to the app; meanwhile the app already hands the next keys to the same widget.
So after a key that opens an input (`n` on Todos, `a` on Profiles, an F-key…) the keys typed in
the same burst reached the list, not the input: they were lost, or ran one-key commands.

`KeyPacing` (mixed into the app) serialises that: while a key that the focused widget does not
consume as text is being handled, later keys (and pastes) wait in a buffer. The key is done when
a marker posted behind it has come back to the app along the same route (so its bindings have
run), and a second marker, posted once the focus changes the action queued are applied and the
current screen is mounted, has come back from wherever the focus then is (so the messages the
action posted there, such as an Input's Submitted, are handled too), and the screen is drawn.
The buffered keys are then handed out in order to whatever has the focus by then. Text typed into
a focused input never waits.
"""

from __future__ import annotations

from collections import deque
from time import monotonic
from typing import TYPE_CHECKING

from textual import events
from textual.message import Message

if TYPE_CHECKING:
    from textual.message_pump import MessagePump
    from textual.timer import Timer

# How often to check on a marker that has not come back: its widget may have been removed on the
# way (then go on), or the machine is just slow (then wait on: a key must never overtake).
SETTLE_TIMEOUT = 0.5
MAX_HOLD = 5.0
READY_POLL = 0.01


class KeyHandled(Message, bubble=True):
    """Posted right behind a key; reaching the app means what was queued before it is done."""

    def __init__(self, serial: int, round: int) -> None:
        super().__init__()
        self.serial = serial
        self.round = round


class KeyPacing:
    """App mixin: one command key at a time; keys typed meanwhile are kept and replayed in order."""

    _pacing_serial = 0
    _pacing_held: int | None = None
    _pacing_timer: Timer | None = None
    _pacing_since = 0.0
    keys_dispatched = 0  # keys handed on so far (tests wait for a burst to be through)
    _pacing_target: MessagePump | None = None  # where the marker in transit was posted

    @property
    def _pacing_buffer(self) -> deque[events.Key | events.Paste]:
        buffer = self.__dict__.get("_pacing_keys")
        if buffer is None:
            buffer = self.__dict__["_pacing_keys"] = deque()
        return buffer

    @property
    def keys_pending(self) -> bool:
        """A command key is still being handled, or typed keys wait for their turn."""
        return self._pacing_held is not None or bool(self._pacing_buffer)

    def on_key_handled(self, message: KeyHandled) -> None:
        message.stop()
        if self._pacing_held != message.serial:
            return
        if message.round == 1:
            # The key's bindings have run. Next, after the focus changes they queued
            # (call_later), a second marker from the new focus: it follows the messages the
            # action posted there (an Input's Submitted, whose handler clears the field).
            self.call_later(self._pacing_second_round, message.serial)  # type: ignore[attr-defined]
        else:
            # Drawn, and any focus change made after the refresh (call_after_refresh) applied.
            self.call_after_refresh(  # type: ignore[attr-defined]
                lambda: self.call_later(self._pacing_release, message.serial)  # type: ignore[attr-defined]
            )

    async def on_event(self, event: events.Event) -> None:
        if isinstance(event, (events.Key, events.Paste)) and not event.is_forwarded:
            if self._pacing_held is not None:
                self._pacing_buffer.append(event)  # a paste keeps its place among the keys
                return
            await self._pacing_dispatch(event)
            return
        await super().on_event(event)  # type: ignore[misc]

    async def _pacing_dispatch(self, event: events.Key | events.Paste) -> None:
        app = self  # the App this class is mixed into
        self.keys_dispatched += 1
        if isinstance(event, events.Paste):
            await super().on_event(event)  # type: ignore[misc]
            return
        focused = app.focused  # type: ignore[attr-defined]
        if focused is not None and focused.check_consume_key(event.key, event.character):
            await super().on_event(event)  # type: ignore[misc]  # text for the focused input
            return
        self._pacing_serial += 1
        serial = self._pacing_serial
        self._pacing_held = serial
        self._pacing_since = monotonic()
        target = focused or app.screen  # type: ignore[attr-defined]
        await super().on_event(event)  # type: ignore[misc]
        if self._pacing_held != serial:  # released meanwhile (the app is closing)
            return
        self._pacing_timer = app.set_timer(  # type: ignore[attr-defined]
            SETTLE_TIMEOUT, lambda: self._pacing_overdue(serial)
        )
        if event.is_forwarded:
            self._pacing_target = target
            target.post_message(KeyHandled(serial, 1))
        else:  # a priority binding (an F-key, Ctrl+Q…) ran it right here
            self._pacing_target = None
            self.call_later(self._pacing_second_round, serial)  # type: ignore[attr-defined]

    def _pacing_overdue(self, serial: int) -> None:
        """No marker back yet: a slow machine (wait on), or its widget was removed (go on)."""
        if self._pacing_held != serial:
            return
        if monotonic() - self._pacing_since > MAX_HOLD:  # never freeze the keyboard
            self.call_later(self._pacing_release, serial)  # type: ignore[attr-defined]
            return
        target = self._pacing_target
        if target is not None and target.is_attached:
            self._pacing_timer = self.set_timer(  # type: ignore[attr-defined]
                SETTLE_TIMEOUT, lambda: self._pacing_overdue(serial)
            )
            return
        self._pacing_second_round(serial)

    def _pacing_second_round(self, serial: int) -> None:
        if self._pacing_held != serial:
            return
        screen = self.screen  # type: ignore[attr-defined]
        if not screen.is_mounted:  # a screen just pushed or opened: keys go to it once it is up
            self.set_timer(READY_POLL, lambda: self._pacing_second_round(serial))  # type: ignore[attr-defined]
            return
        target = self.focused or screen  # type: ignore[attr-defined]
        self._pacing_target = target
        target.post_message(KeyHandled(serial, 2))

    async def _pacing_release(self, serial: int) -> None:
        if self._pacing_held != serial:
            return
        self._pacing_held = None
        self._pacing_target = None
        if self._pacing_timer is not None:
            self._pacing_timer.stop()
            self._pacing_timer = None
        buffer = self._pacing_buffer
        while buffer and self._pacing_held is None:
            await self._pacing_dispatch(buffer.popleft())
