"""`rcbot` / `python -m bot`: keygen, check, run wiring, and the log scrubber."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from cryptography.fernet import Fernet

from bot.app import logs

SECRET = "S3cr3t-Tok3n_abcdefghijklmnopqrstuvwxyz0123"  # 43 chars: a Meteor secret's shape


def rcbot(
    *args: str, env: dict[str, str] | None = None, cwd: Path
) -> subprocess.CompletedProcess[str]:
    """Run `python -m bot ARGS` with no RCBOT_* variable except those given."""
    environ = {k: v for k, v in os.environ.items() if not k.upper().startswith("RCBOT_")}
    environ.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        capture_output=True,
        text=True,
        env=environ,
        cwd=cwd,
        timeout=30,
        check=False,
    )


def good_env() -> dict[str, str]:
    return {
        "RCBOT_SERVER_URL": "https://chat.example.com",
        "RCBOT_USER_ID": "bot-user-id",
        "RCBOT_AUTH_TOKEN": SECRET,
        "RCBOT_SECRET_KEY": Fernet.generate_key().decode(),
    }


def test_keygen_prints_a_valid_key_alone_on_stdout(tmp_path: Path) -> None:
    first = rcbot("keygen", cwd=tmp_path)
    second = rcbot("keygen", cwd=tmp_path)

    assert first.returncode == 0
    assert first.stderr == ""
    key = first.stdout.removesuffix("\n")
    assert "\n" not in key and key == key.strip()
    Fernet(key.encode())  # raises if it is not a key
    assert second.stdout != first.stdout


def test_check_accepts_a_configuration_from_the_environment_alone(tmp_path: Path) -> None:
    env = good_env()
    result = rcbot("check", env=env, cwd=tmp_path)

    assert result.returncode == 0, result.stderr
    assert "configuration OK" in result.stdout
    assert "https://chat.example.com" in result.stdout
    for secret in (SECRET, env["RCBOT_SECRET_KEY"]):
        assert secret not in result.stdout + result.stderr


def test_check_names_the_bad_key_and_exits_non_zero(tmp_path: Path) -> None:
    config = tmp_path / "bot.toml"
    config.write_text("max_concurrent_commands = 0\nlog_level = 'chatty'\n")

    result = rcbot("check", "-c", str(config), env=good_env(), cwd=tmp_path)

    assert result.returncode == 2
    assert result.stdout == ""
    assert "max_concurrent_commands (RCBOT_MAX_CONCURRENT_COMMANDS): expected" in result.stderr
    assert "log_level (RCBOT_LOG_LEVEL): expected one of DEBUG" in result.stderr
    assert "Traceback" not in result.stderr


def test_check_with_a_missing_config_file_fails(tmp_path: Path) -> None:
    result = rcbot("check", "-c", "nowhere.toml", env=good_env(), cwd=tmp_path)

    assert result.returncode == 2
    assert "config file nowhere.toml does not exist" in result.stderr


def test_check_without_a_key_says_how_to_make_one(tmp_path: Path) -> None:
    env = good_env()
    del env["RCBOT_SECRET_KEY"]
    result = rcbot("check", env=env, cwd=tmp_path)

    assert result.returncode == 2
    assert "secret_key (RCBOT_SECRET_KEY): is required" in result.stderr
    assert "rcbot keygen" in result.stderr


def test_check_notices_a_key_that_cannot_read_the_stored_tokens(tmp_path: Path) -> None:
    env = {**good_env(), "RCBOT_DB": str(tmp_path / "bot.db")}
    store_tokens = (
        "import asyncio, os\n"
        "from bot.storage.store import Store\n"
        "async def main():\n"
        "    store = await Store.open(os.environ['RCBOT_DB'], secret_key=os.environ['K'])\n"
        "    await store.put_token(user_id='u1', username='alice', token='t' * 43)\n"
        "    await store.close()\n"
        "asyncio.run(main())\n"
    )
    other_key = Fernet.generate_key().decode()
    subprocess.run(
        [sys.executable, "-c", store_tokens], env={**os.environ, **env, "K": other_key}, check=True
    )

    result = rcbot("check", env=env, cwd=tmp_path)

    assert result.returncode == 2
    assert "secret_key (RCBOT_SECRET_KEY): is not the key that encrypted" in result.stderr
    assert other_key not in result.stderr and env["RCBOT_SECRET_KEY"] not in result.stderr


def test_set_overrides_the_file_and_the_environment(tmp_path: Path) -> None:
    config = tmp_path / "bot.toml"
    config.write_text("max_concurrent_commands = 0\n")
    env = {**good_env(), "RCBOT_PREFIXES": "?"}

    result = rcbot(
        "check",
        "-c",
        str(config),
        "--set",
        "max_concurrent_commands=3",
        "--set",
        'prefixes=["!"]',
        env=env,
        cwd=tmp_path,
    )

    assert result.returncode == 0, result.stderr
    assert "max_concurrent_commands: 3" in result.stdout
    assert "prefixes: !" in result.stdout


def test_a_subcommand_is_required(tmp_path: Path) -> None:
    result = rcbot(cwd=tmp_path)
    assert result.returncode == 2
    assert "usage: rcbot" in result.stderr


@pytest.fixture
def restore_logging(monkeypatch: pytest.MonkeyPatch) -> Any:
    """`rcbot run` sets up the root logger; put it back for the tests that follow."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    monkeypatch.setattr(logs, "_handler", None)
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


