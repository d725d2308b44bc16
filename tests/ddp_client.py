"""The tests' frame-level DDP client and the shared fixtures of the realtime tests.

`DdpClient` is the shared `sandbox.ddp_client.DdpClient` keeping every frame: it shows frames
exactly as they travel (`client.frames` keeps every one, raw text in `client.raw`), and waits
for frames by predicate without losing the others. The `realtime` fixture starts an in-process
sandbox (REST rate limiter off, short DDP timers available through `realtime.set_ddp_options`)
with helpers that create users over REST as the admin would.

tests/conftest.py loads this module as a pytest plugin, so `realtime` is a fixture everywhere.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from itertools import count
from typing import Any

import aiohttp
import pytest

from sandbox import ddp_client
from sandbox.ddp import OPTIONS_KEY, DdpOptions
from sandbox.ddp_client import Frame, FramePredicate
from sandbox.server import serve_state
from sandbox.state import SandboxState
from tests.conftest import ADMIN, ADMIN_ENV
from tests.rest_helpers import Reply, call

REALTIME_ENV = {
    **ADMIN_ENV,
    "SANDBOX_BCRYPT_ROUNDS": "4",
    "OVERWRITE_SETTING_API_Enable_Rate_Limiter": "false",
}


def matches(frame: Frame, **fields: Any) -> bool:
    """Every given top-level field has the given value."""
    return all(frame.get(key) == value for key, value in fields.items())


class DdpClient(ddp_client.DdpClient):
    """One raw websocket to /websocket; frames are kept in arrival order until taken."""

    def __init__(self, *, auto_pong: bool = True) -> None:
        super().__init__(auto_pong=auto_pong, keep_frames=True, timeout=2.0)
        self.frames: list[Frame] = []
        self.raw: list[str] = []
        self.user_id: str | None = None

    @classmethod
    @asynccontextmanager
    async def open(
        cls, http: aiohttp.ClientSession, base_url: str, *, auto_pong: bool = True, **kwargs: Any
    ) -> AsyncIterator[DdpClient]:
        """A websocket to `<base_url>/websocket`, not yet DDP-connected."""
        async with cls(auto_pong=auto_pong).opened(
            http, base_url, autoping=True, **kwargs
        ) as client:
            yield client

    def on_frame(self, frame: Any, raw: str, arrived: float) -> None:
        self.raw.append(raw)
        self.frames.append(frame)

    async def connect(self, **extra: Any) -> Frame:
        """DDP connect with version 1; returns the `connected` frame."""
        return await self.handshake(support=("1", "pre2", "pre1"), **extra)

    async def expect(self, timeout: float = 2.0, **fields: Any) -> Frame:
        """The first frame whose top-level fields have these values."""
        return await self.wait_for(lambda frame: matches(frame, **fields), timeout)

    async def expect_none(self, predicate: FramePredicate, within: float = 0.3) -> None:
        """Assert that no frame satisfying `predicate` arrives within `within` seconds."""
        try:
            frame = await self.wait_for(predicate, within)
        except TimeoutError:
            return
        raise AssertionError(f"unexpected frame {frame}")

    def changed(self, collection: str, event_name: str) -> FramePredicate:
        """A predicate for `changed` frames of a stream event."""
        return ddp_client.changed(collection, event_name)

    async def call_frame(self, method: str, *params: Any, timeout: float | None = None) -> Frame:
        """Call a method; its `result` frame, after checking its `updated` frame arrived."""
        result = await super().call_frame(method, *params, timeout=timeout)
        method_id = result["id"]
        await self.wait_for(
            lambda f: f.get("msg") == "updated" and method_id in f.get("methods", []), timeout
        )
        return result

    async def call(self, method: str, *params: Any, timeout: float | None = None) -> Frame:
        """Call a method; its `result` frame (tests look at frames, not only results)."""
        return await self.call_frame(method, *params, timeout=timeout)

    async def login_password(self, username: str, password: str) -> Frame:
        """DDP login with a password digest (what rocketchat-async sends)."""
        frame = await super().login_password(username, password)
        if "result" in frame:
            self.user_id = frame["result"]["id"]
        return frame

    async def login_resume(self, token: str) -> Frame:
        """DDP login with a resume token."""
        frame = await super().login_resume(token)
        if "result" in frame:
            self.user_id = frame["result"]["id"]
        return frame

    async def sub(self, name: str, *params: Any, sub_id: str | None = None) -> Frame:
        """Subscribe; the `ready` or `nosub` frame for it."""
        return await self.subscribe_frame(name, *params, sub_id=sub_id)


# -- the sandbox for realtime tests -------------------------------------------------------------


@dataclass
class User:
    """A user the test holds a REST login for."""

    user_id: str
    username: str
    password: str
    token: str
    name: str = ""

    @property
    def auth(self) -> tuple[str, str]:
        return self.user_id, self.token


@dataclass
class Realtime:
    """A running in-process sandbox with REST and DDP helpers."""

    url: str
    state: SandboxState
    http: aiohttp.ClientSession
    admin: User = field(init=False)

    async def rest(
        self, method: str, endpoint: str, user: User | None = None, **kwargs: Any
    ) -> Reply:
        """A REST call, authenticated as `user` when given."""
        return await call(
            self.http, self.url, method, endpoint, auth=user.auth if user else None, **kwargs
        )

    async def login(self, username: str, password: str, name: str = "") -> User:
        reply = await self.rest("POST", "login", json={"user": username, "password": password})
        assert reply.status == 200, reply.body
        data = reply.body["data"]
        return User(data["userId"], username, password, data["authToken"], name)

    async def user(self, username: str, *, roles: list[str] | None = None, name: str = "") -> User:
        """Create a user over REST (users.create as the admin) and log them in."""
        password = f"{username}-pass-1"
        shown = name or username.title()
        body: dict[str, Any] = {
            "username": username,
            "email": f"{username}@example.com",
            "password": password,
            "name": shown,
            "verified": False,  # a verified e-mail would turn on e-mail 2FA at login
        }
        if roles:
            body["roles"] = roles
        reply = await self.rest("POST", "users.create", self.admin, json=body)
        assert reply.status == 200, reply.body
        return await self.login(username, password, shown)

    def set_ddp_options(self, **options: Any) -> None:
        """Shorter DDP timers or limits for connections opened from now on."""
        self.state.runtime[OPTIONS_KEY] = DdpOptions(**options)

    @asynccontextmanager
    async def ddp(
        self, user: User | None = None, *, connect: bool = True, auto_pong: bool = True
    ) -> AsyncIterator[DdpClient]:
        """A DDP client: connected (unless connect=False), logged in as `user` if given."""
        async with DdpClient.open(self.http, self.url, auto_pong=auto_pong) as client:
            if connect:
                await client.expect(server_id="0")
                await client.connect()
                if user is not None:
                    frame = await client.login_resume(user.token)
                    assert "result" in frame, frame
            yield client

    async def post(self, user: User, room_id: str, text: str, **extra: Any) -> Frame:
        """chat.postMessage as `user`; the saved message."""
        reply = await self.rest(
            "POST", "chat.postMessage", user, json={"roomId": room_id, "text": text, **extra}
        )
        assert reply.status == 200, reply.body
        return reply.body["message"]

    async def dm(self, user: User, other: User) -> str:
        """im.create as `user` with `other`; the DM room id."""
        reply = await self.rest("POST", "im.create", user, json={"username": other.username})
        assert reply.status == 200, reply.body
        return reply.body["room"]["rid"]


@asynccontextmanager
async def running_realtime(http: aiohttp.ClientSession, **environ: str) -> AsyncIterator[Realtime]:
    """Start a sandbox for realtime tests (extra environment allowed)."""
    async with serve_state("127.0.0.1", 0, environ={**REALTIME_ENV, **environ}) as (url, state):
        world = Realtime(url, state, http)
        world.admin = await world.login(ADMIN["username"], ADMIN["password"])
        yield world


@pytest.fixture
async def realtime(http: aiohttp.ClientSession) -> AsyncIterator[Realtime]:
    """A realtime sandbox with the ADMIN_* admin logged in over REST."""
    async with running_realtime(http) as world:
        yield world


ids = count(1)


def unique(prefix: str) -> str:
    """A name no other test used (rooms, users)."""
    return f"{prefix}{next(ids)}"
