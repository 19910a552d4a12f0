"""Every user setting declared once, and the one rule that picks its value.

Precedence, for every setting: command-line flag > environment variable > stored setting > default.
Readers go through `resolve()` so that `botifython config list`, the screens that edit a setting and
the code that uses it always agree on the value and on where it came from.
"""

from __future__ import annotations

import enum
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from botifython_tui.logs import get_logger

log = get_logger("settings")


class SettingError(ValueError):
    """A value for a setting is unusable; `str()` names the setting and the fix."""


class Source(enum.Enum):
    """Where a setting's value came from, strongest first."""

    FLAG = "flag"
    ENV = "env"
    STORED = "stored"
    DEFAULT = "default"


_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off")


@dataclass(frozen=True)
class Setting:
    """One setting: its stored key, type, default, environment variable and command-line flag."""

    key: str
    kind: type
    default: Any
    description: str
    env: str | None = None
    flag: str | None = None
    choices: tuple[str, ...] = ()
    low: int | None = None
    high: int | None = None
    check: Callable[[str], Any] | None = None  # extra validation for text values; raises

    def parse(self, raw: Any, *, origin: str | None = None) -> Any:
        """The typed value of `raw` (a string from a flag, env var or `config set`, or a stored
        JSON value); SettingError with the fix when it is unusable."""
        where = origin or self.key
        if self.kind is bool:
            if isinstance(raw, bool):
                return raw
            text = str(raw).strip().lower()
            if text in _TRUE:
                return True
            if text in _FALSE:
                return False
            raise SettingError(f"{where}={raw!r} is not a yes/no value (use true or false).")
        if self.kind is int:
            if isinstance(raw, bool):
                raise SettingError(f"{where}={raw!r} is not a whole number.")
            try:
                value = int(str(raw).strip().replace("_", "").replace(",", ""))
            except ValueError:
                raise SettingError(f"{where}={raw!r} is not a whole number.") from None
            if (self.low is not None and value < self.low) or (
                self.high is not None and value > self.high
            ):
                raise SettingError(f"{where}={value} is out of range ({self.low}–{self.high}).")
            return value
        text = str(raw).strip()
        if self.choices:
            if self.key == NARRATION and isinstance(raw, bool):  # stored by earlier versions
                return "milestones" if raw else "off"
            if text.lower() not in self.choices:
                raise SettingError(f"{where}={raw!r} is not one of: {', '.join(self.choices)}.")
            return text.lower()
        if self.check is not None and text:
            try:
                self.check(text)
            except Exception as exc:
                raise SettingError(f"{where}: {str(exc).rstrip('.')}.") from None
        return text


@dataclass(frozen=True)
class Resolved:
    """A setting's value in effect, where it came from, and the stored value it may override."""

    setting: Setting
    value: Any
    source: Source
    origin: str  # "--ollama-host", "OLLAMA_HOST", "stored", "default"
    stored: Any = None  # the stored value, also when a flag or env var overrides it

    @property
    def overridden_by(self) -> str | None:
        """The flag or environment variable that overrides a stored value, if one does."""
        if self.stored is not None and self.source in (Source.FLAG, Source.ENV):
            return self.origin
        return None

    def describe(self) -> str:
        """Where the value came from, in words: 'environment variable OLLAMA_HOST (overrides …)'."""
        text = {
            Source.FLAG: f"command-line flag {self.origin}",
            Source.ENV: f"environment variable {self.origin}",
            Source.STORED: "stored setting",
            Source.DEFAULT: "default",
        }[self.source]
        if self.overridden_by:
            text += f" (overrides the stored {self.stored!r})"
        return text


def _check_host(text: str) -> None:
    from botifython_tui.core.ollama_address import normalize_host

    normalize_host(text)


def _check_model_path(text: str) -> None:
    if any(ord(c) < 32 or 0x7F <= ord(c) < 0xA0 for c in text):
        raise ValueError("a model name or path is one line of printable text")


MODEL = "chat.model"
OLLAMA_HOST = "chat.ollama_host"
NARRATION = "chat.narration"
CONTEXT_TOKENS = "chat.context_tokens"
REMEMBER_CHATS = "memory.remember_chats"
EMBEDDING_MODEL = "memory.embedding_model"
MAX_EDGE_BUDGET = 100_000_000  # the most edges one link-graph export may ask for
MAX_EDGES = "export.max_edges"
SERVE_PORT = "export.serve_port"
# Kept by the app itself, not set by the user (not in `config list`): named here so that every
# stored key is found in one place.
AUTO_APPROVE_ADDITIVE = "assistant.auto_approve_additive"  # Ctrl+S in the chat
NARRATION_BEFORE_OFF = "chat.narration.before_off"  # the level Ctrl+N goes back to
MODEL_TOOLS = "chat.tools"  # + ".<model>": False once Ollama said the model has no tool calls
CURRENT_PROFILE = "current_profile_id"
SELECTION = "botify.selection"  # + ".<profile id>": the project and analysis chosen in it
APP_KEYS = (AUTO_APPROVE_ADDITIVE, NARRATION_BEFORE_OFF, MODEL_TOOLS, CURRENT_PROFILE, SELECTION)

