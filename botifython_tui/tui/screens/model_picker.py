"""Pick the Ollama model the assistant uses, from the models the server has installed."""

from __future__ import annotations

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Label, OptionList
from textual.widgets.option_list import Option

from botifython_tui.core.ollama import OllamaClient, OllamaError
from botifython_tui.core.text import neutralize_controls, single_line
from botifython_tui.tui.errors import ReportsFailedWork


class ModelPicker(ReportsFailedWork, ModalScreen[str | None]):
    """Lists the installed models (loaded in a worker); Enter picks, Esc cancels."""

    BINDINGS = [Binding("escape", "cancel", "Cancel", id="models.cancel")]

    def __init__(self, host: str) -> None:
        super().__init__(classes="dialog")
        self.host = host

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Label(
                f"Models installed in Ollama at {self.host}", id="dialog-title", markup=False
            )
            yield OptionList(id="model-list")
            yield Label("Loading…", id="model-status", classes="dialog-hint", markup=False)

    def on_mount(self) -> None:
        self.load_models()

    @work(exclusive=True, exit_on_error=False)
    async def load_models(self) -> None:
        status = self.query_one("#model-status", Label)
        try:
            async with OllamaClient(self.host) as client:
                models = await client.models()
        except OllamaError as exc:
            status.update(Text(neutralize_controls(str(exc))))
            return
        listing = self.query_one(OptionList)
        seen: set[str] = set()
        for model in models:
            if model.name in seen:  # two names that differ only in control characters
                continue
            seen.add(model.name)
            size = f"{model.size / 1e9:.1f} GB" if model.size else ""
            # A Text prompt: a model name is never read as markup (and is neutralised already).
            listing.add_option(Option(Text(single_line(f"{model.name}  {size}")), id=model.name))
        status.update(
            "Enter to choose · Esc to cancel"
            if models
            else "No models installed: run `ollama pull llama3.2` on the Ollama host."
        )
        listing.focus()

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self.dismiss(event.option.id)

    def action_cancel(self) -> None:
        self.dismiss(None)
