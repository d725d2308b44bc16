"""End-to-end fixtures: a sandbox, the bot running in-process against it, and scripted people.

Everything talks over loopback sockets: the bot over DDP and REST, people over DDP and REST.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from bot.app import ProfileBot
from bot.config import load_settings
from bot.crypto import generate_key
from sandbox import serve
from sandbox.people import Person
from tests.conftest import ADMIN, ADMIN_ENV

BOT_NAME = "profilebot"
BOT_PASSWORD = "bot-pass-123"
PASSWORD = "Secret-pass-1"
BOT_DM_TIMEOUT = 5.0

# What an admin sets up on a workspace that runs the bot (README: "Setting up Rocket.Chat").
WORKSPACE_ENV = {
    "OVERWRITE_SETTING_Message_AllowUnrecognizedSlashCommand": "true",
    "OVERWRITE_SETTING_API_Enable_Rate_Limiter_Limit_Calls_Default": "600",
    "OVERWRITE_SETTING_Accounts_CustomFields": (
        '{"team": {"type": "text", "required": false, "maxLength": 30},'
        ' "location": {"type": "text", "required": false, "maxLength": 50}}'
    ),
}


@dataclass
class World:
    """A running workspace: its URL, its admin, the bot, and a way to add people."""

    url: str
    admin: Person
    bot: ProfileBot
    stack: AsyncExitStack
    people: dict[str, Person] = field(default_factory=dict)

    async def person(self, username: str) -> Person:
        """A new user of the workspace, logged in and listening."""
        await self.admin.rest(
            "POST",
            "users.create",
            json={
                "username": username,
                "email": f"{username}@example.com",
                "password": PASSWORD,
                "name": username.title(),
            },
        )
        person = await self.stack.enter_async_context(Person(self.url, username, PASSWORD))
        self.people[username] = person
        return person


async def ask_bot(person: Person, text: str, *, timeout: float = BOT_DM_TIMEOUT) -> str:
    """Say `text` in the DM with the bot and return the text of the bot's next answer there."""
    return str((await person.ask(BOT_NAME, text, timeout=timeout))["msg"])


async def delegate(person: Person) -> str:
    """Give the bot a fresh personal access token of `person`; returns the bot's answer."""
    token = await person.create_personal_access_token("profile-bot")
    return await ask_bot(person, f"/token set {token}")


@asynccontextmanager
async def running_world(tmp_path: Path, **environ: str) -> AsyncIterator[World]:
    """A sandbox set up for the bot (plus `environ`), the bot running in-process, an admin."""
    async with AsyncExitStack() as stack:
        url = await stack.enter_async_context(
            serve("127.0.0.1", 0, environ={**ADMIN_ENV, **WORKSPACE_ENV, **environ})
        )
        admin = await stack.enter_async_context(Person(url, ADMIN["username"], ADMIN["password"]))
        await admin.rest(
            "POST",
            "users.create",
            json={
                "username": BOT_NAME,
                "email": "bot@example.com",
                "password": BOT_PASSWORD,
                "name": "Profile Bot",
                "roles": ["bot"],
            },
        )
        settings = load_settings(
            server_url=url,
            username=BOT_NAME,
            password=BOT_PASSWORD,
            db=str(tmp_path / "bot.db"),
            secret_key=generate_key(),
            use_environment=False,
        )
        bot = await stack.enter_async_context(ProfileBot(settings))
        bot.start()
        yield World(url=url, admin=admin, bot=bot, stack=stack)


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    async with running_world(tmp_path) as running:
        yield running

