"""The Botify API token: kept in its own 0600 file, shown only masked, never logged."""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

from botifython_tui.core.botify import mask_token
from botifython_tui.logs import register_secret

TOKEN_FILENAME = "botify_token"


class TokenStore:
    """Read, write (atomically, 0600) and forget the token file under the data folder."""

    def __init__(self, data_dir: Path) -> None:
        self.path = data_dir / TOKEN_FILENAME

    def load(self) -> str | None:
        try:
            token = self.path.read_text(encoding="utf-8").strip()
        except FileNotFoundError:
            return None
        if os.stat(self.path).st_mode & 0o077:
            os.chmod(self.path, 0o600)  # tighten a file someone copied in by hand
        register_secret(token)
        return token or None

    def save(self, token: str) -> None:
        token = token.strip()
        if not token:
            raise ValueError("The token is empty.")
        register_secret(token)
        fd, name = tempfile.mkstemp(prefix=".botify_token.", dir=self.path.parent)
        try:
            os.fchmod(fd, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(token + "\n")
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(name, self.path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(name)
            raise

    def clear(self) -> bool:
        try:
            self.path.unlink()
        except FileNotFoundError:
            return False
        return True

    def masked(self) -> str:
        return mask_token(self.load())
