"""Secrets: a delegated token never leaves encrypted storage except in the X-Auth-Token header.

A recording proxy sits between the bot and the sandbox and keeps everything the bot sends (REST
requests: method, URL, headers, body; websocket frames). After a delegation and every kind of
use, the token appears in exactly one place: the X-Auth-Token header of REST requests.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from tests.e2e.conftest import ask_bot
from tests.security.conftest import security_world


async def test_a_token_leaves_the_bot_only_in_the_auth_header(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    async with security_world(tmp_path, record=True) as world:
        proxy = world.proxy
        assert proxy is not None
        alice = await world.person("alice")
        token = await alice.create_personal_access_token("profile-bot")
        assert "stored" in await ask_bot(alice, f"/token set {token}")
        for command in ("/token status", "/nick Ali", "/status away Lunch", "/profile", "/undo"):
            await ask_bot(alice, command)
        assert "@alice to @alice2" in await ask_bot(alice, "/username alice2")
        assert "you are now @alice2" in await ask_bot(alice, "yes")
        assert "(yes/no)" in await ask_bot(alice, "/email alice.new@example.org")
        assert "current password" in await ask_bot(alice, "yes")
        assert "Done" in await ask_bot(alice, "Secret-pass-1")
        mark = alice.heard_count
        await alice.say("GENERAL", "!bio from a room")
        await alice.hear(lambda m: "“from a room”" in m["msg"], after=mark)
        await ask_bot(alice, "/audit")
        assert "deleted your token" in await ask_bot(alice, "/token forget")

    used = [
        (name, value) for sent in proxy.requests for name, value in sent.headers if token in value
    ]
    assert used and {name.lower() for name, _ in used} == {"x-auth-token"}
    assert all(value == token for _, value in used)
    for sent in proxy.requests:
        assert token not in sent.target and token.encode() not in sent.body, sent.target
    assert proxy.frames and not any(token in frame for frame in proxy.frames)
    assert token not in caplog.text
    raw = b"".join(path.read_bytes() for path in tmp_path.glob("bot.db*"))
    assert token.encode() not in raw
