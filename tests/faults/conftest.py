"""Fault-injection fixtures: a sandbox that restarts on its port and data file, the bot in this
process or as a real `python -m bot run`, and people who talk over REST only.

People use REST (chat.sendMessage, im.history) rather than a websocket so that cutting every
websocket, or restarting the sandbox, cuts only the bot's. Every test counts the bot's answers
per command from the DM history: each command must be answered exactly once.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import signal
import sys
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import aiohttp
import pytest

from bot.app.config import BotSettings, load_settings
from bot.app.runner import ProfileBot
from bot.core.crypto import generate_key
from sandbox import faults
from sandbox.digests import sha256_hex
from sandbox.people import create_account
from sandbox.server import serve_state
from sandbox.state import SandboxState
from tests.conftest import ADMIN, ADMIN_ENV
from tests.e2e.conftest import BOT_NAME, BOT_PASSWORD, PASSWORD, WORKSPACE_ENV
from tests.rest_helpers import sandbox_call

# Rocket.Chat's own REST limiter off: in these tests every 429 is one the test injected.
FAULTS_ENV = {
    **ADMIN_ENV,
    **WORKSPACE_ENV,
    "OVERWRITE_SETTING_API_Enable_Rate_Limiter": "false",
    "SANDBOX_BCRYPT_ROUNDS": "4",
}
# Backoffs shortened so that each fault costs milliseconds, not seconds.
FAST = {
    "reconnect_delay_min": 0.05,
    "reconnect_delay_max": 0.2,
    "retry_delay_min": 0.05,
    "retry_delay_max": 0.2,
    "answer_wait": 15.0,
    "in_doubt_wait": 0.05,
}
POLL_SECONDS = 0.05
WAIT_SECONDS = 8.0


class Sandbox:
    """The sandbox in this process, on a data file, restartable on the same port."""

    def __init__(self, data_file: Path) -> None:
        self.data_file = data_file
        self.port = 0
        self.url = ""
        self.state: SandboxState | None = None
        self._stack: AsyncExitStack | None = None

    async def start(self) -> None:
        stack = AsyncExitStack()
        self.url, self.state = await stack.enter_async_context(
            serve_state("127.0.0.1", self.port, data_file=self.data_file, environ=FAULTS_ENV)
        )
        self.port = int(self.url.rsplit(":", 1)[1])
        self._stack = stack

    async def stop(self) -> None:
        """Shut down as a restarting server does: every connection closes, state is saved."""
        if self._stack is not None:
            await self._stack.aclose()
            self._stack = None

    async def restart(self) -> None:
        await self.stop()
        await self.start()

    async def _call(self, method: str, path: str, body: Any = None) -> dict[str, Any]:
        return await sandbox_call(self.url, method, path, body)

    async def inject(self, **fault: Any) -> None:
        """Arm a fault (POST /sandbox/faults)."""
        await self._call("POST", "/sandbox/faults", fault)

    def arm_now(self, **fault: Any) -> None:
        """Arm a fault without yielding to the event loop: right after `start()` no client can
        get in first."""
        assert self.state is not None
        faults.armed(self.state).append(faults.parse_fault(self.state, fault))

    async def faults(self) -> list[dict[str, Any]]:
        return list((await self._call("GET", "/sandbox/faults"))["faults"])

    async def wait_fired(self, times: int = 1) -> None:
        """Wait until the armed faults have fired `times` times in all."""
        for _ in range(int(WAIT_SECONDS / POLL_SECONDS)):
            if sum(fault["fired"] for fault in await self.faults()) >= times:
                return
            await asyncio.sleep(POLL_SECONDS)
        raise AssertionError(f"the faults did not fire {times} time(s): {await self.faults()}")

    async def drop_websockets(self, user: str | None = None) -> int:
        body = {"user": user} if user else {}
        return int((await self._call("POST", "/sandbox/drop-websockets", body))["dropped"])

    def login_tokens(self, username: str) -> int:
        """How many login tokens (sessions, PATs) the user has: a resume login adds none."""
        assert self.state is not None
        user = self.state.user_by_username(username)
        assert user is not None
        return len(user.get("services", {}).get("resume", {}).get("loginTokens", []))


class Talker:
    """A user who talks to the bot over REST only, so dropped websockets do not touch them."""

    def __init__(self, sandbox: Sandbox, username: str, password: str = PASSWORD) -> None:
        self.sandbox = sandbox
        self.username = username
        self._password = password
        self.user_id = ""
        self._token = ""
        self._dm = ""
        self._http: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> Self:
        self._http = aiohttp.ClientSession()
        reply = await self.rest(
            "POST", "login", json={"user": self.username, "password": self._password}
        )
        self.user_id, self._token = reply["data"]["userId"], reply["data"]["authToken"]
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._http is not None:
            await self._http.close()

    async def rest(
        self,
        method: str,
        endpoint: str,
        *,
        json: Any = None,
        params: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        assert self._http is not None
        sent = {"X-User-Id": self.user_id, "X-Auth-Token": self._token} if self._token else {}
        url = f"{self.sandbox.url}/api/v1/{endpoint}"
        async with self._http.request(
            method, url, json=json, params=params, headers={**sent, **(headers or {})}
        ) as reply:
            body = await reply.json(content_type=None)
            assert reply.status == 200, f"{method} {endpoint} → {reply.status} {body}"
            return dict(body)

    async def dm(self) -> str:
        """The id of this user's DM with the bot."""
        if not self._dm:
            reply = await self.rest("POST", "im.create", json={"username": BOT_NAME})
            self._dm = str(reply["room"]["_id"])
        return self._dm

    async def say(self, room_id: str, text: str) -> str:
        """Send `text` to a room; returns the message id."""
        message_id = secrets.token_hex(9)
        await self.rest(
            "POST",
            "chat.sendMessage",
            json={"message": {"_id": message_id, "rid": room_id, "msg": text}},
        )
        return message_id

    async def tell(self, text: str) -> str:
        """Say `text` in the DM with the bot."""
        return await self.say(await self.dm(), text)

    async def answers(self) -> list[str]:
        """The bot's messages in the DM, oldest first."""
        reply = await self.rest(
            "GET", "im.history", params={"roomId": await self.dm(), "count": "500"}
        )
        said = [m for m in reply["messages"] if m["u"]["username"] == BOT_NAME and not m.get("t")]
        return [str(m["msg"]) for m in reversed(said)]

    async def wait_for(
        self, done: Callable[[list[str]], bool], *, timeout: float = WAIT_SECONDS
    ) -> list[str]:
        """Poll the DM until `done(answers)`; the answers then."""
        for _ in range(int(timeout / POLL_SECONDS)):
            answers = await self.answers()
            if done(answers):
                return answers
            await asyncio.sleep(POLL_SECONDS)
        raise AssertionError(
            f"{self.username} is still waiting; the bot said: {await self.answers()}"
        )

    async def wait_for_each(self, *texts: str, timeout: float = WAIT_SECONDS) -> list[str]:
        """Wait until each text appears in some answer; returns all answers."""
        return await self.wait_for(
            lambda answers: all(any(t in a for a in answers) for t in texts), timeout=timeout
        )

    async def ask(self, text: str, expected: str) -> str:
        """Tell the bot `text` and wait for an answer containing `expected`."""
        before = len(await self.answers())
        await self.tell(text)
        answers = await self.wait_for(lambda got: any(expected in a for a in got[before:]))
        return next(a for a in answers[before:] if expected in a)

    async def delegate(self) -> None:
        """Give the bot a personal access token (the password is the 2FA fallback)."""
        reply = await self.rest(
            "POST",
            "users.generatePersonalAccessToken",
            json={"tokenName": f"bot-{secrets.token_hex(3)}", "bypassTwoFactor": False},
            headers={"X-2fa-Code": sha256_hex(self._password), "X-2fa-Method": "password"},
        )
        await self.ask(f"/token set {reply['token']}", "stored")

    async def profile(self) -> dict[str, Any]:
        reply = await self.rest("GET", "users.info", params={"userId": self.user_id})
        return dict(reply["user"])


