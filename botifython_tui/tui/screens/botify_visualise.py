"""Visualise an export: serve the profile's exports on localhost and hand out a Cosmograph link."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Label, Static, TextArea

from botifython_tui.core.app_events import GraphVisualised
from botifython_tui.core.browser import browser_available, open_in_browser, ssh_forward_hint
from botifython_tui.core.cosmograph import LOCAL_NETWORK_NOTE, cosmograph_url
from botifython_tui.core.fileserver import FileServerError, nodes_file_beside
from botifython_tui.core.text import single_line
from botifython_tui.logs import get_logger
from botifython_tui.tui.errors import ReportsFailedWork

log = get_logger("tui.visualise")


class VisualiseDialog(ReportsFailedWork, ModalScreen[None]):
    """The Cosmograph link, copyable; opened in a browser when there is one here."""

    BINDINGS = [
        Binding("c", "copy", "Copy link", id="visualise.copy"),
        Binding("o", "open", "Open in browser", id="visualise.open"),
        Binding("escape,q", "close", "Close", id="visualise.close"),
    ]

    def __init__(
        self,
        url: str,
        *,
        label: str,
        server_url: str,
        port: int,
        links_url: str = "",
        notice: str = "",
    ) -> None:
        super().__init__(classes="dialog")
        self.url = url
        self.links_url = links_url
        self.label = label
        self.server_url = server_url
        self.port = port
        self.notice = notice
        self.has_browser = browser_available()

    def _ssh_hint(self) -> str:
        return ssh_forward_hint(
            self.port, note=LOCAL_NETWORK_NOTE
        )  # the link, with its secret, is shown just above

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog", classes="visualise"):
            yield Label(single_line(f"Cosmograph · {self.label}"), id="dialog-title", markup=False)
            serving = (
                f"Serving this profile's exports read-only on {self.server_url}, behind the "
                "secret in the link (until you quit)."
            )
            if self.notice:
                serving += f"\n{self.notice}"
            yield Static(serving, id="visualise-serving", markup=False)
            yield TextArea(
                self.url, id="visualise-url", read_only=True, soft_wrap=True, show_cursor=False
            )
            hint = (
                f"Opening the link in your browser… {LOCAL_NETWORK_NOTE}"
                if self.has_browser
                else self._ssh_hint()
            )
            yield Static(hint, id="visualise-hint", markup=False)
            with Horizontal(id="dialog-buttons"):
                yield Button("Copy link (c)", variant="primary", id="copy", compact=True)
                if self.has_browser:
                    yield Button("Open (o)", id="open", compact=True)
                yield Button("Close (Esc)", id="close", compact=True)

    def on_mount(self) -> None:
        self.query_one("#copy", Button).focus()
        if self.has_browser:
            self.action_open()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        if event.button.id == "copy":
            self.action_copy()
        elif event.button.id == "open":
            self.action_open()
        else:
            self.action_close()

    def action_copy(self) -> None:
        # OSC 52: the terminal puts it on the clipboard of the machine in front of the user,
        # even over SSH (tmux passes it on with `set -g set-clipboard on`).
        self.app.copy_to_clipboard(self.url)
        self.notify(
            "Copied the Cosmograph link to the clipboard (if your terminal allows OSC 52; "
            "in tmux: set -g set-clipboard on).",
            title="Link copied",
            markup=False,
        )

    def action_open(self) -> None:
        if not self.has_browser:
            self.notify(
                "There is no browser on this machine: copy the link and use the ssh -L "
                "forward shown here.",
                severity="warning",
                markup=False,
            )
            return
        self.run_worker(self._open, thread=True, exit_on_error=False, group="browser")

    def _open(self) -> None:
        opened = open_in_browser(self.url)  # may wait for the browser: runs in a thread
        self.app.call_from_thread(self._opened, opened)

    def _opened(self, opened: bool) -> None:
        hint = self.query_one("#visualise-hint", Static)
        if opened:
            hint.update(
                "Opened in your browser. Keep Botifython running while Cosmograph loads. "
                + LOCAL_NETWORK_NOTE
            )
        else:
            hint.update(self._ssh_hint())
            self.notify(
                "Could not open a browser: copy the link instead.",
                severity="warning",
                markup=False,
            )

    def action_close(self) -> None:
        self.dismiss(None)


def visualise_export(
    node: Any, *, links_path: str | Path, meta_path: str | Path | None, label: str
) -> VisualiseDialog | None:
    """Serve the export's files and show the Cosmograph link; a clear message when impossible."""
    app = node.app
    links = Path(links_path)
    meta = Path(meta_path) if meta_path else None
    missing = [path for path in (links, meta) if path is not None and not path.is_file()]
    if missing:
        names = ", ".join(path.name for path in missing)
        node.notify(
            f"The files of this export are no longer on disk ({names} in {missing[0].parent}). "
            "Run the export again from Botify (F4).",
            title="Files missing",
            severity="error",
            markup=False,
        )
        return None
    # The per-node analytics file, when it exists, sizes nodes by internal PageRank and colours
    # them by pagetype; without it the node attributes colour them only.
    node_size = None
    nodes = nodes_file_beside(links)
    if nodes is not None:
        meta, node_size = nodes, "pagerank"
    server = app.downloads_server()
    try:
        server.start()
        links_url = server.url_for(links)
        meta_url = server.url_for(meta) if meta is not None else None
    except FileServerError as exc:
        log.info("Cannot serve the downloads: %s", exc)
        node.notify(
            str(exc), title="Cannot serve the files", severity="error", markup=False, timeout=10
        )
        return None
    url = cosmograph_url(links_url, meta_url, node_size=node_size)
    if server.notice:
        node.notify(server.notice, title="Another port", severity="warning", timeout=10)
    dialog = VisualiseDialog(
        url,
        label=label,
        server_url=server.base_url,
        port=server.port,
        links_url=links_url,
        notice=server.notice,
    )
    app.push_screen(dialog)
    app.publish(GraphVisualised(label))
    return dialog
