"""Checks for the service addresses a person sets (BOTIFY_API_URL, OLLAMA_HOST): read once, with
the reason a value is refused, so no odd value reaches an HTTP client and crashes it."""

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
    from botifython_tui.core.ollama import OllamaError, normalize_host

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
