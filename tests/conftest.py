"""Fixtures shared by every test: a throwaway data folder, store and app."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from botifython_tui.config import Settings
from botifython_tui.core.store import Store


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
