"""Secrets never reach the logs: `rcbot run` at DEBUG (every library's debug lines included,
websocket frames too) through a token delegation and a password change, then its whole output
is searched for each secret, for any 12 characters in a row of a token, and for anything shaped
like one. The bot logs in with its own personal access token, the secret most exposed: it
travels in the DDP login frame of every connection."""

from __future__ import annotations

import re
import signal
from contextlib import AsyncExitStack
from pathlib import Path

import pytest

from bot.app.logs import scrub, scrub_frame_dump
from bot.core.crypto import generate_key
from sandbox.digests import sha256_hex
from sandbox.people import Person
from tests.e2e.conftest import BOT_NAME, BOT_PASSWORD, PASSWORD, ask_bot, open_workspace
from tests.security.conftest import (
    FAST_HASHING,
    bot_environment,
    bot_process,
    grant,
    new_user,
)

NEW_PASSWORD = "Brand-new-pass-7"
FRAGMENT = 12
TOKEN_SHAPE = re.compile(r"(?<![A-Za-z0-9_-])[A-Za-z0-9_-]{43}(?![A-Za-z0-9_-])")


def fragments(secret: str) -> set[str]:
    """Every run of FRAGMENT characters of `secret` (a cut-off log line may show part of it)."""
    return {secret[i : i + FRAGMENT] for i in range(len(secret) - FRAGMENT + 1)}


async def test_a_debug_run_through_delegation_and_a_password_change_logs_no_secret(
    tmp_path: Path,
) -> None:
    secret_key = generate_key()
    async with AsyncExitStack() as stack:
        url, admin, _ = await open_workspace(stack, tmp_path, FAST_HASHING)
        await grant(admin, "create-personal-access-tokens", "bot")
        async with Person(url, BOT_NAME, BOT_PASSWORD) as bot_account:
            bot_token = await bot_account.create_personal_access_token("rcbot")
            bot_id = bot_account.user_id
        environ = bot_environment(
            url,
            tmp_path / "bot.db",
            secret_key,
            RCBOT_LOG_LEVEL="DEBUG",
            RCBOT_USERNAME="",
            RCBOT_PASSWORD="",
            RCBOT_USER_ID=bot_id,
            RCBOT_AUTH_TOKEN=bot_token,
        )
        bot = await stack.enter_async_context(bot_process(environ, tmp_path))
        await bot.wait_for_log("ready: listening")
        await new_user(admin, "alice")
        alice = await stack.enter_async_context(Person(url, "alice", PASSWORD))
        token = await alice.create_personal_access_token("profile-bot")
        assert "stored" in await ask_bot(alice, f"/token set {token}")
        assert "“Ali”" in await ask_bot(alice, "/nick Ali")
        assert "new password" in await ask_bot(alice, "/password")
        assert "once more" in await ask_bot(alice, NEW_PASSWORD)
        assert "current password" in await ask_bot(alice, NEW_PASSWORD)
        assert "Done" in await ask_bot(alice, PASSWORD)
        bot.process.send_signal(signal.SIGTERM)
        assert await bot.finish() == 0, bot.stderr[-3000:]

    output = bot.stdout + bot.stderr
    assert " DEBUG " in output and "websockets" in output  # frames were logged, payloads not
    secrets = {
        "token": token,
        "bot token": bot_token,
        "password": PASSWORD,
        "new password": NEW_PASSWORD,
        "bot password": BOT_PASSWORD,
        "secret key": secret_key,
        "password digest": sha256_hex(PASSWORD),
        "new password digest": sha256_hex(NEW_PASSWORD),
        "bot password digest": sha256_hex(BOT_PASSWORD),
    }
    leaked = [name for name, value in secrets.items() if value in output]
    assert leaked == []
    for name, value in (("token", token), ("bot token", bot_token), ("key", secret_key)):
        assert not any(part in output for part in fragments(value)), f"part of the {name}"
    assert TOKEN_SHAPE.findall(output) == []  # nor the bot's own login token, whatever it is


@pytest.mark.parametrize(
    ("line", "secret"),
    [
        ('"password": {"digest": "' + sha256_hex("hunter22") + '", "algorithm"', "hunter22"),
        ("checking " + sha256_hex("Secret-pass-1"), sha256_hex("Secret-pass-1")),
        ('{"data": {"newPassword": "Brand-new-pass-7"}}', "Brand-new-pass-7"),
        ('{"currentPassword":"Secret-pass-1"}', "Secret-pass-1"),
        ("answer 482913 arrived", "482913"),
        ("mailed code 482-913", "482-913"),
        ("x-2fa-code: 482913", "482913"),
        ('{"resume": "short-resume-token"}', "short-resume-token"),
        ("stored gAAAAABn" + "Q" * 80, "gAAAAABn" + "Q" * 80),
    ],
    ids=[
        "login-digest",
        "bare-digest",
        "new-password",
        "current-password",
        "totp-code",
        "email-code",
        "2fa-header",
        "resume-token",
        "ciphertext",
    ],
)
def test_the_scrubber_removes_passwords_digests_codes_and_ciphertexts(
    line: str, secret: str
) -> None:
    scrubbed = scrub(line)
    assert secret not in scrubbed and "[redacted]" in scrubbed
    digest = re.search(r"[0-9a-f]{64}", line)
    assert digest is None or digest.group(0) not in scrubbed


def test_websocket_frame_lines_keep_only_their_kind_and_size() -> None:
    line = """< TEXT '{"msg":"changed","fields":{"args":[{"msg":"Secret-pass-1"...' [583 bytes]"""
    assert scrub_frame_dump(line) == "< TEXT [redacted] [583 bytes]"
    assert scrub_frame_dump("= connection is OPEN") == "= connection is OPEN"


def test_what_is_not_secret_survives_scrubbing() -> None:
    line = (
        "message Xk2Pq8ZrT7WmN3bCd in room GENERAL at 2026-01-05 09:00:00,123 from "
        "127.0.0.1:38123 took 1234567 ms (HTTP 401)"
    )
    assert scrub(line) == line
