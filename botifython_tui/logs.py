"""The log file under the data folder: shared by processes, rotated at start-up, never holding a secret."""

from __future__ import annotations

import contextlib
import logging
import os
import re
import threading
from pathlib import Path

try:
    import fcntl
except ImportError:  # Windows: no flock; rotation there is best effort
    fcntl = None  # type: ignore[assignment]

from botifython_tui.core.text import neutralize_controls, single_line

LOGGER_NAME = "botifython"
_AUTH_HEADER = re.compile(r"(?i)\b(token|bearer)\s+[A-Za-z0-9._~+/=-]{6,}")
_secrets: set[str] = set()
_secrets_lock = threading.Lock()


def register_secret(value: str | None) -> None:
    """Make sure this exact string never reaches the log (the Botify token, for example)."""
    if value and len(value) >= 4:
        with _secrets_lock:
            _secrets.add(value)


def redact(text: str) -> str:
    with _secrets_lock:
        secrets = sorted(_secrets, key=len, reverse=True)
    for secret in secrets:
        text = text.replace(secret, "[redacted]")
    return _AUTH_HEADER.sub(lambda m: f"{m.group(1)} [redacted]", text)


class RedactingFormatter(logging.Formatter):
    """Redacts after formatting, so secrets in arguments and tracebacks are caught too.

    Every record is neutralised as well: a username or a model name from a server may carry
    escape sequences (which would run in whoever `cat`s or `tail`s the log) or line breaks (which
    would forge log lines). The message is kept on one line; tracebacks keep their lines, indented,
    so that only a record's first line starts at the margin.
    """

    def formatMessage(self, record: logging.LogRecord) -> str:  # noqa: N802 (logging's name)
        record.message = single_line(record.message)
        return super().formatMessage(record)

    def format(self, record: logging.LogRecord) -> str:
        text = neutralize_controls(redact(super().format(record)))
        return text.replace("\n", "\n    ")


MAX_BYTES = 1_000_000
BACKUPS = 3


class SharedLogHandler(logging.Handler):
    """Appends to a log file shared by any number of processes (two tmux panes, a cron job).

    Each record is one `write()` to a file opened O_APPEND (0600 whatever the umask), so lines
    from several processes never mix. Rotation happens only at start-up, under a file lock
    (`rotate_at_start`); a process never renames a file another one is writing. A failure to
    log is swallowed: logging never prints to the terminal.
    """

    def __init__(self, path: Path) -> None:
        super().__init__()
        self.baseFilename = str(path)
        self._fd: int | None = os.open(
            path, os.O_CREAT | os.O_WRONLY | os.O_APPEND | getattr(os, "O_CLOEXEC", 0), 0o600
        )

    def emit(self, record: logging.LogRecord) -> None:
        try:
            if self._fd is None:
                return
            data = (self.format(record) + "\n").encode("utf-8", "backslashreplace")
            os.write(self._fd, data)  # one append: whole lines, never interleaved
        except Exception:
            self.handleError(record)

    def handleError(self, record: logging.LogRecord) -> None:  # noqa: N802 (logging's name)
        """The default prints "--- Logging error ---" to stderr, over the TUI: never."""

    def close(self) -> None:
        with contextlib.suppress(OSError, TypeError):
            if self._fd is not None:
                os.close(self._fd)
        self._fd = None
        super().close()


def rotate_at_start(path: Path, max_bytes: int = MAX_BYTES, backups: int = BACKUPS) -> bool:
    """Rotate `path` (log → log.1 → … → log.N) if it is over `max_bytes`; under a lock on
    `path.lock`, so that of several processes starting together exactly one rotates."""
    lock_path = path.with_name(path.name + ".lock")
    try:
        lock_fd = os.open(lock_path, os.O_CREAT | os.O_RDWR, 0o600)
    except OSError:
        return False
    try:
        if fcntl is not None:
            fcntl.flock(lock_fd, fcntl.LOCK_EX)
        try:
            if os.stat(path).st_size < max_bytes:
                return False
        except FileNotFoundError:
            return False
        for index in range(backups - 1, 0, -1):
            older = path.with_name(f"{path.name}.{index}")
            if older.exists():
                os.replace(older, path.with_name(f"{path.name}.{index + 1}"))
        os.replace(path, path.with_name(f"{path.name}.1"))
        return True
    except OSError:
        return False
    finally:
        if fcntl is not None:
            with contextlib.suppress(OSError):
                fcntl.flock(lock_fd, fcntl.LOCK_UN)
        os.close(lock_fd)


def configure_logging(
    log_path: Path, level: int = logging.INFO, *, max_bytes: int = MAX_BYTES
) -> logging.Logger:
    """Send the app's log to the shared file (0600), rotated at start-up; idempotent.

    Warnings of other libraries go to the same file (the root logger), never to the terminal.
    """
    logger = logging.getLogger(LOGGER_NAME)
    logger.setLevel(level)
    logger.propagate = False
    root = logging.getLogger()
    for owner in (logger, root):
        for handler in list(owner.handlers):
            if getattr(handler, "_botifython", False):
                owner.removeHandler(handler)
                handler.close()
    rotate_at_start(log_path, max_bytes)
    handler = SharedLogHandler(log_path)
    handler._botifython = True  # type: ignore[attr-defined]
    handler.setFormatter(
        RedactingFormatter("%(asctime)s %(levelname)s %(name)s [pid %(process)d] %(message)s")
    )
    logger.addHandler(handler)
    library_handler = SharedLogHandler(log_path)
    library_handler._botifython = True  # type: ignore[attr-defined]
    library_handler.setLevel(logging.WARNING)
    library_handler.setFormatter(handler.formatter)
    root.addHandler(library_handler)
    return logger


def get_logger(name: str = "") -> logging.Logger:
    return logging.getLogger(f"{LOGGER_NAME}.{name}" if name else LOGGER_NAME)
