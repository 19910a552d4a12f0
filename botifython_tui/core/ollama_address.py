"""Where Ollama is: the address as Ollama itself reads OLLAMA_HOST, and the client's base error.

A leaf module (no other module of the package but text safety), so the settings can check an
address without importing the client, which reads the settings.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from botifython_tui.core.text import neutralize_controls

DEFAULT_HOST = "http://127.0.0.1:11434"


class OllamaError(Exception):
    """A chat call failed; `str()` is a message for the user, with the fix."""

    title = "Ollama"

    def __init__(self, message: object = "") -> None:
        # The server's own error text (often from a remote OLLAMA_HOST) is outside text: made
        # safe once, here, for every notification, log line and terminal it reaches.
        super().__init__(neutralize_controls(str(message)))


def normalize_host(value: str | None) -> str:
    """Read OLLAMA_HOST the way Ollama does: `host`, `host:port`, `:port` or a full URL."""
    raw = (value or "").strip().rstrip("/")
    if not raw:
        return DEFAULT_HOST
    if "://" in raw:
        scheme, rest = raw.split("://", 1)
        scheme = scheme.lower()
        if scheme not in ("http", "https"):
            raise OllamaError(f"The Ollama host {raw!r} must be http(s)://HOST:PORT or HOST:PORT.")
        default_port = 80 if scheme == "http" else 443
    else:
        scheme, rest, default_port = "http", raw, 11434
    hostport, _, path = rest.partition("/")
    try:
        parts = urlsplit(f"//{hostport}")  # "[::1" is refused here
    except ValueError:
        raise OllamaError(f"The Ollama host {raw!r} is not a valid address.") from None
    try:
        port = parts.port or default_port
    except ValueError:
        raise OllamaError(f"The Ollama host {raw!r} has an invalid port.") from None
    host = parts.hostname or "127.0.0.1"
    if host in ("0.0.0.0", "::"):
        host = "127.0.0.1"  # a listening address, not one to connect to
    if not re.match(r"^[A-Za-z0-9.\-:]+$", host):
        raise OllamaError(f"The Ollama host {raw!r} is not a valid address.")
    if ":" in host:
        host = f"[{host}]"
    base = f"{scheme}://{host}:{port}"
    return f"{base}/{path}" if path else base
