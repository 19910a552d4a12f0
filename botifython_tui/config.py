"""Settings from command-line flags, environment variables and defaults; resolved paths."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

DEFAULT_BOTIFY_API_URL = "https://api.botify.com"
DEFAULT_OLLAMA_HOST = "http://localhost:11434"
DEFAULT_SERVE_PORT = 8777
DEFAULT_MAX_EDGES = 1_000_000
DB_FILENAME = "botifython.db"
LOG_FILENAME = "botifython.log"


class ConfigError(Exception):
    """A setting is unusable (for example a data folder that cannot be created)."""


@dataclass(frozen=True)
class Settings:
    """Where the app keeps its data and which services it talks to."""

    data_dir: Path
    downloads_dir: Path
    demo: bool = False  # the built-in demo account (simulated Botify on 127.0.0.1)
    botify_api_url: str = DEFAULT_BOTIFY_API_URL
    ollama_host: str | None = None  # from --ollama-host or OLLAMA_HOST; else the app's setting
    serve_port: int = DEFAULT_SERVE_PORT
    max_edges: int = DEFAULT_MAX_EDGES
    extra: dict[str, str] = field(default_factory=dict)

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
        env: dict[str, str] | None = None,
        cwd: Path | None = None,
    ) -> Settings:
        """Flags win over environment variables, which win over defaults under the current folder."""
        env = dict(os.environ) if env is None else env
        cwd = cwd or Path.cwd()

        def pick(flag: str | os.PathLike[str] | None, var: str, default: str) -> Path:
            raw = flag if flag not in (None, "") else env.get(var) or default
            path = Path(raw).expanduser()
            return path if path.is_absolute() else (cwd / path)

        return cls(
            data_dir=pick(data_dir, "BOTIFYTHON_DATA_DIR", "data"),
            downloads_dir=pick(downloads_dir, "BOTIFYTHON_DOWNLOADS_DIR", "downloads"),
            botify_api_url=(env.get("BOTIFY_API_URL") or DEFAULT_BOTIFY_API_URL).rstrip("/"),
            ollama_host=ollama_host or env.get("OLLAMA_HOST") or None,
            serve_port=_int_setting(env, "BOTIFYTHON_SERVE_PORT", DEFAULT_SERVE_PORT, 0, 65535),
            max_edges=_int_setting(env, "BOTIFYTHON_MAX_EDGES", DEFAULT_MAX_EDGES, 1, 100_000_000),
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


def _int_setting(env: dict[str, str], name: str, default: int, low: int, high: int) -> int:
    raw = env.get(name)
    if raw in (None, ""):
        return default
    try:
        value = int(str(raw).replace("_", "").replace(",", ""))
    except ValueError:
        raise ConfigError(f"{name}={raw!r} is not a whole number.") from None
    if not low <= value <= high:
        raise ConfigError(f"{name}={value} is out of range ({low}–{high}).")
    return value


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
