"""Cosmograph links and the browser and SSH helpers."""

from __future__ import annotations

import os
import sys
import webbrowser

import pytest

from botifython_tui.core import cosmograph
from botifython_tui.core.cosmograph import (
    browser_available,
    cosmograph_url,
    open_in_browser,
    ssh_forward_hint,
)

# --- Cosmograph and the browser -----------------------------------------------------------------


def test_cosmograph_url():
    links = "http://127.0.0.1:8777/acme_example.com_20241108_linkgraph_depth-3.csv"
    meta = "http://127.0.0.1:8777/acme_example.com_20241108_linkgraph_depth-3_meta.csv"
    assert cosmograph_url(links, meta) == (
        "https://cosmograph.app/run/"
        "?data=http%3A%2F%2F127.0.0.1%3A8777%2Facme_example.com_20241108_linkgraph_depth-3.csv"
        "&meta=http%3A%2F%2F127.0.0.1%3A8777%2Facme_example.com_20241108_linkgraph_depth-3_meta.csv"
        "&nodeColor=pagetype"
    )
    assert cosmograph_url("http://h:1/a b.csv", None) == (
        "https://cosmograph.app/run/?data=http%3A%2F%2Fh%3A1%2Fa%20b.csv"
    )
    # The nodes file sizes nodes by PageRank; without a meta file there is nothing to size by.
    assert cosmograph_url(links, meta, node_size="pagerank").endswith(
        "&nodeColor=pagetype&nodeSize=pagerank"
    )
    assert "nodeSize" not in cosmograph_url(links, None, node_size="pagerank")


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
    monkeypatch.setattr(cosmograph, "browser_available", lambda: False)
    assert open_in_browser("https://cosmograph.app/run/") is False
    assert opened == []
    monkeypatch.setattr(cosmograph, "browser_available", lambda: True)
    assert open_in_browser("https://cosmograph.app/run/") is True
    assert opened == ["https://cosmograph.app/run/"]


def test_ssh_forward_hint(monkeypatch):
    monkeypatch.setattr(cosmograph.getpass, "getuser", lambda: "jane")
    env = {"SSH_CONNECTION": "203.0.113.5 53422 198.51.100.7 22"}
    hint = ssh_forward_hint(8777, env=env)
    assert "ssh -L 8777:127.0.0.1:8777 jane@198.51.100.7" in hint
    assert hint.startswith("This machine has no browser.")
    assert "then open the link there" in hint
    assert "Chrome asks once" in hint and "127.0.0.1" in hint  # Local Network Access

    link = "https://cosmograph.app/run/?data=http%3A%2F%2F127.0.0.1%3A8777%2FSECRET%2Fa.csv"
    assert f"\n  {link}\n" in ssh_forward_hint(8777, link=link, env=env)  # the secret link

    assert "-p 2222 jane@198.51.100.7" in ssh_forward_hint(
        9000, env={"SSH_CONNECTION": "203.0.113.5 53422 198.51.100.7 2222"}
    )
    assert "ssh -L 9000:127.0.0.1:9000 USER@HOST" in ssh_forward_hint(9000, env={})

    monkeypatch.setenv("SSH_CONNECTION", "10.0.0.2 5000 10.0.0.9 22")
    assert "jane@10.0.0.9" in ssh_forward_hint(8777)
    assert os.environ["SSH_CONNECTION"].split()[2] == "10.0.0.9"