DEFAULT_OLLAMA_HOST = "localhost:11434"
DEFAULT_EMBEDDING_MODEL = "all-MiniLM-L6-v2"

SETTINGS: tuple[Setting, ...] = (
    Setting(
        MODEL,
        str,
        "",
        "Ollama model for the chat (empty: llama3.2 if installed, else the first one, remembered)",
        env="BOTIFYTHON_MODEL",
        flag="--model",
        check=_check_model_path,
    ),
    Setting(
        OLLAMA_HOST,
        str,
        DEFAULT_OLLAMA_HOST,
        "Ollama server, HOST:PORT or URL (Chat screen: Ctrl+G)",
        env="OLLAMA_HOST",
        flag="--ollama-host",
        check=_check_host,
    ),
    Setting(
        NARRATION,
        str,
        "milestones",
        "what the assistant is told about your actions in the app (Chat screen: Ctrl+N)",
        env="BOTIFYTHON_NARRATION",
        choices=("off", "milestones", "everything"),
    ),
    Setting(
        CONTEXT_TOKENS,
        int,
        4096,
        "chat history budget sent to the model, in tokens",
        env="BOTIFYTHON_CONTEXT_TOKENS",
        low=256,
        high=1_000_000,
    ),
    Setting(
        REMEMBER_CHATS,
        bool,
        True,
        "remember chat exchanges and export summaries in the document memory",
        env="BOTIFYTHON_REMEMBER_CHATS",
    ),
    Setting(
        MAX_EDGES,
        int,
        1_000_000,
        "edge budget of a link-graph export (the deepest depth that fits is chosen)",
        env="BOTIFYTHON_MAX_EDGES",
        flag="--max-edges",
        low=1,
        high=MAX_EDGE_BUDGET,
    ),
    Setting(
        SERVE_PORT,
        int,
        8777,
        "port of the read-only downloads server for Cosmograph (0: any free port)",
        env="BOTIFYTHON_SERVE_PORT",
        low=0,
        high=65535,
    ),
    Setting(
        EMBEDDING_MODEL,
        str,
        DEFAULT_EMBEDDING_MODEL,
        "embedding model of the document memory, by name or local path",
        env="BOTIFYTHON_EMBEDDING_MODEL",
        check=_check_model_path,
    ),
)

_BY_KEY = {setting.key: setting for setting in SETTINGS}


def get(key: str) -> Setting:
    """The declaration of `key`; SettingError naming the known keys otherwise."""
    try:
        return _BY_KEY[key]
    except KeyError:
        raise SettingError(
            f"There is no setting {key!r}. Settings: {', '.join(_BY_KEY)}."
        ) from None


def resolve(
    key: str,
    *,
    flags: Mapping[str, Any] | None = None,
    env: Mapping[str, str] | None = None,
    kv: Any = None,
) -> Resolved:
    """The value in effect: flag > environment variable > stored > default.

    `flags` maps setting keys to the command-line values given (None or absent: not given);
    `env` defaults to os.environ; `kv` is the store's key-value table (or None before it opens).
    A bad flag or environment value raises SettingError; a bad stored value is logged and skipped.
    """
    setting = get(key)
    env = os.environ if env is None else env
    stored = None
    if kv is not None:
        raw_stored = kv.get(setting.key)
        if raw_stored is not None:
            try:
                stored = setting.parse(raw_stored)
            except SettingError as exc:
                log.warning("Ignoring the stored setting: %s", exc)
    flag_value = (flags or {}).get(key)
    if flag_value not in (None, ""):
        origin = setting.flag or f"--{key}"
        return Resolved(
            setting, setting.parse(flag_value, origin=origin), Source.FLAG, origin, stored
        )
    if setting.env and (env.get(setting.env) or "").strip():
        value = setting.parse(env[setting.env], origin=setting.env)
        return Resolved(setting, value, Source.ENV, setting.env, stored)
    if stored is not None:
        return Resolved(setting, stored, Source.STORED, "stored", stored)
    return Resolved(setting, setting.default, Source.DEFAULT, "default")


def store(kv: Any, key: str, raw: Any) -> Any:
    """Validate and store one setting; returns the typed value stored."""
    setting = get(key)
    value = setting.parse(raw)
    if value == "" and setting.kind is str:
        kv.pop(setting.key, None)  # empty: back to the default, not a stored blank
        return setting.default
    kv[setting.key] = value
    return value


def forget(kv: Any, key: str) -> bool:
    """Remove a stored setting (back to its default unless a flag or env var sets it)."""
    setting = get(key)
    return kv.pop(setting.key, None) is not None


def all_keys() -> tuple[str, ...]:
    return tuple(_BY_KEY)
