"""The browser and SSH helpers: whether a link opens here, and the ssh -L hint otherwise."""

from __future__ import annotations

import os
import sys
import webbrowser

import pytest

from botifython_tui.core import browser
from botifython_tui.core.browser import browser_available, open_in_browser, ssh_forward_hint
from botifython_tui.core.cosmograph import LOCAL_NETWORK_NOTE


@pytest.fixture
def gui_browser(monkeypatch):
    monkeypatch.setattr(webbrowser, "get", lambda *a: webbrowser.BackgroundBrowser("firefox"))


def test_browser_available_needs_a_display_on_linux(monkeypatch, gui_browser):
    for var in ("DISPLAY", "WAYLAND_DISPLAY", "SSH_CONNECTION", "SSH_TTY", "SSH_CLIENT"):
        monkeypatch.delenv(var, raising=False)
    assert browser_available(platform="linux") is False
    monkeypatch.setenv("DISPLAY", ":0")
    assert browser_available(platform="linux") is True
    if sys.platform.startswith("linux"):
        assert browser_available() is True


def test_browser_available_over_ssh(gui_browser):
    ssh = {"SSH_CONNECTION": "203.0.113.5 53422 198.51.100.7 22"}
    assert browser_available(env=ssh, platform="linux") is False
    assert browser_available(env={**ssh, "WAYLAND_DISPLAY": "wayland-0"}, platform="linux") is False
    assert browser_available(env={"SSH_TTY": "/dev/pts/1"}, platform="darwin") is False
    assert browser_available(env={}, platform="darwin") is True
    # X forwarding: a display reaches the user's screen.
    assert browser_available(env={**ssh, "DISPLAY": "localhost:10.0"}, platform="linux") is True


def test_browser_available_rejects_console_and_missing_browsers(monkeypatch):
    env = {"WAYLAND_DISPLAY": "wayland-0"}
    monkeypatch.setattr(webbrowser, "get", lambda *a: webbrowser.GenericBrowser("w3m"))
    assert browser_available(env=env, platform="linux") is False

    def no_browser(*args):
        raise webbrowser.Error("could not locate runnable browser")

    monkeypatch.setattr(webbrowser, "get", no_browser)
    assert browser_available(env=env, platform="linux") is False


def test_open_in_browser_only_when_available(monkeypatch):
    opened: list[str] = []
    monkeypatch.setattr(webbrowser, "open", lambda url, new=0: opened.append(url) or True)
    monkeypatch.setattr(browser, "browser_available", lambda: False)
    assert open_in_browser("https://cosmograph.app/run/") is False
    assert opened == []
    monkeypatch.setattr(browser, "browser_available", lambda: True)
    assert open_in_browser("https://cosmograph.app/run/") is True
    assert opened == ["https://cosmograph.app/run/"]


def test_ssh_forward_hint(monkeypatch):
    monkeypatch.setattr(browser.getpass, "getuser", lambda: "jane")
    env = {"SSH_CONNECTION": "203.0.113.5 53422 198.51.100.7 22"}
    hint = ssh_forward_hint(8777, env=env, note=LOCAL_NETWORK_NOTE)
    assert "ssh -L 8777:127.0.0.1:8777 jane@198.51.100.7" in hint
    assert hint.startswith("This machine has no browser.")
    assert "then open the link there" in hint
    assert hint.endswith(LOCAL_NETWORK_NOTE)  # Local Network Access, when asked for
    assert "Chrome" not in ssh_forward_hint(8777, env=env)  # nothing browser-specific by default

    link = "https://cosmograph.app/run/?data=http%3A%2F%2F127.0.0.1%3A8777%2FSECRET%2Fa.csv"
    assert f"\n  {link}\n" in ssh_forward_hint(8777, link=link, env=env, note=LOCAL_NETWORK_NOTE)
    assert ssh_forward_hint(8777, link=link, env=env).endswith(f"\n  {link}")  # the secret link

    assert "-p 2222 jane@198.51.100.7" in ssh_forward_hint(
        9000, env={"SSH_CONNECTION": "203.0.113.5 53422 198.51.100.7 2222"}
    )
    assert "ssh -L 9000:127.0.0.1:9000 USER@HOST" in ssh_forward_hint(9000, env={})

    monkeypatch.setenv("SSH_CONNECTION", "10.0.0.2 5000 10.0.0.9 22")
    assert "jane@10.0.0.9" in ssh_forward_hint(8777)
    assert os.environ["SSH_CONNECTION"].split()[2] == "10.0.0.9"