def count(answers: list[str], text: str) -> int:
    """How many answers contain `text`."""
    return sum(text in answer for answer in answers)


async def settle(seconds: float = 0.3) -> None:
    """Give a late duplicate the time to show up before counting."""
    await asyncio.sleep(seconds)


@dataclass
class FaultWorld:
    """A restartable sandbox with an admin, the bot account, people, and the bot's settings."""

    sandbox: Sandbox
    tmp_path: Path
    secret_key: str
    stack: AsyncExitStack
    bot: ProfileBot | None = None
    people: dict[str, Talker] = field(default_factory=dict)
    _bot_stack: AsyncExitStack | None = None

    @property
    def db(self) -> Path:
        return self.tmp_path / "bot.db"

    def settings(self, **overrides: Any) -> BotSettings:
        return load_settings(
            server_url=self.sandbox.url,
            username=BOT_NAME,
            password=BOT_PASSWORD,
            db=str(self.db),
            secret_key=self.secret_key,
            use_environment=False,
            **{**FAST, **overrides},
        )

    async def person(self, username: str) -> Talker:
        """A new user of the workspace, logged in over REST."""
        async with Talker(self.sandbox, ADMIN["username"], ADMIN["password"]) as admin:
            await create_account(admin, username, PASSWORD)
        talker = await self.stack.enter_async_context(Talker(self.sandbox, username))
        self.people[username] = talker
        return talker

    async def start_bot(self, **overrides: Any) -> ProfileBot:
        """Run the bot in this process on the world's database."""
        self._bot_stack = AsyncExitStack()
        self.bot = await self._bot_stack.enter_async_context(
            ProfileBot(self.settings(**overrides))
        )
        self.bot.start()
        return self.bot

    async def stop_bot(self) -> None:
        if self._bot_stack is not None:
            await self._bot_stack.aclose()
            self._bot_stack = None


