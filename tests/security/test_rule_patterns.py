"""Admin-written regular expressions cannot freeze the bot: a message rule's pattern is searched
off the event loop with a time bound (bot.automation.patterns), and `rcbot check` warns about
patterns that backtrack catastrophically."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet
from prometheus_client import REGISTRY

from tests.e2e.conftest import ask_bot, automation_world, delegate, status_of

RULES: list[dict[str, Any]] = [
    {  # the example: exponential in Python's `re` on a long line that does not match
        "name": "words",
        "trigger": {"message": r"^(\w+\s?)+$", "rooms": ["general"]},
        "users": {"usernames": ["alice"]},
        "change": {"status_text": "Words"},
    },
    {  # exponential even for the `regex` engine: only the time bound stops it
        "name": "doubled",
        "trigger": {"message": r"^(a|aa)+$", "rooms": ["general"]},
        "users": {"usernames": ["alice"]},
        "change": {"status_text": "Doubled"},
    },
    {
        "name": "lunch",
        "trigger": {"message": "^lunch$", "rooms": ["general"]},
        "users": {"usernames": ["alice"]},
        "change": {"status": "away", "status_text": "At lunch"},
    },
]


def timeouts(rule: str) -> float:
    value = REGISTRY.get_sample_value("rcbot_rule_pattern_timeouts_total", {"rule": rule})
    return value or 0.0


async def test_a_catastrophic_pattern_freezes_nobody(tmp_path: Path) -> None:
    async with automation_world(tmp_path, rules=RULES) as world:
        alice = await world.person("alice")
        bob = await world.person("bob")
        await delegate(alice)
        before = timeouts("doubled")
        await alice.say("GENERAL", "a" * 36 + "!")
        # Everyone else is served meanwhile, and the rules go on working.
        assert "no change waiting" in await ask_bot(bob, "/cancel")
        await alice.say("GENERAL", "lunch")
        for _ in range(100):
            if await status_of(alice) == ("away", "At lunch"):
                break
            await asyncio.sleep(0.05)
        assert await status_of(alice) == ("away", "At lunch")
        assert timeouts("doubled") == before + 1


def test_rcbot_check_warns_about_catastrophic_patterns(tmp_path: Path) -> None:
    config = tmp_path / "bot.toml"
    lines = [
        'server_url = "https://chat.example.com"',
        'username = "profilebot"',
        'password = "bot-pass-123"',
        f'secret_key = "{Fernet.generate_key().decode()}"',
        f'db = "{tmp_path / "bot.db"}"',
    ]
    for rule in RULES:
        trigger = rule["trigger"]
        lines += [
            "[[rules]]",
            f'name = "{rule["name"]}"',
            f"trigger = {{ message = '{trigger['message']}', rooms = [\"general\"] }}",
            'users = { usernames = ["alice"] }',
            f'change = {{ status_text = "{rule["name"]}" }}',
        ]
    config.write_text("\n".join(lines) + "\n", encoding="utf-8")
    result = subprocess.run(
        [sys.executable, "-m", "bot", "check", "-c", str(config)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    warned = [line for line in result.stderr.splitlines() if line.startswith("warning: rule")]
    assert [line.split(":")[1].strip() for line in warned] == ["rule words", "rule doubled"]
    assert all("stops each search after" in line for line in warned)
