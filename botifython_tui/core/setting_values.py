"""Checks for the values a person sets by flag or environment (folders, BOTIFY_API_URL, OLLAMA_HOST):
read once, when settings are resolved, and refused with the setting's name, the reason and the fix,
so no odd value reaches the file system or an HTTP client and crashes it there.

Each check returns the value to use or raises ValueError whose message is for the user.
"""

from __future__ import annotations

import ipaddress
import re
from urllib.parse import urlsplit

_LABEL = r"[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?"
_HOSTNAME = re.compile(rf"^{_LABEL}(?:\.{_LABEL})*\.?$")


def _valid_host(host: str) -> bool:
    if _HOSTNAME.match(host) and len(host) <= 253:
        return True
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def http_url(raw: str) -> str:
    """`raw` as an http(s) URL without a trailing slash; ValueError says what is wrong with it."""
    text = raw.strip()
    if not text:
        raise ValueError("it is empty")
    if any(ch.isspace() or not ch.isprintable() for ch in text):
        raise ValueError("it contains spaces or control characters")
    try:
        parts = urlsplit(text)
        port = parts.port
        host = parts.hostname
    except ValueError as exc:
        raise ValueError(f"it cannot be read as a URL ({exc})") from None
    if parts.scheme.lower() not in ("http", "https"):
        raise ValueError("it must start with https:// or http://")
    if not host:
        raise ValueError("it names no host")
    if parts.username is not None or parts.password is not None:
        raise ValueError("it must not contain a user name or password")
    if parts.query or parts.fragment:
        raise ValueError("it must not have a query (?…) or a fragment (#…)")
    if port == 0:
        raise ValueError("its port must be between 1 and 65535")
    if not _valid_host(host):
        raise ValueError(f"{host!r} is not a host name or IP address")
    return text.rstrip("/")


def ollama_url(raw: str) -> str:
    """An OLLAMA_HOST value (`host`, `host:port`, `:port` or a URL) as a URL; ValueError if odd."""
    from botifython_tui.core.ollama_address import OllamaError, normalize_host

    text = raw.strip()
    if any(ch.isspace() or not ch.isprintable() for ch in text):
        raise ValueError("it contains spaces or control characters")
    try:
        url = normalize_host(text)
    except (OllamaError, ValueError) as exc:
        if "port" in str(exc):
            raise ValueError("its port is not a number between 1 and 65535") from None
        raise ValueError("it is not HOST, HOST:PORT or an http(s):// URL") from None
    return http_url(url)


DEFAULT_BOTIFY_API_URL = "https://api.botify.com"


def unreadable(value: str) -> str | None:
    """Why text from the environment or a flag cannot be used (undecodable bytes, NUL), or None."""
    if "\x00" in value:
        return "it contains a NUL character"
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return "it is not valid UTF-8 (it has an undecodable byte)"
    return None


def shown(name: str, value: str) -> str:
    """`NAME='value'` for a variable, `--flag 'value'` for a flag; undecodable bytes as \\xNN."""
    try:
        text = value.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    except UnicodeEncodeError:
        text = value.encode("utf-8", "backslashreplace").decode("utf-8")
    return f"{name} '{text}'" if name.startswith("--") else f"{name}='{text}'"


def folder(value: str, name: str) -> str:
    """A folder named by a flag or a variable."""
    problem = unreadable(value)
    if problem:
        raise ValueError(f"{shown(name, value)} cannot be used: {problem}; use another name.")
    return value


def botify_api_url(raw: str | None) -> str:
    """BOTIFY_API_URL, or the default when it is unset."""
    if raw in (None, ""):
        return DEFAULT_BOTIFY_API_URL
    try:
        problem = unreadable(raw)
        if problem:
            raise ValueError(problem)
        return http_url(raw)
    except ValueError as exc:
        raise ValueError(
            f"{shown('BOTIFY_API_URL', raw)} is not a usable address: {exc}. Unset it, or set "
            f"it to a URL like {DEFAULT_BOTIFY_API_URL}."
        ) from None


def ollama_host(flag: str | None, env_value: str | None) -> str | None:
    """--ollama-host, else OLLAMA_HOST, as given (None: the app's setting or the default)."""
    name, raw = ("--ollama-host", flag) if flag else ("OLLAMA_HOST", env_value)
    if not raw:
        return None
    try:
        problem = unreadable(raw)
        if problem:
            raise ValueError(problem)
        ollama_url(raw)
    except ValueError as exc:
        raise ValueError(
            f"{shown(name, raw)} is not a usable Ollama address: {exc}. Set it to HOST:PORT "
            "(like localhost:11434) or an http(s):// URL."
        ) from None
    return raw
