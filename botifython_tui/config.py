"""Settings from command-line flags, environment variables and defaults; resolved paths."""

from __future__ import annotations

import dataclasses
import os
import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from botifython_tui.core import setting_values as checks
from botifython_tui.core import settings as declared
from botifython_tui.core.paths import PathProblem, ensure_private_dir, remove_permissions
from botifython_tui.core.setting_values import DEFAULT_BOTIFY_API_URL

DEFAULT_OLLAMA_HOST = "http://localhost:11434"
DEFAULT_SERVE_PORT = declared.get(declared.SERVE_PORT).default
DEFAULT_MAX_EDGES = declared.get(declared.MAX_EDGES).default
DEFAULT_CORS_ORIGINS = ("https://cosmograph.app",)
DB_FILENAME = "botifython.db"
LOG_FILENAME = "botifython.log"
APP_NAME = "botifython"
DATA_DIR_ENV = "BOTIFYTHON_DATA_DIR"
DOWNLOADS_DIR_ENV = "BOTIFYTHON_DOWNLOADS_DIR"


class ConfigError(Exception):
    """A setting is unusable (for example a data folder that cannot be created)."""

    title = "Setting unusable"

    exit_code = 1


class InvalidSetting(ConfigError):
    """A flag or environment variable whose value cannot be read: bad input, not a failure."""

    exit_code = 2


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
    demo: bool = False  # the built-in demo account (simulated Botify on 127.0.0.1)
    botify_api_url: str = DEFAULT_BOTIFY_API_URL
    ollama_host: str | None = None  # from --ollama-host or OLLAMA_HOST; else the app's setting
    serve_port: int = DEFAULT_SERVE_PORT
    # Web apps that may read the served exports (a self-hosted Cosmograph, for example).
    cors_origins: tuple[str, ...] = DEFAULT_CORS_ORIGINS
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

    def for_demo(self, botify_api_url: str, subfolder: str = "demo") -> Settings:
        """The demo's settings: its own data and downloads subfolders, the simulator's URL."""
        from dataclasses import replace

        if self.demo:
            return replace(self, botify_api_url=botify_api_url)
        return replace(
            self,
            data_dir=self.data_dir / subfolder,
            downloads_dir=self.downloads_dir / subfolder,
            botify_api_url=botify_api_url,
            demo=True,
        )

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

        def pick(
            flag: str | os.PathLike[str] | None, option: str, var: str
        ) -> tuple[Path | None, str]:
            if flag not in (None, ""):
                raw, origin = checks.folder(os.fspath(flag), option), "flag"
            elif env.get(var):
                raw, origin = checks.folder(env[var], var), var
            else:
                return None, "default"
            path = Path(raw).expanduser()
            return (path if path.is_absolute() else (cwd / path)), origin

        try:  # each value is checked once, here: an odd one is refused by name, with the fix
            data, data_origin = pick(data_dir, "--data-dir", DATA_DIR_ENV)
            downloads, _ = pick(downloads_dir, "--downloads-dir", DOWNLOADS_DIR_ENV)
            botify_api_url = checks.botify_api_url(env.get("BOTIFY_API_URL"))
            checks.ollama_host(ollama_host, env.get("OLLAMA_HOST"))
        except ValueError as exc:
            raise InvalidSetting(str(exc)) from None
        settings = cls(
            data_dir=data or default_data_dir(env),
            downloads_dir=downloads or cwd / "downloads",
            botify_api_url=botify_api_url,
            cors_origins=_origins_setting(env, "BOTIFYTHON_CORS_ORIGINS", DEFAULT_CORS_ORIGINS),
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
            raise InvalidSetting(str(exc)) from None

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
        """Create the data and downloads folders (0700). A data folder the app may not write to is
        refused with the fix, never chmod-ed; one holding only the app's files is made private."""
        try:
            created = ensure_private_dir(
                self.data_dir,
                what="data",
                fix="choose another with --data-dir / BOTIFYTHON_DATA_DIR",
            )
            if not created:
                _tighten(self.data_dir, 0o700)
            # Only exports write here; they check it before any job starts.
            ensure_private_dir(
                self.downloads_dir,
                what="downloads",
                fix="choose another with --downloads-dir / BOTIFYTHON_DOWNLOADS_DIR",
                require_writable=False,
            )
        except PathProblem as exc:
            raise ConfigError(str(exc)) from exc


def _tighten(path: Path, mode: int) -> None:
    """A data folder that holds only Botifython's files (as in a fresh checkout) is made private,
    by removing permissions only: a permission is never added."""
    try:
        info = path.stat()
        if info.st_uid != os.getuid() or not info.st_mode & 0o077:
            return
        if all(entry.name.startswith(_OWN_ENTRIES) for entry in path.iterdir()):
            remove_permissions(path, mode)
    except OSError:
        pass  # not ours to change; the files inside are 0600 regardless


_ORIGIN = re.compile(r"^https?://([a-z0-9.-]+|\[[0-9a-f:.]+\])(:\d{1,5})?$")


def _origins_setting(env: dict[str, str], name: str, default: tuple[str, ...]) -> tuple[str, ...]:
    """Origins separated by commas or spaces, such as `https://cosmograph.app`; never `*`."""
    raw = env.get(name)
    if raw is None or not raw.strip():
        return default
    origins: list[str] = []
    for item in re.split(r"[\s,]+", raw.strip()):
        origin = item.rstrip("/").lower()
        if not origin:
            continue
        if not _ORIGIN.match(origin):
            raise ConfigError(
                f"{name}: {item!r} is not an origin such as https://cosmograph.app (scheme and "
                "host, optionally a port; no path, and * is not allowed)."
            )
        if origin not in origins:
            origins.append(origin)
    return tuple(origins) or default


_OWN_ENTRIES = (".gitkeep", "botifython", "botify_token", ".botify_token")