@pytest.fixture
async def fault_world(tmp_path: Path) -> AsyncIterator[FaultWorld]:
    """A sandbox on a data file with the bot account; the bot is not started yet."""
    sandbox = Sandbox(tmp_path / "world.json")
    await sandbox.start()
    async with AsyncExitStack() as stack:
        world = FaultWorld(
            sandbox=sandbox, tmp_path=tmp_path, secret_key=generate_key(), stack=stack
        )
        async with Talker(sandbox, ADMIN["username"], ADMIN["password"]) as admin:
            await create_account(
                admin,
                BOT_NAME,
                BOT_PASSWORD,
                name="Profile Bot",
                email="bot@example.com",
                roles=["bot"],
            )
        try:
            yield world
        finally:
            await world.stop_bot()
            await sandbox.stop()


class BotProcess:
    """`python -m bot run` in its own process, on the world's database; its log goes to a file."""

    def __init__(self, world: FaultWorld, **settings: Any) -> None:
        self.world = world
        self.log = world.tmp_path / "bot.log"
        self.process: asyncio.subprocess.Process | None = None
        environ = {k: v for k, v in os.environ.items() if not k.startswith("RCBOT_")}
        environ.update(
            {
                "RCBOT_SERVER_URL": world.sandbox.url,
                "RCBOT_USERNAME": BOT_NAME,
                "RCBOT_PASSWORD": BOT_PASSWORD,
                "RCBOT_DB": str(world.db),
                "RCBOT_SECRET_KEY": world.secret_key,
                "RCBOT_LOG_LEVEL": "INFO",
            }
        )
        environ.update(
            {f"RCBOT_{key.upper()}": str(value) for key, value in {**FAST, **settings}.items()}
        )
        self._environ = environ
        self._starts = 0

    async def start(self) -> None:
        """Start the process and wait until it says it is listening."""
        self._starts += 1
        mark = self.log.stat().st_size if self.log.exists() else 0
        with self.log.open("ab") as log:
            self.process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "bot",
                "run",
                env=self._environ,
                cwd=self.world.tmp_path,
                stdout=asyncio.subprocess.DEVNULL,
                stderr=log,
            )
        for _ in range(int(20 / POLL_SECONDS)):
            if b"ready: listening" in self.log.read_bytes()[mark:]:
                return
            if self.process.returncode is not None:
                break
            await asyncio.sleep(POLL_SECONDS)
        raise AssertionError(f"the bot did not start:\n{self.text()[-3000:]}")

    async def kill(self) -> None:
        """SIGKILL: no clean-up of any kind."""
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        await self.process.wait()

    async def terminate(self, timeout: float = 15.0) -> int:
        """SIGTERM, then the exit code."""
        self.send_sigterm()
        return await self.exit_code(timeout)

    def send_sigterm(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)

    async def exit_code(self, timeout: float = 15.0) -> int:
        assert self.process is not None
        return await asyncio.wait_for(self.process.wait(), timeout)

    async def ensure_stopped(self) -> None:
        if self.process is not None and self.process.returncode is None:
            self.process.kill()
            await self.process.wait()

    def text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""
