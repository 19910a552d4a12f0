"""The Botify token: paste and verify it, show it masked, forget it; offer the demo meanwhile.

The panel only reports what happened (`Connected`, `Disconnected`, `DemoRequested`); the screen
that holds it decides what comes next and tells the rest of the app.
"""

from __future__ import annotations

from enum import Enum

from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.reactive import reactive
from textual.widget import Widget
from textual.widgets import Button, Input, Label, Static

from botifython_tui.core.botify import BotifyError, ConnectionFailed, ServerError, mask_token
from botifython_tui.core.text import single_line
from botifython_tui.tui.errors import ReportsFailedWork, reports_errors
from botifython_tui.tui.screens.botify_support import make_client, token_store
from botifython_tui.tui.screens.dialogs import Confirm

TOKEN_HELP = (
    "Paste your Botify API token (app.botify.com → your account → API token) and press Enter. "
    "It is checked with Botify, then kept in the data folder, readable only by you."
)
DEMO_OFFER = (
    "No token, or no Botify account? Press F9 to try the demo project: a simulated shop and "
    "blog, served on this machine, with its data and exports kept apart from yours."
)
DEMO_NOTE = (
    "This is the demo account, simulated on this machine: connected already (its token is "
    "demo-token), its exports go to downloads/demo. Start Botifython without --demo for your "
    "own account."
)


class TokenState(Enum):
    """Where the token stands with Botify."""

    NONE = "none"  # no token, or one stored but not checked yet
    CHECKING = "checking"
    OK = "ok"
    REJECTED = "rejected"  # Botify refused the stored token
    UNREACHABLE = "unreachable"  # stored, but Botify could not be asked


