"""Health: `/healthz` (200 connected and logged in, 503 otherwise) and `/metrics` (commands by
name and outcome, a latency histogram, reconnects, API errors), in-process and from `rcbot run`."""

from __future__ import annotations

import asyncio
import signal
from contextlib import AsyncExitStack
from pathlib import Path

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families

from bot.app.health import HealthServer
from bot.core.crypto import generate_key
from bot.core.errors import ConfigError
from sandbox.people import Person
from tests.e2e.conftest import PASSWORD, ask_bot, open_workspace
from tests.security.conftest import (
    bot_environment,
    bot_process,
    free_port,
    new_user,
    security_world,
)

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


async def fetch(url: str) -> tuple[int, str]:
    async with aiohttp.ClientSession() as http, http.get(url) as reply:
        return reply.status, await reply.text()


def samples(text: str) -> Samples:
    """Every sample of a /metrics page by (name, sorted labels)."""
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(page: Samples, name: str, **labels: str) -> float:
    return page.get((name, tuple(sorted(labels.items()))), 0.0)


async def settled_metrics(url: str, name: str, *, at_least: float, **labels: str) -> Samples:
    """The /metrics page once `name{labels}` reached `at_least` (a command is counted just
    after its answer went out, so the page may lag the answer by a moment)."""
    for _ in range(50):
        page = samples((await fetch(url))[1])
        if value(page, name, **labels) >= at_least:
            return page
        await asyncio.sleep(0.05)
    return page


async def test_healthz_answers_503_until_ready_and_200_while_ready() -> None:
    ready = False
    async with HealthServer(host="127.0.0.1", port=0, ready=lambda: ready) as server:
        base = f"http://127.0.0.1:{server.port}"
        status, body = await fetch(f"{base}/healthz")
        assert status == 503 and "unavailable" in body
        ready = True
        assert await fetch(f"{base}/healthz") == (200, '{"status": "ok"}')
        status, page = await fetch(f"{base}/metrics")
        assert status == 200 and value(samples(page), "rcbot_connected") == 1.0
        ready = False
        assert (await fetch(f"{base}/healthz"))[0] == 503
        assert value(samples((await fetch(f"{base}/metrics"))[1]), "rcbot_connected") == 0.0


async def test_a_port_in_use_is_a_configuration_error_naming_health_port() -> None:
    async with HealthServer(host="127.0.0.1", port=0, ready=lambda: True) as first:
        second = HealthServer(host="127.0.0.1", port=first.port, ready=lambda: True)
        with pytest.raises(ConfigError, match=r"health_port \(RCBOT_HEALTH_PORT\): cannot listen"):
            await second.start()


async def test_metrics_count_commands_by_outcome_latency_and_api_errors(tmp_path: Path) -> None:
    async with security_world(tmp_path) as world:
        health = HealthServer(host="127.0.0.1", port=0, ready=world.bot.connected.is_set)
        async with health:
            page = f"http://127.0.0.1:{health.port}/metrics"
            before = samples((await fetch(page))[1])
            alice = await world.person("alice")
            await ask_bot(alice, "/help")
            await ask_bot(alice, "/nick Ali")  # no token yet: refused
            await ask_bot(alice, "/token set " + "x" * 43)  # Rocket.Chat answers 401
            await ask_bot(alice, "/stauts away")  # no such command
            total = value(before, "rcbot_command_seconds_count", command="token") + 1
            after = await settled_metrics(
                page, "rcbot_command_seconds_count", at_least=total, command="token"
            )

    def grew(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert grew("rcbot_commands_total", command="help", outcome="ok") == 1
    assert grew("rcbot_commands_total", command="nick", outcome="refused") == 1
    assert grew("rcbot_commands_total", command="token", outcome="refused") == 1
    assert grew("rcbot_commands_total", command="(unknown)", outcome="unknown") == 1
    assert grew("rcbot_command_seconds_count", command="help") == 1
    assert grew("rcbot_command_seconds_bucket", command="help", le="+Inf") == 1
    assert grew("rcbot_api_errors_total", kind="auth") >= 1
    assert ("rcbot_reconnects_total", ()) in after


async def test_rcbot_run_serves_health_and_metrics_on_the_configured_port(tmp_path: Path) -> None:
    port = free_port()
    async with AsyncExitStack() as outer:
        sandbox = await outer.enter_async_context(AsyncExitStack())
        url, admin, _ = await open_workspace(sandbox, tmp_path, {})
        await new_user(admin, "alice")
        environ = bot_environment(
            url, tmp_path / "bot.db", generate_key(), RCBOT_HEALTH_PORT=str(port)
        )
        bot = await outer.enter_async_context(bot_process(environ, tmp_path))
        await bot.wait_for_log("ready: listening")
        base = f"http://127.0.0.1:{port}"
        assert (await fetch(f"{base}/healthz"))[0] == 200
        async with Person(url, "alice", PASSWORD) as alice:
            assert "/status" in await ask_bot(alice, "/help")
        page = await settled_metrics(
            f"{base}/metrics", "rcbot_commands_total", at_least=1, command="help", outcome="ok"
        )
        assert value(page, "rcbot_commands_total", command="help", outcome="ok") == 1
        assert value(page, "rcbot_connected") == 1

        await sandbox.aclose()  # Rocket.Chat goes away: the bot is no longer connected
        for _ in range(100):
            if (await fetch(f"{base}/healthz"))[0] == 503:
                break
            await asyncio.sleep(0.1)
        status, body = await fetch(f"{base}/healthz")
        assert status == 503 and "not connected" in body
        bot.process.send_signal(signal.SIGTERM)
        assert await bot.finish() == 0, bot.stderr[-3000:]
    assert f"health: http://127.0.0.1:{port}/healthz" in bot.stderr
