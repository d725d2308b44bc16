"""End-to-end fixtures: a sandbox, the bot running in-process against it, and scripted people.

Everything talks over loopback sockets: the bot over DDP and REST, people over DDP and REST.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import aiohttp
import pyotp
import pytest

from bot.app.config import BotSettings, load_settings
from bot.app.runner import ProfileBot
from bot.core.clock import ManualClock
from bot.core.crypto import generate_key
from sandbox import serve
from sandbox.people import Person, create_account
from tests.calendar.conftest import FeedServer, serving_feeds
from tests.conftest import ADMIN, ADMIN_ENV, RC_VERSION, RC_VERSIONS, rc_environ

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
        await create_account(self.admin, username, PASSWORD)
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


async def open_workspace(
    stack: AsyncExitStack, tmp_path: Path, environ: dict[str, str], **settings: Any
) -> tuple[str, Person, BotSettings]:
    """Start a sandbox set up for the bot (plus `environ`), log in its admin, create the bot
    account; return the URL, the admin and the bot's settings (plus `settings`)."""
    url = await stack.enter_async_context(
        serve(
            "127.0.0.1",
            0,
            environ={
                **ADMIN_ENV,
                **WORKSPACE_ENV,
                **rc_environ(environ.get("SANDBOX_RC_VERSION", RC_VERSION)),
                **environ,
            },
        )
    )
    admin = await stack.enter_async_context(Person(url, ADMIN["username"], ADMIN["password"]))
    await create_account(
        admin, BOT_NAME, BOT_PASSWORD, name="Profile Bot", email="bot@example.com", roles=["bot"]
    )
    bot_settings = load_settings(
        server_url=url,
        username=BOT_NAME,
        password=BOT_PASSWORD,
        secret_key=generate_key(),
        use_environment=False,
        **{"db": str(tmp_path / "bot.db"), **settings},
    )
    return url, admin, bot_settings


@asynccontextmanager
async def running_world(tmp_path: Path, **environ: str) -> AsyncIterator[World]:
    """A sandbox set up for the bot (plus `environ`), the bot running in-process, an admin."""
    async with AsyncExitStack() as stack:
        url, admin, settings = await open_workspace(stack, tmp_path, environ)
        bot = await stack.enter_async_context(ProfileBot(settings))
        bot.start()
        yield World(url=url, admin=admin, bot=bot, stack=stack)


@pytest.fixture
def rc_version(request: pytest.FixtureRequest) -> str:
    """The Rocket.Chat the test's workspace behaves as: the suite's (SANDBOX_RC_VERSION), or
    each release for a test marked `each_release`."""
    return str(getattr(request, "param", RC_VERSION))


# For tests whose behaviour differs between releases: run once against each.
each_release = pytest.mark.parametrize("rc_version", RC_VERSIONS, indirect=True)


@pytest.fixture
async def world(tmp_path: Path, rc_version: str) -> AsyncIterator[World]:
    async with running_world(tmp_path, SANDBOX_RC_VERSION=rc_version) as running:
        yield running


# -- sensitive changes (issue 4): a bot on a ManualClock, restartable; people with 2FA --------


class TwoFactorPerson(Person):
    """A Person whose password login answers Rocket.Chat's login-time 2FA (reference §2):
    people with TOTP or e-mail codes must give a code to log in with a password."""

    def __init__(
        self, base_url: str, username: str, password: str, code: Callable[[], Awaitable[str]]
    ) -> None:
        super().__init__(base_url, username, password)
        self._login_code = code

    async def rest(
        self,
        method: str,
        endpoint: str,
        *,
        json: Any = None,
        params: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
        authenticated: bool = True,
    ) -> dict[str, Any]:
        try:
            return await super().rest(
                method,
                endpoint,
                json=json,
                params=params,
                headers=headers,
                authenticated=authenticated,
            )
        except RuntimeError as error:
            if endpoint != "login" or "totp-required" not in str(error):
                raise
        return await super().rest(
            method,
            endpoint,
            json={**json, "code": await self._login_code()},
            params=params,
            headers=headers,
            authenticated=authenticated,
        )


