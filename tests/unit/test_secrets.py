"""The token file: private (0600), shown only masked, and never written to the log."""

from __future__ import annotations

import logging
import os
import secrets
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from botifython_tui import logs
from botifython_tui.core.secrets import TOKEN_FILENAME, TokenStore


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def fresh_token() -> str:
    return "bt-" + secrets.token_hex(20)


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    path = tmp_path / "data"
    path.mkdir()
    return path


@pytest.fixture
def typical_umask() -> Iterator[None]:
    old = os.umask(0o022)  # new files would be 0644 unless the store says otherwise
    try:
        yield
    finally:
        os.umask(old)


@pytest.fixture
def log_path(tmp_path: Path) -> Iterator[Path]:
    path = tmp_path / "app.log"
    logs.configure_logging(path)
    yield path
    logger = logging.getLogger(logs.LOGGER_NAME)
    for handler in list(logger.handlers):
        if getattr(handler, "_botifython", False):
            logger.removeHandler(handler)
            handler.close()


def test_save_load_clear(data_dir: Path, typical_umask: None):
    store = TokenStore(data_dir)
    assert store.path == data_dir / TOKEN_FILENAME
    assert store.load() is None
    assert store.masked() == "(none)"
    assert store.clear() is False

    token = fresh_token()
    store.save(f"  {token}\n")  # pasted with spaces and a newline
    assert store.load() == token
    assert TokenStore(data_dir).load() == token  # a new store (a new run) reads it back
    assert mode(store.path) == 0o600

    assert store.clear() is True
    assert not store.path.exists()
    assert store.load() is None
    assert store.clear() is False


def test_empty_token_is_refused(data_dir: Path):
    store = TokenStore(data_dir)
    with pytest.raises(ValueError):
        store.save("   \n")
    assert not store.path.exists()


def test_save_over_an_existing_0644_file_gives_0600(data_dir: Path, typical_umask: None):
    store = TokenStore(data_dir)
    store.path.write_text("old-token-value\n")
    os.chmod(store.path, 0o644)
    token = fresh_token()
    store.save(token)
    assert mode(store.path) == 0o600
    assert store.path.read_text() == token + "\n"
    # the atomic write leaves no temporary file behind
    assert sorted(p.name for p in data_dir.iterdir()) == [TOKEN_FILENAME]


def test_load_tightens_a_0644_file(data_dir: Path):
    store = TokenStore(data_dir)
    token = fresh_token()
    store.path.write_text(token + "\n")
    os.chmod(store.path, 0o644)
    assert store.load() == token
    assert mode(store.path) == 0o600


def test_masked_shows_only_the_last_four(data_dir: Path):
    store = TokenStore(data_dir)
    token = fresh_token()
    store.save(token)
    masked = store.masked()
    assert masked.endswith(token[-4:])
    assert token[:-4] not in masked
    assert not any(token[i : i + 5] in masked for i in range(len(token) - 4))


@pytest.mark.parametrize("how", ["save", "load"])
def test_token_is_redacted_from_the_log(data_dir: Path, log_path: Path, how: str):
    token = fresh_token()
    store = TokenStore(data_dir)
    if how == "save":
        store.save(token)
    else:  # a token file written by a previous run is registered when it is read
        store.path.write_text(token + "\n")
        assert store.load() == token
    log = logs.get_logger("test_secrets")
    log.info("connecting with %s", token)
    log.warning("bare %s in the middle", token)
    try:
        raise RuntimeError(f"failed with {token}")
    except RuntimeError:
        log.exception("traceback")
    text = log_path.read_text()
    assert token not in text
    assert text.count("[redacted]") == 3  # two messages and the exception line of the traceback
