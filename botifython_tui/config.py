"""Settings from command-line flags, environment variables and defaults; resolved paths."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from botifython_tui.core import setting_values as checks
from botifython_tui.core.paths import PathProblem, ensure_private_dir, remove_permissions
from botifython_tui.core.setting_values import DEFAULT_BOTIFY_API_URL

DEFAULT_OLLAMA_HOST = "http://localhost:11434"
DEFAULT_SERVE_PORT = 8777
DEFAULT_CORS_ORIGINS = ("https://cosmograph.app",)
DEFAULT_MAX_EDGES = 1_000_000
DB_FILENAME = "botifython.db"
LOG_FILENAME = "botifython.log"


class ConfigError(Exception):
    """A setting is unusable (for example a data folder that cannot be created)."""

    exit_code = 1


class InvalidSetting(ConfigError):
    """A flag or environment variable whose value cannot be read: bad input, not a failure."""

    exit_code = 2


@dataclass(frozen=True)
class Settings:
    """Where the app keeps its data and which services it talks to."""

    data_dir: Path
    downloads_dir: Path
    botify_api_url: str = DEFAULT_BOTIFY_API_URL
    ollama_host: str | None = None  # from --ollama-host or OLLAMA_HOST; else the app's setting
    serve_port: int = DEFAULT_SERVE_PORT
    # Web apps that may read the served exports (a self-hosted Cosmograph, for example).
    cors_origins: tuple[str, ...] = DEFAULT_CORS_ORIGINS
    max_edges: int = DEFAULT_MAX_EDGES
    extra: dict[str, str] = field(default_factory=dict)

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
        env: dict[str, str] | None = None,
        cwd: Path | None = None,
    ) -> Settings:
        """Flags win over environment variables, which win over defaults under the current folder."""
        env = dict(os.environ) if env is None else env
        cwd = cwd or Path.cwd()

        def pick(flag: str | os.PathLike[str] | None, option: str, var: str, default: str) -> Path:
            if flag not in (None, ""):
                raw = checks.folder(os.fspath(flag), option)
            else:
                raw = checks.folder(env.get(var) or default, var)
            path = Path(raw).expanduser()
            return path if path.is_absolute() else (cwd / path)

        try:  # each value is checked once, here: an odd one is refused by name, with the fix
            data = pick(data_dir, "--data-dir", "BOTIFYTHON_DATA_DIR", "data")
            downloads = pick(
                downloads_dir, "--downloads-dir", "BOTIFYTHON_DOWNLOADS_DIR", "downloads"
            )
            botify_api_url = checks.botify_api_url(env.get("BOTIFY_API_URL"))
            ollama = checks.ollama_host(ollama_host, env.get("OLLAMA_HOST"))
        except ValueError as exc:
            raise InvalidSetting(str(exc)) from None
        return cls(
            data_dir=data,
            downloads_dir=downloads,
            botify_api_url=botify_api_url,
            ollama_host=ollama,
            serve_port=_int_setting(env, "BOTIFYTHON_SERVE_PORT", DEFAULT_SERVE_PORT, 0, 65535),
            cors_origins=_origins_setting(env, "BOTIFYTHON_CORS_ORIGINS", DEFAULT_CORS_ORIGINS),
            max_edges=_int_setting(env, "BOTIFYTHON_MAX_EDGES", DEFAULT_MAX_EDGES, 1, 100_000_000),
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


def _int_setting(env: dict[str, str], name: str, default: int, low: int, high: int) -> int:
    raw = env.get(name)
    if raw in (None, ""):
        return default
    try:
        value = int(str(raw).replace("_", "").replace(",", ""))
    except ValueError:
        raise InvalidSetting(f"{name}={raw!r} is not a whole number.") from None
    if not low <= value <= high:
        raise InvalidSetting(f"{name}={value} is out of range ({low}–{high}).")
    return value


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
