"""Settings from command-line flags, environment variables and defaults; resolved paths."""

from __future__ import annotations

import dataclasses
import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from botifython_tui.core import settings as declared

DEFAULT_BOTIFY_API_URL = "https://api.botify.com"
DEFAULT_OLLAMA_HOST = "http://localhost:11434"
DEFAULT_SERVE_PORT = declared.get(declared.SERVE_PORT).default
DEFAULT_MAX_EDGES = declared.get(declared.MAX_EDGES).default
DB_FILENAME = "botifython.db"
LOG_FILENAME = "botifython.log"
APP_NAME = "botifython"
DATA_DIR_ENV = "BOTIFYTHON_DATA_DIR"
DOWNLOADS_DIR_ENV = "BOTIFYTHON_DOWNLOADS_DIR"


class ConfigError(Exception):
    """A setting is unusable (for example a data folder that cannot be created)."""


def default_data_dir(env: Mapping[str, str] | None = None) -> Path:
    """The user's data folder: platformdirs' user_data_dir("botifython") (XDG_DATA_HOME on Linux)."""
    env = os.environ if env is None else env
    xdg = (env.get("XDG_DATA_HOME") or "").strip()
    if xdg and sys.platform.startswith("linux") and os.path.isabs(xdg):
        return Path(xdg) / APP_NAME
    from platformdirs import user_data_dir

    return Path(user_data_dir(APP_NAME, appauthor=False))


@dataclass(frozen=True)
class Settings:
    """Where the app keeps its data and which services it talks to."""

    data_dir: Path
    downloads_dir: Path
    botify_api_url: str = DEFAULT_BOTIFY_API_URL
    ollama_host: str | None = None  # from --ollama-host or OLLAMA_HOST; else the app's setting
    serve_port: int = DEFAULT_SERVE_PORT
    max_edges: int = DEFAULT_MAX_EDGES
    extra: dict[str, str] = field(default_factory=dict)
    data_dir_origin: str = "default"  # "--data-dir", "BOTIFYTHON_DATA_DIR" or "default"
    flags: Mapping[str, Any] = field(default_factory=dict, repr=False)  # setting key -> flag value
    env: Mapping[str, str] | None = field(default=None, repr=False)  # None: os.environ

    @property
    def db_path(self) -> Path:
        return self.data_dir / DB_FILENAME

    @property
    def log_path(self) -> Path:
        return self.data_dir / LOG_FILENAME

    @classmethod
    def resolve(
        cls,
        *,
        data_dir: str | os.PathLike[str] | None = None,
        downloads_dir: str | os.PathLike[str] | None = None,
        ollama_host: str | None = None,
        flags: Mapping[str, Any] | None = None,
        env: Mapping[str, str] | None = None,
        cwd: Path | None = None,
    ) -> Settings:
        """Flags win over environment variables, which win over defaults.

        The data folder defaults to the user's data folder (one per user, whichever folder the app
        starts in); exports default to ./downloads, so JupyterLab started here sees them. Declared
        settings (core/settings.py) get their stored layer later, from `with_stored()`.
        """
        env = dict(os.environ) if env is None else dict(env)
        cwd = cwd or Path.cwd()
        flags = {k: v for k, v in (flags or {}).items() if v not in (None, "")}
        if ollama_host:
            flags[declared.OLLAMA_HOST] = ollama_host

        def pick(flag: str | os.PathLike[str] | None, var: str) -> tuple[Path | None, str]:
            if flag not in (None, ""):
                raw, origin = str(flag), "flag"
            elif env.get(var):
                raw, origin = env[var], var
            else:
                return None, "default"
            path = Path(raw).expanduser()
            return (path if path.is_absolute() else (cwd / path)), origin

        data, data_origin = pick(data_dir, DATA_DIR_ENV)
        downloads, _ = pick(downloads_dir, DOWNLOADS_DIR_ENV)
        settings = cls(
            data_dir=data or default_data_dir(env),
            downloads_dir=downloads or cwd / "downloads",
            botify_api_url=(env.get("BOTIFY_API_URL") or DEFAULT_BOTIFY_API_URL).rstrip("/"),
            data_dir_origin="--data-dir" if data_origin == "flag" else data_origin,
            flags=flags,
            env=env,
        )
        return settings.with_stored(None)

    def setting(self, key: str, kv: Any = None) -> declared.Resolved:
        """A declared setting's value in effect (flag > env > stored in `kv` > default)."""
        env = self.env if self.env is not None else os.environ
        flags = dict(self.flags)
        if (
            key == declared.OLLAMA_HOST
            and self.ollama_host
            and key not in flags
            and self.ollama_host != (env.get("OLLAMA_HOST") or "").strip()
        ):
            flags[key] = self.ollama_host  # set in code (tests, embedding apps): a flag
        try:
            return declared.resolve(key, flags=flags, env=env, kv=kv)
        except declared.SettingError as exc:
            raise ConfigError(str(exc)) from None

    def with_stored(self, kv: Any) -> Settings:
        """These settings with the stored layer applied (kv None: flags, env and defaults only)."""
        try:
            host = self.setting(declared.OLLAMA_HOST)
            override = host.value if host.source is not declared.Source.DEFAULT else None
        except ConfigError:  # reported when the chat connects, not by every command
            override = self.flags.get(declared.OLLAMA_HOST) or self.ollama_host
            override = override or (self.env or os.environ).get("OLLAMA_HOST")
        return dataclasses.replace(
            self,
            ollama_host=override,
            serve_port=self.setting(declared.SERVE_PORT, kv).value,
            max_edges=self.setting(declared.MAX_EDGES, kv).value,
        )

    def ensure_dirs(self) -> None:
        """Create the data folder (0700) and the downloads folder, with clear errors."""
        _make_dir(self.data_dir, 0o700, "data")
        _make_dir(self.downloads_dir, 0o755, "downloads")
        if not os.access(self.data_dir, os.W_OK | os.X_OK):
            raise ConfigError(
                f"The data folder {self.data_dir} is not writable. "
                "Fix its permissions or choose another with --data-dir / BOTIFYTHON_DATA_DIR."
            )


def _tighten(path: Path, mode: int) -> None:
    """A data folder that holds only Botifython's files (as in a fresh checkout) is made private."""
    try:
        info = path.stat()
        if info.st_uid != os.getuid() or not info.st_mode & 0o077:
            return
        if all(entry.name.startswith(_OWN_ENTRIES) for entry in path.iterdir()):
            os.chmod(path, mode)
    except OSError:
        pass  # not ours to change; the files inside are 0600 regardless


_OWN_ENTRIES = (".gitkeep", "botifython", "botify_token", ".botify_token")


def _make_dir(path: Path, mode: int, what: str) -> None:
    if path.is_dir():
        if what == "data":
            _tighten(path, mode)
        return
    if path.exists():
        raise ConfigError(f"The {what} folder {path} exists but is not a folder.")
    try:
        path.mkdir(parents=True, mode=mode)
        os.chmod(path, mode)  # mkdir's mode is masked by the umask
    except OSError as exc:
        flag = "--data-dir" if what == "data" else "--downloads-dir"
        raise ConfigError(
            f"Cannot create the {what} folder {path}: {exc.strerror or exc}. "
            f"Choose a writable location with {flag}."
        ) from exc
