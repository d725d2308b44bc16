"""`log_format = "json"`: one JSON object a line, scrubbed exactly as the text format is.

Both formats go through `setup_logging` in a fresh process (its handler is process-wide), and the
bot itself runs with JSON logs at DEBUG against the sandbox while someone delegates a token.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from bot.app.logformat import formatter_for
from bot.core.crypto import generate_key
from sandbox import serve
from sandbox.people import Person, create_account
from tests.conftest import ADMIN, ADMIN_ENV
from tests.e2e.conftest import BOT_NAME, BOT_PASSWORD, PASSWORD, WORKSPACE_ENV

TOKEN = "Xq3_v9ZkPLm0aB7cD2eF5gH8iJ1kL4mN6oP9qR2sT5u"  # 43 characters, Meteor's Random.secret()
PASSWORD_IN_CONFIG = "configured-secret-pw"

# Logs the same secrets five ways: in the message, as an argument, in an exception, as an
# `extra=` attribute, and a configured password in plain words.
LOGGING_SCRIPT = textwrap.dedent(
    f"""
    import logging, sys
    from bot.app.logs import setup_logging
    setup_logging("DEBUG", secrets=[{PASSWORD_IN_CONFIG!r}], log_format=sys.argv[1])
    log = logging.getLogger("bot.test")
    log.info("token {TOKEN} in the message")
    log.info("token %s as an argument", {TOKEN!r})
    try:
        raise RuntimeError("failed with X-Auth-Token: {TOKEN}")
    except RuntimeError:
        log.exception("a failure")
    log.warning("extra attribute", extra={{"auth_token": {TOKEN!r}, "code": "123456"}})
    log.error("the password is {PASSWORD_IN_CONFIG} and the code 654321")
    """
)


def log_output(log_format: str) -> str:
    done = subprocess.run(
        [sys.executable, "-c", LOGGING_SCRIPT, log_format],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    assert done.stdout == ""
    return done.stderr


def test_json_lines_carry_the_same_fields_as_the_text_lines() -> None:
    records = [json.loads(line) for line in log_output("json").splitlines()]
    assert [record["level"] for record in records] == ["INFO", "INFO", "ERROR", "WARNING", "ERROR"]
    assert {tuple(sorted(record)) for record in records} >= {
        ("level", "logger", "message", "time")
    }
    assert all(record["logger"] == "bot.test" for record in records)
    assert "RuntimeError" in records[2]["exc_info"]
    assert records[0]["message"] == "token [redacted] in the message"


@pytest.mark.parametrize("log_format", ["text", "json"])
def test_no_secret_reaches_either_format(log_format: str) -> None:
    output = log_output(log_format)
    assert TOKEN not in output
    assert PASSWORD_IN_CONFIG not in output
    assert "654321" not in output and "123456" not in output
    assert output.count("[redacted]") >= 5


def test_an_unknown_log_format_is_refused() -> None:
    with pytest.raises(ValueError, match="text, json"):
        formatter_for("xml")


async def test_the_bot_logs_json_lines_without_secrets_while_a_token_is_delegated(
    tmp_path: Path,
) -> None:
    async with serve("127.0.0.1", 0, environ={**ADMIN_ENV, **WORKSPACE_ENV}) as url:
        async with Person(url, ADMIN["username"], ADMIN["password"]) as admin:
            await create_account(admin, BOT_NAME, BOT_PASSWORD, roles=["bot"])
            await create_account(admin, "alice", PASSWORD, roles=["user"])
        environ = {k: v for k, v in os.environ.items() if not k.startswith("RCBOT_")}
        environ.update(
            RCBOT_SERVER_URL=url,
            RCBOT_USERNAME=BOT_NAME,
            RCBOT_PASSWORD=BOT_PASSWORD,
            RCBOT_DB=str(tmp_path / "bot.db"),
            RCBOT_SECRET_KEY=generate_key(),
            RCBOT_LOG_LEVEL="DEBUG",
            RCBOT_LOG_FORMAT="json",
        )
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot", "run", env=environ, cwd=tmp_path,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        try:
            async with Person(url, "alice", PASSWORD) as alice:
                answer = None
                for _ in range(50):  # the process needs a moment to start and log in
                    try:
                        answer = await alice.ask(BOT_NAME, "/help", timeout=0.3)
                        break
                    except TimeoutError:
                        continue
                assert answer is not None
                token = await alice.create_personal_access_token("profile-bot")
                reply = await alice.ask(BOT_NAME, f"/token set {token}")
                assert "stored" in reply["msg"] and token not in reply["msg"]
            process.send_signal(signal.SIGTERM)
            _, stderr = await asyncio.wait_for(process.communicate(), 15)
        finally:
            if process.returncode is None:
                process.kill()
                await process.wait()
    assert process.returncode == 0
    lines = stderr.decode().splitlines()
    assert lines, "the bot logged nothing at DEBUG"
    records = [json.loads(line) for line in lines]  # every line is one JSON object
    assert any(record["logger"].startswith("bot") for record in records)
    text = stderr.decode()
    for secret in (token, BOT_PASSWORD, environ["RCBOT_SECRET_KEY"]):
        assert secret not in text
