"""Configuration papercuts an admin met on the way to a deployment (issue 15)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from bot.app.config import BotSettings, load_settings
from bot.app.envcheck import unknown_variable_warnings
from bot.app.init_config import example_text
from bot.core.crypto import generate_key
from bot.core.errors import ConfigError

BASE = {"username": "bot", "password": "pw", "secret_key": generate_key()}


def uncommented_rules(text: str) -> str:
    """The example with its commented [[rules]] tables (and their lines) uncommented."""
    start = text.index("# [[rules]]")
    head, tail = text[:start], text[start:]
    lines = []
    for line in tail.splitlines():
        stripped = line.removeprefix("# ")
        keep = stripped.startswith(("[[rules]]", "name =", "trigger =", "users =", "change ="))
        lines.append(stripped if keep else line)
    return head + "\n".join(lines) + "\n"


def test_the_example_rules_can_be_uncommented_where_they_are(tmp_path: Path) -> None:
    text = uncommented_rules(example_text())
    assert text.count("\n[[rules]]") == 2
    config = tmp_path / "bot.toml"
    config.write_text(text, encoding="utf-8")
    assert len(tomllib.loads(text)["rules"]) == 2
    settings = load_settings(config, use_environment=False, secret_key=BASE["secret_key"])
    assert [rule.name for rule in settings.rules] == ["evening-away", "lunch"]


def test_the_example_has_no_rules_key_that_would_clash_with_rules_tables() -> None:
    assert not re.search(r"^rules\s*=", example_text(), re.MULTILINE)


@pytest.mark.parametrize(
    "url", ["https://chat.example.com:99999", "http://chat:0", "http://chat:x"]
)
def test_a_server_url_with_an_impossible_port_is_refused_with_the_range(url: str) -> None:
    with pytest.raises(ConfigError) as refused:
        load_settings(use_environment=False, server_url=url, **BASE)
    (problem,) = refused.value.problems
    assert problem.startswith("server_url (RCBOT_SERVER_URL): has a port")
    assert "1 to 65535" in problem


@pytest.mark.parametrize(
    "url", ["https://chat.example.com:3000", "http://[::1]:65535", "http://c"]
)
def test_a_server_url_with_a_usable_port_or_none_passes(url: str) -> None:
    assert load_settings(use_environment=False, server_url=url, **BASE).server_url == url


def test_rcbot_check_refuses_port_99999(tmp_path: Path) -> None:
    done = run_rcbot(
        ["check"],
        RCBOT_SERVER_URL="https://chat.example.com:99999",
        RCBOT_USERNAME="bot",
        RCBOT_PASSWORD="pw",
        RCBOT_SECRET_KEY=generate_key(),
        cwd=tmp_path,
    )
    assert done.returncode == 2
    assert "server_url (RCBOT_SERVER_URL): has a port" in done.stderr


def run_rcbot(argv: list[str], *, cwd: Path, **environ: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.upper().startswith("RCBOT_")}
    return subprocess.run(
        [sys.executable, "-m", "bot", *argv],
        env={**clean, **environ},
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize(
    ("variable", "suggestion"),
    [
        ("RCBOT_SEVER_URL", "RCBOT_SERVER_URL"),
        ("RCBOT_HEALTHPORT", "RCBOT_HEALTH_PORT"),
        ("rcbot_log_levle", "RCBOT_LOG_LEVEL"),
        ("RCBOT_ALIAS__PRESENCE", "RCBOT_ALIASES__PRESENCE"),
    ],
)
def test_a_misspelt_variable_is_named_with_the_closest_known_one(
    variable: str, suggestion: str
) -> None:
    (warning,) = unknown_variable_warnings(BotSettings.model_fields, {variable: "x"})
    assert warning == f"{variable} is not a setting and is ignored; did you mean {suggestion}?"


def test_known_variables_nested_tables_and_other_rcbot_variables_pass_quietly() -> None:
    environ = {
        "RCBOT_SERVER_URL": "x",
        "rcbot_db": "x",
        "RCBOT_ALIASES__PRESENCE": "status",
        "RCBOT_NEW_SECRET_KEY": "x",
        "RCBOT_TEST_POSTGRES": "x",
        "PATH": "/usr/bin",
    }
    assert unknown_variable_warnings(BotSettings.model_fields, environ) == []


def test_a_nested_key_on_a_plain_setting_is_named() -> None:
    (warning,) = unknown_variable_warnings(BotSettings.model_fields, {"RCBOT_DB__PATH": "x"})
    assert warning.startswith("RCBOT_DB__PATH is ignored: RCBOT_DB is not a table")


def test_a_name_like_no_setting_points_to_the_example() -> None:
    (warning,) = unknown_variable_warnings(BotSettings.model_fields, {"RCBOT_ZZZZZZZZ": "x"})
    assert "bot.example.toml (written by `rcbot init`) lists every setting" in warning


def test_rcbot_check_warns_on_stderr_and_still_runs(tmp_path: Path) -> None:
    secret_value = "do-not-print-this-value"
    done = run_rcbot(
        ["check"],
        RCBOT_SERVER_URL="https://chat.example.com",
        RCBOT_USERNAME="bot",
        RCBOT_PASSWORD="pw",
        RCBOT_SECRET_KEY=generate_key(),
        RCBOT_PASWORD=secret_value,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    assert (
        "rcbot: warning: RCBOT_PASWORD is not a setting and is ignored; did you mean "
        "RCBOT_PASSWORD?" in done.stderr
    )
    assert secret_value not in done.stdout + done.stderr