def test_run_with_a_bad_configuration_exits_before_connecting(tmp_path: Path) -> None:
    result = rcbot("run", cwd=tmp_path)
    assert result.returncode == 2
    assert "server_url (RCBOT_SERVER_URL): is required" in result.stderr


# -- the log scrubber ---------------------------------------------------------------------


@pytest.fixture
def scrubbed_log() -> Any:
    """A logger whose handler has the scrubber, writing into a list."""
    lines: list[str] = []

    class ListHandler(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            lines.append(self.format(record))

    scrubber = logs.SecretScrubber()
    handler = ListHandler()
    handler.addFilter(scrubber)
    logger = logging.getLogger("tests.scrubbed")
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    yield logger, scrubber, lines
    logger.removeHandler(handler)


def test_token_shaped_strings_are_scrubbed_from_messages_and_arguments(
    scrubbed_log: Any,
) -> None:
    logger, _, lines = scrubbed_log
    logger.info("user sent /token set %s in a DM", SECRET)
    logger.info(f"headers {{'X-Auth-Token': 'short-token', 'X-User-Id': 'u1'}} {SECRET}")
    logger.info("login answered authToken=%s", "abc.def")

    text = "\n".join(lines)
    assert SECRET not in text
    assert "short-token" not in text
    assert "abc.def" not in text
    assert "u1" in text  # user ids are not secrets
    assert text.count("[redacted]") == 4


def test_known_secrets_and_tracebacks_are_scrubbed(scrubbed_log: Any) -> None:
    logger, scrubber, lines = scrubbed_log
    scrubber.add_secret("correct horse battery")
    try:
        raise RuntimeError(f"failed with correct horse battery and {SECRET}")
    except RuntimeError:
        logger.exception("something broke")

    text = "\n".join(lines)
    assert "RuntimeError" in text
    assert "correct horse battery" not in text
    assert SECRET not in text


def test_ordinary_ids_survive_scrubbing() -> None:
    message = "message Xk2Pq8ZrT7WmN3bCd in room GENERAL from 5fKJ2nBq4R8sT1uVw"
    assert logs.scrub(message) == message


@pytest.mark.parametrize(
    ("variable", "value", "expected"),
    [
        ("RCBOT_REQUEST_TIMEOUT", "inf", "greater than 0 and at most 300"),
        ("RCBOT_CATCH_UP_WINDOW", "1e12", "greater than 0 and at most 604800"),
        ("RCBOT_CONVERSATION_TIMEOUT", "nan", "greater than 0 and at most 86400"),
        ("RCBOT_ANSWER_WAIT", "-inf", "0 or more and at most 3600"),
        ("RCBOT_RECONNECT_DELAY_MAX", "1e300", "at most 3600"),
    ],
)
def test_check_refuses_durations_that_are_not_finite_and_bounded(
    tmp_path: Path, variable: str, value: str, expected: str
) -> None:
    """An endless timeout or window would never fire; `rcbot check` says the allowed range."""
    result = rcbot("check", env={**good_env(), variable: value}, cwd=tmp_path)

    assert result.returncode == 2, result.stdout
    key = variable.removeprefix("RCBOT_").lower()
    line = next(line for line in result.stderr.splitlines() if key in line)
    assert f"{key} ({variable}): expected a number of seconds" in line
    assert expected in line
    assert "Traceback" not in result.stderr
