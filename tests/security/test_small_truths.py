"""Small things people read: a second factor asked for is not an API error in /metrics, and
the sentences about a pending change use the right article."""

from __future__ import annotations

from pathlib import Path

from bot.app.health import HealthServer
from tests.e2e.conftest import ask_bot, delegate
from tests.security.conftest import security_world
from tests.security.test_health import fetch, samples, value


async def test_a_second_factor_prompt_is_not_counted_as_an_api_error(tmp_path: Path) -> None:
    async with security_world(tmp_path) as world:
        health = HealthServer(host="127.0.0.1", port=0, ready=world.bot.connected.is_set)
        async with health:
            page = f"http://127.0.0.1:{health.port}/metrics"
            tom, _ = await world.totp_person("tom")
            await delegate(tom)
            before = samples((await fetch(page))[1])
            await ask_bot(tom, "/email tom.new@example.org")
            prompt = await ask_bot(tom, "yes")
            assert "second factor" in prompt
            after = samples((await fetch(page))[1])
    assert value(after, "rcbot_api_errors_total", kind="two_factor") == value(
        before, "rcbot_api_errors_total", kind="two_factor"
    )


async def test_a_pending_username_change_is_a_username_change_not_an_username(
    tmp_path: Path,
) -> None:
    async with security_world(tmp_path) as world:
        alice = await world.person("alice")
        await delegate(alice)
        assert "?" in await ask_bot(alice, "/username alice2")
        busy = await ask_bot(alice, "/email alice@example.org")
        assert "a username change waiting" in busy, busy
        assert "an username" not in busy
        await ask_bot(alice, "cancel")
        await ask_bot(alice, "/email alice@example.org")
        busy = await ask_bot(alice, "/username alice3")
        assert "an email change waiting" in busy, busy
