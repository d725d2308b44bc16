"""Configuration: TOML file < environment < overrides, and errors that name the key."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from cryptography.fernet import Fernet
from pydantic import SecretStr

from bot.app.config import BotSettings, load_settings
from bot.core.errors import ConfigError


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """No RCBOT_* variable from the developer's shell leaks into a test."""
    import os

    for name in list(os.environ):
        if name.upper().startswith("RCBOT_"):
            monkeypatch.delenv(name)
    return monkeypatch


@pytest.fixture
def key() -> str:
    return Fernet.generate_key().decode()


def write_toml(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "bot.toml"
    path.write_text(text, encoding="utf-8")
    return path


def minimal_toml(key: str, extra: str = "") -> str:
    return (
        'server_url = "https://chat.example.com"\n'
        'username = "profilebot"\n'
        'password = "hunter2-hunter2"\n'
        f'secret_key = "{key}"\n' + extra
    )


def test_toml_file_gives_settings_with_defaults(
    tmp_path: Path, clean_env: pytest.MonkeyPatch, key: str
) -> None:
    settings = load_settings(write_toml(tmp_path, minimal_toml(key)))

    assert settings.server_url == "https://chat.example.com"
    assert settings.username == "profilebot"
    assert settings.password is not None
    assert settings.password.get_secret_value() == "hunter2-hunter2"
    assert settings.secret_key.get_secret_value() == key
    assert settings.db == "rcbot.db"
    assert settings.prefixes == ["/", "!"]
    assert settings.aliases == {}
    assert settings.max_concurrent_commands == 128
    assert settings.request_timeout == 10.0
    assert settings.log_level == "INFO"
    assert settings.health_port is None
    assert settings.uses_password_login


def test_environment_wins_over_toml_and_overrides_win_over_environment(
    tmp_path: Path, clean_env: pytest.MonkeyPatch, key: str
) -> None:
    path = write_toml(
        tmp_path, minimal_toml(key, 'log_level = "DEBUG"\nmax_concurrent_commands = 4\n')
    )
    clean_env.setenv("RCBOT_LOG_LEVEL", "warning")
    clean_env.setenv("RCBOT_MAX_CONCURRENT_COMMANDS", "8")

    from_env = load_settings(path)
    overridden = load_settings(path, max_concurrent_commands=16, log_level=None)

    assert from_env.log_level == "WARNING"
    assert from_env.max_concurrent_commands == 8
    assert overridden.max_concurrent_commands == 16
    assert overridden.log_level == "WARNING"  # None means "not given on the command line"


def test_no_file_is_needed_when_the_environment_gives_everything(
    clean_env: pytest.MonkeyPatch, key: str
) -> None:
    clean_env.setenv("RCBOT_SERVER_URL", "http://localhost:3000/")
    clean_env.setenv("RCBOT_USER_ID", "botuserid")
    clean_env.setenv("RCBOT_AUTH_TOKEN", "a-personal-access-token")
    clean_env.setenv("RCBOT_USERNAME", "")  # blank counts as unset, as in docker-compose files
    clean_env.setenv("RCBOT_SECRET_KEY", f"  {key}\n")
    clean_env.setenv("RCBOT_DB", "/var/lib/rcbot/bot.db")

    settings = load_settings()

    assert settings.server_url == "http://localhost:3000"
    assert settings.user_id == "botuserid"
    assert settings.username is None
    assert not settings.uses_password_login
    assert settings.secret_key.get_secret_value() == key
    assert settings.db == "/var/lib/rcbot/bot.db"


def test_lists_and_tables_come_from_the_environment_in_friendly_forms(
    tmp_path: Path, clean_env: pytest.MonkeyPatch, key: str
) -> None:
    path = write_toml(tmp_path, minimal_toml(key, '[aliases]\nnick = "nickname"\n'))
    clean_env.setenv("RCBOT_PREFIXES", "! .")
    clean_env.setenv("RCBOT_ALIASES__PRESENCE", "status")

    settings = load_settings(path)

    assert settings.prefixes == ["!", "."]
    assert settings.aliases == {"nick": "nickname", "presence": "status"}

    clean_env.setenv("RCBOT_PREFIXES", '["?", "/"]')
    assert load_settings(path).prefixes == ["?", "/"]


def test_websocket_url_is_derived_from_server_url(clean_env: pytest.MonkeyPatch, key: str) -> None:
    common: dict[str, Any] = {"username": "b", "password": "p", "secret_key": key}
    assert (
        load_settings(server_url="https://chat.example.com/", **common).websocket_url
        == "wss://chat.example.com/websocket"
    )
    assert (
        load_settings(server_url="http://127.0.0.1:3000/chat", **common).websocket_url
        == "ws://127.0.0.1:3000/chat/websocket"
    )


def test_the_environment_can_be_left_out_for_a_self_contained_demo(
    clean_env: pytest.MonkeyPatch, key: str
) -> None:
    clean_env.setenv("RCBOT_USER_ID", "someone-else")
    clean_env.setenv("RCBOT_AUTH_TOKEN", "their-token")
    clean_env.setenv("RCBOT_MAX_CONCURRENT_COMMANDS", "2")

    settings = load_settings(
        use_environment=False,
        server_url="http://127.0.0.1:1",
        username="bot",
        password="pw",
        secret_key=key,
    )

    assert settings.user_id is None
    assert settings.max_concurrent_commands == 128
    with pytest.raises(ConfigError, match="keep exactly one pair"):
        load_settings(server_url="http://127.0.0.1:1", username="b", password="p", secret_key=key)


def test_a_config_file_that_does_not_exist_is_an_error(
    tmp_path: Path, clean_env: pytest.MonkeyPatch
) -> None:
    with pytest.raises(ConfigError, match="does not exist") as caught:
        load_settings(tmp_path / "nope.toml")
    assert "nope.toml" in str(caught.value)


def test_a_config_file_that_is_not_toml_is_an_error(
    tmp_path: Path, clean_env: pytest.MonkeyPatch
) -> None:
    path = write_toml(tmp_path, "server_url = https://unquoted\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_settings(path)


BAD_VALUES = [
    ("server_url", '"ftp://chat.example.com"', "ftp://chat.example.com", "http(s) URL"),
    ("server_url", '"chat.example.com"', "chat.example.com", "http(s) URL"),
    ("prefixes", "[]", "[]", "non-empty list"),
    ("prefixes", '["a b"]', '["a b"]', "prefixes"),
    ("max_concurrent_commands", "0", "0", "at least 1"),
    ("max_concurrent_commands", '"many"', "many", "at least 1"),
    ("request_timeout", "-1", "-1", "greater than 0"),
    ("log_level", '"LOUD"', "LOUD", "DEBUG, INFO"),
    ("health_port", "70000", "70000", "1 to 65535"),
    ("secret_key", '"not-a-key"', "not-a-key", "rcbot keygen"),
    ("aliases", '{ "a b" = "status" }', '{"a b": "status"}', "single words"),
    ("profile_snapshot_seconds", "-1", "-1", "0: read every time"),
]


@pytest.mark.parametrize(("key_name", "toml_value", "env_value", "expected"), BAD_VALUES)
def test_each_bad_key_is_named_with_what_is_expected(
    tmp_path: Path,
    clean_env: pytest.MonkeyPatch,
    key: str,
    key_name: str,
    toml_value: str,
    env_value: str,
    expected: str,
) -> None:
    others = "".join(
        line + "\n"
        for line in minimal_toml(key).splitlines()
        if not line.startswith(f"{key_name} ")
    )
    name = f"{key_name} (RCBOT_{key_name.upper()})"

    with pytest.raises(ConfigError) as from_file:
        load_settings(write_toml(tmp_path, f"{key_name} = {toml_value}\n{others}"))
    clean_env.setenv(f"RCBOT_{key_name.upper()}", env_value)
    with pytest.raises(ConfigError) as from_env:
        load_settings(write_toml(tmp_path, others))

    for caught in (from_file, from_env):
        message = str(caught.value)
        assert name in message
        assert expected in message
        assert "pydantic.dev" not in message
        assert len(caught.value.problems) == 1, message


def test_every_problem_gets_its_own_line(clean_env: pytest.MonkeyPatch) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(server_url="gopher://x", max_concurrent_commands=0, username="bot")

    lines = str(caught.value).splitlines()
    assert any(line.startswith("server_url (RCBOT_SERVER_URL): ") for line in lines)
    assert any(line.startswith("max_concurrent_commands (") for line in lines)
    assert any(line.startswith("secret_key (RCBOT_SECRET_KEY): is required") for line in lines)
    assert any(line.startswith("password (RCBOT_PASSWORD): is required because") for line in lines)
    assert len(lines) == 4


def test_an_unknown_key_in_the_file_is_named(
    tmp_path: Path, clean_env: pytest.MonkeyPatch, key: str
) -> None:
    path = write_toml(tmp_path, minimal_toml(key, 'prefix = "!"\n'))
    with pytest.raises(ConfigError, match=r"^prefix: is not a known setting"):
        load_settings(path)


@pytest.mark.parametrize(
    ("given", "named"),
    [
        ({}, "username + password (RCBOT_USERNAME, RCBOT_PASSWORD) or user_id + auth_token"),
        ({"username": "bot"}, "password (RCBOT_PASSWORD): is required because username is set"),
        ({"password": "pw"}, "username (RCBOT_USERNAME): is required because password is set"),
        ({"user_id": "u1"}, "auth_token (RCBOT_AUTH_TOKEN): is required because user_id is set"),
        (
            {"username": "bot", "password": "pw", "user_id": "u1", "auth_token": "t"},
            "keep exactly one pair",
        ),
    ],
)
def test_exactly_one_login_pair_must_be_complete(
    clean_env: pytest.MonkeyPatch, key: str, given: dict[str, str], named: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(server_url="https://chat.example.com", secret_key=key, **given)
    assert named in str(caught.value)


def test_secrets_never_show_in_reprs_or_errors(clean_env: pytest.MonkeyPatch, key: str) -> None:
    settings = load_settings(
        server_url="https://chat.example.com",
        user_id="u1",
        auth_token="TOKEN-VALUE-123",
        secret_key=key,
    )
    shown = repr(settings) + str(settings) + "\n".join(settings.summary())
    assert "TOKEN-VALUE-123" not in shown
    assert key not in shown

    bad_key = "Zm9vYmFy-not-a-valid-fernet-key"
    with pytest.raises(ConfigError) as caught:
        load_settings(
            server_url="https://chat.example.com",
            username="bot",
            password="PASSWORD-VALUE",
            secret_key=bad_key,
            max_concurrent_commands="PASSWORD-VALUE",
        )
    assert bad_key not in str(caught.value)
    assert "PASSWORD-VALUE" not in str(caught.value)


def test_settings_can_be_built_directly_for_tests(clean_env: pytest.MonkeyPatch, key: str) -> None:
    """Other modules' tests construct BotSettings without files; that keeps working."""
    settings = BotSettings(
        server_url="http://127.0.0.1:1",
        username="bot",
        password=SecretStr("pw"),
        secret_key=SecretStr(key),
    )
    assert settings.websocket_url == "ws://127.0.0.1:1/websocket"


def test_the_example_file_shows_every_setting_with_its_default(
    clean_env: pytest.MonkeyPatch, key: str
) -> None:
    example = Path(__file__).parents[2] / "bot.example.toml"
    text = example.read_text(encoding="utf-8")
    for name in BotSettings.model_fields:
        shown = rf"^(# )?{name} = |^\[{name}\]|^# \[\[{name}\]\]"  # rules: a commented table
        assert re.search(shown, text, re.MULTILINE), name

    clean_env.setenv("RCBOT_SECRET_KEY", key)
    settings = load_settings(example)
    defaults = BotSettings(
        server_url="http://x", username="u", password=SecretStr("p"), secret_key=SecretStr(key)
    )
    for name in (
        "db",
        "prefixes",
        "aliases",
        "max_concurrent_commands",
        "request_timeout",
        "log_level",
        "health_port",
    ):
        assert getattr(settings, name) == getattr(defaults, name), name
