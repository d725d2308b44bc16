"""Fixtures for the security suite: a workspace whose bot runs on a ManualClock with chosen
settings, people who wait for the bot's answers, and the bot as a subprocess.

Everything goes over loopback sockets against the sandbox, as in tests/e2e.
"""

from __future__ import annotations

import asyncio
import os
import socket
import sys
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

from sandbox.people import Person, create_account
from tests.e2e.conftest import BOT_NAME, BOT_PASSWORD, PASSWORD, ClockedWorld, open_workspace

FAST_HASHING = {"SANDBOX_BCRYPT_ROUNDS": "4"}  # speed only: password changes hash a lot
QUIET = 0.5  # seconds of silence that count as "the bot said nothing"


@dataclass
class SecurityWorld(ClockedWorld):
    """A ClockedWorld whose bot may talk to the sandbox through a RecordingProxy."""

    proxy: RecordingProxy | None = None


@asynccontextmanager
async def security_world(
    tmp_path: Path,
    *,
    environ: dict[str, str] | None = None,
    record: bool = False,
    **settings: Any,
) -> AsyncIterator[SecurityWorld]:
    """A workspace (sandbox with `environ`) and a bot on a ManualClock with `settings`; with
    `record`, everything the bot sends goes through `world.proxy`, which keeps it."""
    async with AsyncExitStack() as stack:
        url, admin, bot_settings = await open_workspace(
            stack, tmp_path, {**FAST_HASHING, **(environ or {})}, **settings
        )
        proxy = RecordingProxy(url) if record else None
        if proxy is not None:
            through = await proxy.serve(stack)
            bot_settings = bot_settings.model_copy(update={"server_url": through})
        world = SecurityWorld(
            url=url,
            admin=admin,
            bot=None,  # type: ignore[arg-type]
            stack=stack,
            bot_settings=bot_settings,
            proxy=proxy,
        )
        await world.start_bot()
        try:
            yield world
        finally:
            await world.bot_stack.aclose()


def from_bot(room_id: str | None = None) -> Callable[[dict[str, Any]], bool]:
    """A predicate for `Person.hear`: a message of the bot (in `room_id`, if given)."""
    return lambda m: m["u"]["username"] == BOT_NAME and room_id in (None, m["rid"])


def bot_messages(person: Person, *, after: int, room_id: str | None = None) -> list[str]:
    """The texts of the bot's messages `person` heard since the mark `after` (no re-sends)."""
    seen: dict[str, str] = {}
    for message in person.heard()[after:]:
        if from_bot(room_id)(message) and not message.get("t"):
            seen.setdefault(message["_id"], str(message["msg"]))
    return list(seen.values())


async def stays_quiet(person: Person, *, after: int, room_id: str | None = None) -> bool:
    """True when the bot says nothing more to `person` for QUIET seconds."""
    try:
        await person.hear(from_bot(room_id), after=after, timeout=QUIET)
    except TimeoutError:
        return True
    return False


async def grant(admin: Person, permission: str, *roles: str) -> None:
    """Give `roles` the `permission`, as an admin does under Administration → Permissions."""
    listed = await admin.rest("GET", "permissions.listAll")
    current = next(p for p in listed["update"] if p["_id"] == permission)
    wanted = sorted({*current["roles"], *roles})
    await admin.rest(
        "POST", "permissions.update", json={"permissions": [{"_id": permission, "roles": wanted}]}
    )


async def new_user(admin: Person, username: str, *, roles: list[str] | None = None) -> None:
    """Create an account with the shared test password, as an admin does (not logged in)."""
    await create_account(admin, username, PASSWORD, roles=roles or ["user"])


def free_port() -> int:
    """A loopback TCP port nobody listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def bot_environment(url: str, db: Path, secret_key: str, **extra: str) -> dict[str, str]:
    """The environment for `python -m bot run` against `url`, without the caller's RCBOT_*."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith("RCBOT_")}
    environ.update(
        {
            "RCBOT_SERVER_URL": url,
            "RCBOT_USERNAME": BOT_NAME,
            "RCBOT_PASSWORD": BOT_PASSWORD,
            "RCBOT_DB": str(db),
            "RCBOT_SECRET_KEY": secret_key,
            **extra,
        }
    )
    return environ


