"""Every declared setting follows one rule: flag > environment variable > stored > default."""

from __future__ import annotations

from pathlib import Path

import pytest

from botifython_tui.config import ConfigError, Settings
from botifython_tui.core import settings as declared
from botifython_tui.core.settings import Source

# key -> (a flag value or None when the setting has no flag, an env value, a stored value,
#         the typed values they give)
CASES = {
    declared.MODEL: ("flag-model", "env-model", "stored-model"),
    declared.OLLAMA_HOST: ("flag-host:1", "env-host:2", "stored-host:3"),
    declared.NARRATION: (None, "everything", "off"),
    declared.CONTEXT_TOKENS: (None, "8192", 2048),
    declared.REMEMBER_CHATS: (None, "0", True),
    declared.MAX_EDGES: ("500", "600", 700),
    declared.SERVE_PORT: (None, "9001", 9002),
    declared.EMBEDDING_MODEL: (None, "env/embedder", "/models/stored"),
}


def test_every_declared_setting_has_a_precedence_case():
    assert set(CASES) == set(declared.all_keys())


class FakeKV(dict):
    pass


@pytest.mark.parametrize("key", list(CASES))
def test_precedence_flag_env_stored_default(key: str):
    setting = declared.get(key)
    flag, env_value, stored = CASES[key]
    env = {setting.env: env_value}
    kv = FakeKV({key: stored})

    default = declared.resolve(key, env={}, kv=FakeKV())
    assert (default.value, default.source) == (setting.default, Source.DEFAULT)

    from_store = declared.resolve(key, env={}, kv=kv)
    assert from_store.source is Source.STORED and from_store.value == setting.parse(stored)
    assert from_store.overridden_by is None

    from_env = declared.resolve(key, env=env, kv=kv)
    assert from_env.source is Source.ENV and from_env.value == setting.parse(env_value)
    assert from_env.overridden_by == setting.env  # the stored value is shown as overridden
    assert from_env.stored == setting.parse(stored)
    assert from_env.value != from_store.value

    if flag is not None:
        from_flag = declared.resolve(key, flags={key: flag}, env=env, kv=kv)
        assert from_flag.source is Source.FLAG and from_flag.value == setting.parse(flag)
        assert from_flag.overridden_by == setting.flag
        empty_flag = declared.resolve(key, flags={key: None}, env=env, kv=kv)
        assert empty_flag.source is Source.ENV  # a flag not given does not count


@pytest.mark.parametrize(
    ("key", "bad"),
    [
        (declared.MAX_EDGES, "lots"),
        (declared.MAX_EDGES, "0"),
        (declared.SERVE_PORT, "70000"),
        (declared.NARRATION, "loud"),
        (declared.REMEMBER_CHATS, "maybe"),
        (declared.OLLAMA_HOST, "ftp://x"),
        (declared.CONTEXT_TOKENS, "12"),
    ],
)
def test_bad_values_are_refused_with_the_name(key: str, bad: str):
    setting = declared.get(key)
    with pytest.raises(declared.SettingError) as caught:
        declared.resolve(key, env={setting.env: bad})
    assert setting.env in str(caught.value)
    kv = FakeKV()
    with pytest.raises(declared.SettingError):
        declared.store(kv, key, bad)
    assert kv == {}  # nothing stored


def test_a_bad_stored_value_falls_back_to_the_default():
    kv = FakeKV({declared.MAX_EDGES: "garbage"})
    resolved = declared.resolve(declared.MAX_EDGES, env={}, kv=kv)
    assert (resolved.value, resolved.source) == (1_000_000, Source.DEFAULT)


def test_narration_stored_by_an_earlier_version_as_a_boolean():
    assert declared.resolve(declared.NARRATION, env={}, kv={declared.NARRATION: False}).value == (
        "off"
    )
    assert declared.resolve(declared.NARRATION, env={}, kv={declared.NARRATION: True}).value != (
        "off"
    )


def test_unknown_key_names_the_known_ones():
    with pytest.raises(declared.SettingError, match="chat.model"):
        declared.get("chat.modle")


def test_settings_object_applies_flags_env_and_stored(tmp_path: Path):
    kv = FakeKV({declared.MAX_EDGES: 700, declared.SERVE_PORT: 9002})
    base = Settings.resolve(data_dir=tmp_path, env={}, cwd=tmp_path)
    assert (base.max_edges, base.serve_port) == (1_000_000, 8777)
    stored = base.with_stored(kv)
    assert (stored.max_edges, stored.serve_port) == (700, 9002)
    env = Settings.resolve(
        data_dir=tmp_path, env={"BOTIFYTHON_MAX_EDGES": "600"}, cwd=tmp_path
    ).with_stored(kv)
    assert env.max_edges == 600
    flagged = Settings.resolve(
        data_dir=tmp_path,
        flags={declared.MAX_EDGES: 500},
        env={"BOTIFYTHON_MAX_EDGES": "600"},
        cwd=tmp_path,
    ).with_stored(kv)
    assert flagged.max_edges == 500


def test_ollama_host_flag_env_and_code(tmp_path: Path):
    kv = FakeKV({declared.OLLAMA_HOST: "stored:3"})
    env = {"OLLAMA_HOST": "env:2"}
    plain = Settings.resolve(data_dir=tmp_path, env={}, cwd=tmp_path)
    assert plain.ollama_host is None
    assert plain.setting(declared.OLLAMA_HOST, kv).value == "stored:3"
    by_env = Settings.resolve(data_dir=tmp_path, env=env, cwd=tmp_path)
    assert by_env.ollama_host == "env:2"
    assert by_env.setting(declared.OLLAMA_HOST, kv).overridden_by == "OLLAMA_HOST"
    by_flag = Settings.resolve(data_dir=tmp_path, ollama_host="flag:1", env=env, cwd=tmp_path)
    assert by_flag.setting(declared.OLLAMA_HOST, kv).origin == "--ollama-host"


def test_a_bad_env_value_is_a_config_error(tmp_path: Path):
    with pytest.raises(ConfigError, match="BOTIFYTHON_SERVE_PORT"):
        Settings.resolve(data_dir=tmp_path, env={"BOTIFYTHON_SERVE_PORT": "http"}, cwd=tmp_path)


def test_user_data_dir_comes_from_platformdirs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    from platformdirs import user_data_dir

    monkeypatch.delenv("BOTIFYTHON_DATA_DIR", raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    settings = Settings.resolve(cwd=tmp_path / "elsewhere")
    assert settings.data_dir == Path(user_data_dir("botifython", appauthor=False))
    assert settings.data_dir == tmp_path / "xdg" / "botifython"
    assert settings.downloads_dir == tmp_path / "elsewhere" / "downloads"


def test_the_test_suite_never_uses_the_real_user_folder():
    real = Path.home() / ".local" / "share" / "botifython"
    settings = Settings.resolve()
    assert settings.data_dir != real and not str(settings.data_dir).startswith(str(real))
