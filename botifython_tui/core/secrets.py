"""The Botify API token: from BOTIFY_API_TOKEN, or its own 0600 file; shown only masked, never logged.

A token in the environment wins and is never written to disk unless the user stores it.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path

from botifython_tui.core.botify import mask_token
from botifython_tui.logs import register_secret

TOKEN_FILENAME = "botify_token"
TOKEN_ENV = "BOTIFY_API_TOKEN"


class TokenStore:
    """The token in use (BOTIFY_API_TOKEN, else the file); write (atomically, 0600) and forget
    the token file under the data folder."""

    def __init__(self, data_dir: Path, env: Mapping[str, str] | None = None) -> None:
        self.path = data_dir / TOKEN_FILENAME
        self._env = env

    def from_env(self) -> str | None:
        env = os.environ if self._env is None else self._env
        token = (env.get(TOKEN_ENV) or "").strip()
        if token:
            register_secret(token)
        return token or None

    def source(self) -> str | None:
        """Where the token in use comes from, in words; None when there is none."""
        if self.from_env():
            return f"environment variable {TOKEN_ENV}"
        if self.load_file():
            return f"file {self.path}"
        return None

    def load(self) -> str | None:
        """The token in use: BOTIFY_API_TOKEN when set, else the stored one."""
        return self.from_env() or self.load_file()

    def load_file(self) -> str | None:
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