@dataclass
class ClockedWorld(World):
    """A world whose bot runs on a ManualClock and can be restarted on the same database."""

    clock: ManualClock = field(default_factory=ManualClock)
    bot_settings: BotSettings | None = None
    bot_stack: AsyncExitStack = field(default_factory=AsyncExitStack)
    totp_secrets: dict[str, str] = field(default_factory=dict)

    async def start_bot(self) -> None:
        """Start a bot on `bot_settings` (its database file) and the shared clock."""
        assert self.bot_settings is not None
        self.bot_stack = AsyncExitStack()
        self.bot = await self.bot_stack.enter_async_context(
            ProfileBot(self.bot_settings, clock=self.clock)
        )
        self.bot.start()

    async def restart_bot(self) -> None:
        """Stop the bot, then start a new one on the same database file."""
        await self.bot_stack.aclose()
        await self.start_bot()

    async def verified_person(self, username: str) -> Person:
        """A user with a verified e-mail: Rocket.Chat sends them 2FA codes by e-mail."""
        await create_account(self.admin, username, PASSWORD, verified=True)
        person = await self.stack.enter_async_context(self.login_as(username, PASSWORD))
        self.people[username] = person
        return person

    def login_as(self, username: str, password: str) -> Person:
        """`async with world.login_as(name, password) as person:`, with a 2FA code if asked."""

        async def code() -> str:
            if username in self.totp_secrets:
                return pyotp.TOTP(self.totp_secrets[username]).now()
            return await self.last_email_code(f"{username}@example.com")

        return TwoFactorPerson(self.url, username, password, code)

    async def totp_person(self, username: str) -> tuple[Person, str]:
        """A user with TOTP enrolled over DDP (2fa:enable + 2fa:validateTempToken); the secret."""
        person = await self.verified_person(username)
        secret = str((await person.call("2fa:enable"))["secret"])
        await person.call("2fa:validateTempToken", pyotp.TOTP(secret).now())
        self.totp_secrets[username] = secret
        return person, secret

    async def last_email_code(self, address: str) -> str:
        """The code of the newest "Authentication code" mail to `address` (sandbox outbox)."""
        async with (
            aiohttp.ClientSession() as http,
            http.get(f"{self.url}/sandbox/emails", params={"to": address}) as reply,
        ):
            mails = (await reply.json())["emails"]
        codes = [
            match.group(0)
            for mail in mails
            if mail["subject"] == "Authentication code"
            for match in [re.search(r"\b\d{3}-\d{3}\b", mail["text"])]
            if match
        ]
        assert codes, f"no code was mailed to {address}"
        return codes[-1]


@pytest.fixture
async def clocked_world(tmp_path: Path, rc_version: str) -> AsyncIterator[ClockedWorld]:
    """Like `world`, but the bot's time only moves with `clocked_world.clock.advance()`, and
    `restart_bot()` replaces the bot with a new one on the same database."""
    # speed only: password changes hash a lot
    fast = {"SANDBOX_BCRYPT_ROUNDS": "4", "SANDBOX_RC_VERSION": rc_version}
    async with AsyncExitStack() as stack:
        url, admin, settings = await open_workspace(stack, tmp_path, fast)
        world = ClockedWorld(
            url=url,
            admin=admin,
            bot=None,
            stack=stack,
            bot_settings=settings,  # type: ignore[arg-type]
        )
        await world.start_bot()
        try:
            yield world
        finally:
            await world.bot_stack.aclose()


# -- team automation (issue 5): rules in the settings, time moved by the tests ----------------


@asynccontextmanager
async def automation_world(
    tmp_path: Path,
    *,
    rc_version: str = RC_VERSION,
    server_time: bool = False,
    **settings: Any,
) -> AsyncIterator[ClockedWorld]:
    """A ClockedWorld whose bot also has `settings` (rules, default_timezone, admin_role), on
    a workspace that behaves as Rocket.Chat `rc_version`. `server_time`: the bot's clock
    starts at the sandbox's "now" (else on a fixed Monday morning), so that a deadline the
    bot computes is the same moment on the server."""
    async with AsyncExitStack() as stack:
        environ = {"SANDBOX_RC_VERSION": rc_version}
        url, admin, bot_settings = await open_workspace(stack, tmp_path, environ, **settings)
        clock = ManualClock()
        if server_time:
            async with (
                aiohttp.ClientSession() as http,
                http.get(f"{url}/sandbox/clock") as reply,
            ):
                clock = ManualClock(datetime.fromisoformat((await reply.json())["now"]))
        world = ClockedWorld(
            url=url,
            admin=admin,
            bot=None,
            stack=stack,
            clock=clock,
            bot_settings=bot_settings,  # type: ignore[arg-type]
        )
        await world.start_bot()
        try:
            yield world
        finally:
            await world.bot_stack.aclose()


async def settle(world: World) -> None:
    """Let the bot's scheduler finish everything that is due now (after moving the clock)."""
    automation = world.bot.automation
    assert automation is not None
    await asyncio.wait_for(automation.scheduler.settled(), 10)


async def advance(world: ClockedWorld, seconds: float = 0, *, to: datetime | None = None) -> None:
    """Move the bot's clock and wait until what fell due has run."""
    await world.clock.advance(seconds, to=to)
    await settle(world)


async def status_of(person: Person) -> tuple[str, str]:
    """(presence, status text) of `person` as Rocket.Chat shows them to themselves."""
    user = await person.profile()
    return str(user.get("statusDefault") or user["status"]), str(user.get("statusText") or "")


@pytest.fixture
async def feed_server() -> AsyncIterator[FeedServer]:
    """Calendar feeds on 127.0.0.1 (tests/calendar/conftest.py), for calendar-driven status."""
    async with serving_feeds() as server:
        yield server
