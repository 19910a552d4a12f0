"""A rotating log file under the data folder that never records secrets."""

from __future__ import annotations

import logging
import logging.handlers
import os
import re
import threading
from pathlib import Path

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


class _PrivateRotatingFileHandler(logging.handlers.RotatingFileHandler):
    """Opens (and, after a rollover, re-creates) the log file as 0600, whatever the umask."""

    def _open(self):  # type: ignore[no-untyped-def]
        fd = os.open(self.baseFilename, os.O_CREAT | os.O_WRONLY | os.O_APPEND, 0o600)
        return open(fd, self.mode, encoding=self.encoding, errors=self.errors)  # noqa: SIM115

    def handleError(self, record: logging.LogRecord) -> None:  # noqa: N802
        """A log line that cannot be written (a full disk) is dropped: logging's default would
        print a traceback on the user's terminal."""


def configure_logging(log_path: Path, level: int = logging.INFO) -> logging.Logger:
    """Send the app's log to a rotating file (0600); idempotent."""
    logger = logging.getLogger(LOGGER_NAME)
    logger.setLevel(level)
    logger.propagate = False
    for handler in list(logger.handlers):
        if getattr(handler, "_botifython", False):
            logger.removeHandler(handler)
            handler.close()
    if not log_path.exists():
        os.close(os.open(log_path, os.O_CREAT | os.O_WRONLY, 0o600))
    handler = _PrivateRotatingFileHandler(
        log_path, maxBytes=1_000_000, backupCount=3, encoding="utf-8"
    )
    handler._botifython = True  # type: ignore[attr-defined]
    handler.setFormatter(
        RedactingFormatter("%(asctime)s %(levelname)s %(name)s [pid %(process)d] %(message)s")
    )
    logger.addHandler(handler)
    return logger


def get_logger(name: str = "") -> logging.Logger:
    return logging.getLogger(f"{LOGGER_NAME}.{name}" if name else LOGGER_NAME)
