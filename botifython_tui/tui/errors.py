"""Turn failures inside event handlers into one notification a person can act on."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any, TypeVar

from textual.worker import Worker, WorkerState

from botifython_tui.config import ConfigError
from botifython_tui.core.botify import BotifyError
from botifython_tui.core.ollama import OllamaError
from botifython_tui.core.store import StoreError
from botifython_tui.logs import get_logger
from botifython_tui.tui.messages import WorkFailed

log = get_logger("tui")
F = TypeVar("F", bound=Callable[..., Any])
# Errors whose message is written for the user: shown as they are, without a traceback. Any other
# error class that carries a `title` (the memory's, for one) is written for the user too.
EXPECTED = (StoreError, BotifyError, OllamaError, ConfigError)


def for_the_user(exc: BaseException) -> bool:
    return isinstance(exc, EXPECTED) or bool(getattr(exc, "title", ""))


def report_error(node: Any, exc: BaseException, action: str) -> None:
    """Notify expected errors plainly, under their own title; log unexpected ones with their
    traceback."""
    if for_the_user(exc):
        log.info("%s refused: %s", action, exc)
        title = getattr(exc, "title", "") or f"Could not {action}"
        node.notify(str(exc), title=title, severity="error", markup=False, timeout=10)
        return
    log.error("Unexpected error while trying to %s", action, exc_info=exc)
    where = getattr(getattr(node.app, "settings", None), "log_path", "the log file")
    node.notify(
        f"{type(exc).__name__}: {exc}\nDetails are in {where}.",
        title=f"Could not {action}",
        severity="error",
        markup=False,
    )


def reports_errors(action: str) -> Callable[[F], F]:
    """Decorate a screen method so any exception becomes a notification, never a crash."""

    def decorate(method: F) -> F:
        if inspect.iscoroutinefunction(method):

            @functools.wraps(method)
            async def async_wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
                try:
                    return await method(self, *args, **kwargs)
                except Exception as exc:
                    report_error(self, exc, action)
                    return None

            return async_wrapper  # type: ignore[return-value]

        @functools.wraps(method)
        def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
            try:
                return method(self, *args, **kwargs)
            except Exception as exc:
                report_error(self, exc, action)
                return None

        return wrapper  # type: ignore[return-value]

    return decorate


class ReportsFailedWork:
    """Mixed into screens and widgets that run workers: a worker that fails posts `WorkFailed`,
    and the app's one handler tells the user (the worker's name says what it was doing)."""

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        worker = event.worker
        if event.state == WorkerState.ERROR and worker.error is not None:
            self.app.post_message(WorkFailed(worker.error, worker.name or "finish the work"))  # type: ignore[attr-defined]
