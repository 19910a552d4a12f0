"""Reaching a local URL from where the user sits: a browser on this machine, or an SSH forward.

The app often runs on a headless box over SSH: `browser_available()` tells whether a link can be
opened here, `open_in_browser()` opens it, and `ssh_forward_hint()` explains the `ssh -L` port
forward otherwise. Standard library only; no Textual.
"""

from __future__ import annotations

import getpass
import logging
import os
import sys
import webbrowser
from collections.abc import Mapping

log = logging.getLogger("botifython.browser")

# Browsers that take over the terminal (and would wreck the TUI) or wait until they are closed.
_CONSOLE_BROWSERS = frozenset(
    {"www-browser", "links", "links2", "elinks", "lynx", "w3m", "browsh", "carbonyl"}
)


def _over_ssh(env: Mapping[str, str]) -> bool:
    return bool(env.get("SSH_CONNECTION") or env.get("SSH_TTY") or env.get("SSH_CLIENT"))


def browser_available(*, env: Mapping[str, str] | None = None, platform: str | None = None) -> bool:
    """Whether a link opened here would show up in a graphical browser in front of the user.

    False over SSH (unless X forwarding gives a DISPLAY), on Linux without DISPLAY or
    WAYLAND_DISPLAY, and when the only browser found is a console one (lynx, w3m...) that would
    take over the terminal. `env` and `platform` default to os.environ and sys.platform.
    """
    env = os.environ if env is None else env
    platform = sys.platform if platform is None else platform
    over_ssh = _over_ssh(env)
    if platform == "darwin" or platform.startswith(("win", "cygwin")):
        return not over_ssh
    if over_ssh and not env.get("DISPLAY"):
        return False
    if not (env.get("DISPLAY") or env.get("WAYLAND_DISPLAY")):
        return False
    try:
        browser = webbrowser.get()
    except webbrowser.Error:
        return False
    name = getattr(browser, "name", "") or ""
    command = os.path.basename(name.split()[0]) if name.split() else ""
    return command not in _CONSOLE_BROWSERS


def ssh_forward_hint(
    port: int,
    *,
    link: str | None = None,
    note: str = "",
    env: Mapping[str, str] | None = None,
) -> str:
    """Plain-language instructions for reaching the server through an `ssh -L` port forward.

    `link` is the link to open (it may carry the server's secret); it is repeated in the hint.
    `note`, when given, ends the hint (what the browser will ask, say).
    """
    env = os.environ if env is None else env
    user, host, ssh_port = "USER", "HOST", ""
    fields = (env.get("SSH_CONNECTION") or "").split()
    if len(fields) >= 3:
        host = fields[2]
        try:
            user = getpass.getuser()
        except (OSError, KeyError, ImportError):
            user = "USER"
        if len(fields) >= 4 and fields[3] not in ("", "22"):
            ssh_port = f" -p {fields[3]}"
    lines = [
        "This machine has no browser. On your own computer run:",
        f"  ssh -L {port}:127.0.0.1:{port}{ssh_port} {user}@{host}",
        "then open the link there (it carries the server's secret; keep that ssh session open "
        "while Cosmograph loads the files; use the same port on both ends)"
        + (f":\n  {link}" if link else "."),
    ]
    if note:
        lines.append(note)
    return "\n".join(lines)


def open_in_browser(url: str) -> bool:
    """Open `url` in a browser if one is available here; returns whether it was opened.

    Some browsers make `webbrowser.open` wait; call this from a worker thread, not an event loop.
    """
    if not browser_available():
        return False
    try:
        return bool(webbrowser.open(url, new=2))
    except (webbrowser.Error, OSError):
        log.debug("could not open a browser", exc_info=True)
        return False