class BotProcess:
    """`python -m bot <args>` with its output collected as it comes (DEBUG logs fill a pipe)."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process
        self._stderr: list[str] = []
        self._stdout: list[str] = []
        self._news = asyncio.Event()
        self._readers = [
            asyncio.create_task(self._drain(process.stderr, self._stderr)),
            asyncio.create_task(self._drain(process.stdout, self._stdout)),
        ]

    async def _drain(self, stream: asyncio.StreamReader | None, into: list[str]) -> None:
        assert stream is not None
        while line := await stream.readline():
            into.append(line.decode("utf-8", "backslashreplace"))
            self._news.set()

    @property
    def stderr(self) -> str:
        return "".join(self._stderr)

    @property
    def stdout(self) -> str:
        return "".join(self._stdout)

    async def wait_for_log(self, text: str, *, timeout: float = 15.0) -> None:
        """Wait until a line of stderr contains `text`."""

        async def found() -> None:
            while not any(text in line for line in self._stderr):
                if self.process.returncode is not None:
                    raise AssertionError(f"the bot exited before logging {text!r}:\n{self.stderr}")
                self._news.clear()
                await asyncio.wait_for(self._news.wait(), 0.5)

        async def patient() -> None:
            while True:
                try:
                    await found()
                    return
                except TimeoutError:
                    continue

        await asyncio.wait_for(patient(), timeout)

    async def finish(self, *, timeout: float = 15.0) -> int:
        """Wait for the process to exit and for all its output; returns the exit code."""
        code = await asyncio.wait_for(self.process.wait(), timeout)
        await asyncio.gather(*self._readers)
        return code


@asynccontextmanager
async def bot_process(environ: dict[str, str], cwd: Path, *args: str) -> AsyncIterator[BotProcess]:
    """`python -m bot <args>` (default: run), killed on the way out if it is still running."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        *(args or ("run",)),
        env=environ,
        cwd=cwd,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    running = BotProcess(process)
    try:
        yield running
    finally:
        if process.returncode is None:
            process.kill()
            await running.finish()


HOP_BY_HOP = {"host", "content-length", "transfer-encoding", "connection", "content-encoding"}


@dataclass
class SentRequest:
    """One REST request as the bot sent it, and the status and body of the answer."""

    method: str
    target: str
    headers: list[tuple[str, str]]
    body: bytes
    status: int = 0
    answer: bytes = b""


@dataclass
class RecordingProxy:
    """HTTP and websocket pass-through to `upstream` that records what its client sends."""

    upstream: str
    requests: list[SentRequest] = field(default_factory=list)
    frames: list[str] = field(default_factory=list)
    _http: aiohttp.ClientSession | None = None

    async def serve(self, stack: AsyncExitStack) -> str:
        """Start listening on a free loopback port; returns the URL to give the bot."""
        self._http = await stack.enter_async_context(aiohttp.ClientSession(auto_decompress=False))
        app = web.Application(client_max_size=0)
        app.router.add_route("*", "/{tail:.*}", self._pass)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        stack.push_async_callback(runner.cleanup)
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = runner.addresses[0][1]
        return f"http://127.0.0.1:{port}"

    async def _pass(self, request: web.Request) -> web.StreamResponse:
        http = self._http
        assert http is not None
        if request.path == "/websocket":
            return await self._pass_websocket(request, http)
        body = await request.read()
        sent = SentRequest(request.method, request.path_qs, list(request.headers.items()), body)
        self.requests.append(sent)
        headers = {k: v for k, v in request.headers.items() if k.lower() not in HOP_BY_HOP}
        async with http.request(
            request.method, self.upstream + request.path_qs, headers=headers, data=body
        ) as answer:
            payload = await answer.read()
            sent.status, sent.answer = answer.status, payload
            kept = {k: v for k, v in answer.headers.items() if k.lower() not in HOP_BY_HOP}
            return web.Response(status=answer.status, body=payload, headers=kept)

    async def _pass_websocket(
        self, request: web.Request, http: aiohttp.ClientSession
    ) -> web.WebSocketResponse:
        client = web.WebSocketResponse(max_msg_size=0)
        await client.prepare(request)
        url = self.upstream.replace("http", "ws", 1) + "/websocket"
        async with http.ws_connect(url, max_msg_size=0) as server:

            async def outward() -> None:
                async for message in client:
                    if message.type is aiohttp.WSMsgType.TEXT:
                        self.frames.append(message.data)
                        await server.send_str(message.data)
                await server.close()

            async def inward() -> None:
                async for message in server:
                    if message.type is aiohttp.WSMsgType.TEXT:
                        await client.send_str(message.data)
                await client.close()

            tasks = [asyncio.create_task(outward()), asyncio.create_task(inward())]
            await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
            for task in tasks:
                task.cancel()
        return client