class TokenPanel(ReportsFailedWork, Vertical):
    """Token entry, verification and disconnection; the demo offer while nothing works.

    Needs `app.settings` (data folder, Botify API URL, demo flag). Its workers are named by what
    they do, so a failure reaches the app's one handler under the error's own title.
    """

    DEFAULT_CSS = """
    TokenPanel {
        height: auto;
    }
    """

    class Connected(Message):
        """Botify accepted the token: a new one (`pasted`, now saved) or the stored one."""

        def __init__(self, username: str, *, pasted: bool) -> None:
            super().__init__()
            self.username = username
            self.pasted = pasted

    class Disconnected(Message):
        """The stored token was forgotten at the user's request."""

    class DemoRequested(Message):
        """The user asked to try the demo project."""

    state: reactive[TokenState] = reactive(TokenState.NONE, init=False)

    def __init__(self, *, id: str | None = None) -> None:  # noqa: A002 - Textual's name
        super().__init__(id=id)
        self.username: str | None = None

    @property
    def demo(self) -> bool:
        return bool(self.app.settings.demo)  # type: ignore[attr-defined]

    @property
    def connected(self) -> bool:
        return self.state is TokenState.OK

    def compose(self) -> ComposeResult:
        yield Static(TOKEN_HELP, classes="botify-help", markup=False)
        with Horizontal(classes="botify-row"):
            yield Label("API token", classes="botify-label")
            yield Input(
                password=True,
                compact=True,
                id="token-input",
                placeholder="Paste the token, then Enter",
            )
        with Horizontal(classes="botify-row botify-buttons"):
            yield Button("Connect", id="connect-button", compact=True, variant="primary")
            yield Button("Disconnect (d)", id="disconnect-button", compact=True)
        yield Static(id="token-status", markup=False)
        yield Static(DEMO_NOTE if self.demo else DEMO_OFFER, id="demo-offer", markup=False)
        if not self.demo:
            yield Button("Try the demo project (F9)", id="demo-button", compact=True)

    def on_mount(self) -> None:
        self.show_status()

    def watch_state(self) -> None:
        self.show_status()

    def show_status(self, extra: str = "") -> None:
        """The masked token and where it stands; `extra` says what just went wrong."""
        store = token_store(self.app)
        masked = store.masked()
        stored = masked != mask_token(None)
        text = {
            TokenState.OK: f"Connected as {self.username} · token {masked}",
            TokenState.CHECKING: f"Checking the token {masked} with Botify…",
            TokenState.NONE: "No token stored yet.",
            TokenState.REJECTED: (
                f"The stored token {masked} was rejected by Botify: paste a new one."
            ),
            TokenState.UNREACHABLE: (
                f"Token {masked} stored; Botify could not be reached to check it."
            ),
        }[self.state]
        if self.state is TokenState.NONE and stored:
            text = f"Token {masked} stored."
        if store.from_env():
            text += " (from BOTIFY_API_TOKEN, which wins over a stored token)"
        self.query_one("#token-status", Static).update(single_line(f"{text} {extra}".strip()))
        self.query_one("#token-input", Input).placeholder = (
            f"Paste a new token to replace {masked}, then Enter"
            if stored
            else "Paste the token, then Enter"
        )
        self.query_one("#disconnect-button", Button).disabled = not stored
        if not self.demo:  # the demo offer, while there is no working token
            offered = not self.connected
            self.query_one("#demo-offer").display = offered
            self.query_one("#demo-button").display = offered

    @property
    def status_text(self) -> str:
        """The connection, in the words of the screen's status line."""
        return {
            TokenState.OK: f"Connected as {self.username}",
            TokenState.CHECKING: "Checking the token…",
            TokenState.NONE: "Not connected: paste your API token (1)",
            TokenState.REJECTED: "Token rejected: paste a new one (1)",
            TokenState.UNREACHABLE: "Botify unreachable: token not checked",
        }[self.state]

    def focus_target(self, *, typing: bool) -> Widget:
        """What arriving here should focus: the token field while no token works, unless the
        person just left a field (`typing=False`)."""
        wanted = typing and not self.connected
        return self.query_one("#token-input" if wanted else "#connect-button")

    # --- connecting ---------------------------------------------------------------------------
    @on(Input.Submitted, "#token-input")
    @on(Button.Pressed, "#connect-button")
    def _connect_asked(self, event: Message) -> None:
        event.stop()
        self.connect()

    def connect(self) -> None:
        """Check the pasted token with Botify; it is saved only once Botify accepts it."""
        field = self.query_one("#token-input", Input)
        token = field.value.strip()
        if not token:
            self.notify(
                "Paste your Botify API token into the field first.",
                title="No token",
                severity="warning",
            )
            field.focus()
            return
        self._verify(token, pasted=True)

    def verify_stored(self) -> None:
        """Check the stored token (on opening the screen); nothing is saved or forgotten."""
        token = token_store(self.app).load()
        if token:
            self._verify(token, pasted=False)

    def _verify(self, token: str, *, pasted: bool) -> None:
        self.run_worker(
            self._verify_token(token, pasted=pasted),
            name="verify the token",
            group="token",
            exclusive=True,
            exit_on_error=False,
        )

    async def _verify_token(self, token: str, *, pasted: bool) -> None:
        previous = (self.state, self.username)
        if previous[0] is TokenState.CHECKING:  # an earlier check was superseded
            previous = (TokenState.NONE, None)
        self.state = TokenState.CHECKING
        try:
            async with make_client(self.app, token) as client:
                username = await client.username()
        except BotifyError as exc:
            if pasted:  # nothing is saved: back to what we had before
                state, self.username = previous
                self.state = state
                self.show_status(f"The token was not saved: {_first_sentence(exc)}")
            else:
                unreachable = isinstance(exc, ConnectionFailed | ServerError)
                self.state = TokenState.UNREACHABLE if unreachable else TokenState.REJECTED
            raise  # the app's failed-work handler shows it under the error's title
        if pasted:
            token_store(self.app).save(token)
            self.query_one("#token-input", Input).value = ""
        self.username = username
        self.state = TokenState.OK
        if pasted:
            self.notify(
                single_line(f"Connected as {username}. The token is saved ({mask_token(token)})."),
                title="Botify",
                markup=False,
            )
        self.post_message(self.Connected(username, pasted=pasted))

    # --- disconnecting and the demo -----------------------------------------------------------
    @on(Button.Pressed, "#disconnect-button")
    def _disconnect_asked(self, event: Button.Pressed) -> None:
        event.stop()
        self.disconnect()

    def disconnect(self) -> None:
        """Ask, then forget the stored token."""
        if not token_store(self.app).load():
            self.notify("No token is stored: there is nothing to forget.", markup=False)
            return
        self.app.push_screen(
            Confirm(
                "Forget the Botify token stored on this machine? You will need to paste it "
                "again to export.",
                confirm_label="Forget it",
            ),
            lambda yes: self._forget() if yes else None,
        )

    @reports_errors("forget the token")
    def _forget(self) -> None:
        self.workers.cancel_group(self, "token")
        store = token_store(self.app)
        store.clear()
        self.username = None
        self.state = TokenState.NONE
        self.show_status()  # the same state as before a check: redraw the stored token anyway
        if store.from_env():
            self.notify(
                "The stored token is forgotten, but BOTIFY_API_TOKEN is set and still used; "
                "unset it to disconnect.",
                title="Botify",
                severity="warning",
                markup=False,
            )
        else:
            self.notify("Disconnected: the token is forgotten.", title="Botify", markup=False)
        self.post_message(self.Disconnected())

    @on(Button.Pressed, "#demo-button")
    def _demo_asked(self, event: Button.Pressed) -> None:
        event.stop()
        self.post_message(self.DemoRequested())


def _first_sentence(exc: BaseException) -> str:
    text = str(exc)
    head, dot, _ = text.partition(". ")
    return head + "." if dot else text
