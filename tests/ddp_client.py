"""A raw DDP test client and the shared fixtures of the realtime tests.

`DdpClient` shows frames exactly as they travel (`client.frames` keeps every one, raw text in
`client.raw`), and waits for frames by predicate without losing the others. The `realtime`
fixture starts an in-process sandbox (REST rate limiter off, short DDP timers available through
`realtime.set_ddp_options`) with helpers that create users over REST as the admin would.

tests/conftest.py loads this module as a pytest plugin, so `realtime` is a fixture everywhere.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from itertools import count
from typing import Any

import aiohttp
import pytest

from sandbox.ddp import OPTIONS_KEY, DdpOptions
from sandbox.server import serve_state
from sandbox.state import SandboxState
from tests.conftest import ADMIN, ADMIN_ENV
from tests.rest_helpers import Reply, call

Frame = dict[str, Any]
Predicate = Callable[[Frame], bool]
REALTIME_ENV = {
    **ADMIN_ENV,
    "SANDBOX_BCRYPT_ROUNDS": "4",
    "OVERWRITE_SETTING_API_Enable_Rate_Limiter": "false",
}


def digest(password: str) -> str:
    """The `password.digest` of a DDP password login: SHA-256 hex of the plain password."""
    return hashlib.sha256(password.encode()).hexdigest()


def matches(frame: Frame, **fields: Any) -> bool:
    """Every given top-level field has the given value."""
    return all(frame.get(key) == value for key, value in fields.items())


class DdpClient:
    """One raw websocket to /websocket; frames are kept in arrival order."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse, *, auto_pong: bool = True) -> None:
        self.ws = ws
        self.auto_pong = auto_pong
        self.frames: list[Frame] = []
        self.raw: list[str] = []
        self.session_id: str | None = None
        self.user_id: str | None = None
        self._pending: list[Frame] = []
        self._queue: asyncio.Queue[Frame | None] = asyncio.Queue()
        self._ids = count(1)
        self._reader = asyncio.create_task(self._read())
        self.close_code: int | None = None

    @classmethod
    @asynccontextmanager
    async def open(
        cls, http: aiohttp.ClientSession, base_url: str, *, auto_pong: bool = True, **kwargs: Any
    ) -> AsyncIterator[DdpClient]:
        """A websocket to `<base_url>/websocket`, not yet DDP-connected."""
        url = base_url.replace("http", "ws", 1) + "/websocket"
        async with http.ws_connect(url, autoping=True, **kwargs) as ws:
            client = cls(ws, auto_pong=auto_pong)
            try:
                yield client
            finally:
                client._reader.cancel()

    async def _read(self) -> None:
        while True:
            message = await self.ws.receive()
            if message.type != aiohttp.WSMsgType.TEXT:
                self.close_code = self.ws.close_code
                await self._queue.put(None)
                return
            self.raw.append(message.data)
            frame = json.loads(message.data)
            self.frames.append(frame)
            if self.auto_pong and isinstance(frame, dict) and frame.get("msg") == "ping":
                pong = {"msg": "pong", **({"id": frame["id"]} if "id" in frame else {})}
                await self.ws.send_str(json.dumps(pong))
            await self._queue.put(frame)

    # -- sending ------------------------------------------------------------------------------

    async def send(self, frame: Frame | str) -> None:
        """Send a frame (a dict as JSON, a str as it is)."""
        await self.ws.send_str(frame if isinstance(frame, str) else json.dumps(frame))

    async def connect(self, **extra: Any) -> Frame:
        """DDP connect with version 1; returns the `connected` frame."""
        await self.send(
            {"msg": "connect", "version": "1", "support": ["1", "pre2", "pre1"], **extra}
        )
        frame = await self.expect(msg="connected")
        self.session_id = frame["session"]
        return frame

    # -- receiving ----------------------------------------------------------------------------

    async def next(self, timeout: float = 2.0) -> Frame:
        """The next frame not yet taken, in arrival order."""
        if self._pending:
            return self._pending.pop(0)
        async with asyncio.timeout(timeout):
            frame = await self._queue.get()
        if frame is None:
            await self._queue.put(None)
            raise ConnectionError(f"websocket closed ({self.close_code})")
        return frame

    async def wait_for(self, predicate: Predicate, timeout: float = 2.0) -> Frame:
        """The first frame (pending or new) that satisfies `predicate`; others stay pending."""
        for index, frame in enumerate(self._pending):
            if predicate(frame):
                return self._pending.pop(index)
        skipped: list[Frame] = []
        try:
            async with asyncio.timeout(timeout):
                while True:
                    arrived = await self._queue.get()
                    if arrived is None:
                        await self._queue.put(None)
                        raise ConnectionError(f"websocket closed ({self.close_code})")
                    if predicate(arrived):
                        return arrived
                    skipped.append(arrived)
        finally:
            self._pending.extend(skipped)

    async def expect(self, timeout: float = 2.0, **fields: Any) -> Frame:
        """The first frame whose top-level fields have these values."""
        return await self.wait_for(lambda frame: matches(frame, **fields), timeout)

    async def expect_none(self, predicate: Predicate, within: float = 0.3) -> None:
        """Assert that no frame satisfying `predicate` arrives within `within` seconds."""
        try:
            frame = await self.wait_for(predicate, within)
        except TimeoutError:
            return
        raise AssertionError(f"unexpected frame {frame}")

    async def closed(self, timeout: float = 2.0) -> int | None:
        """Wait until the server closes the socket; its close code."""
        async with asyncio.timeout(timeout):
            while True:
                frame = await self._queue.get()
                if frame is None:
                    await self._queue.put(None)
                    return self.close_code

    def changed(self, collection: str, event_name: str) -> Predicate:
        """A predicate for `changed` frames of a stream event."""
        return lambda frame: (
            frame.get("msg") == "changed"
            and frame.get("collection") == collection
            and frame.get("fields", {}).get("eventName") == event_name
        )

    async def event(
        self,
        collection: str,
        event_name: str,
        where: Callable[[list[Any]], bool] | None = None,
        timeout: float = 2.0,
    ) -> list[Any]:
        """The args of the next `changed` frame for this stream event (matching `where`)."""
        test = self.changed(collection, event_name)
        frame = await self.wait_for(
            lambda f: test(f) and (where is None or where(f["fields"]["args"])), timeout
        )
        return frame["fields"]["args"]

    # -- methods and subscriptions ------------------------------------------------------------

    def new_id(self) -> str:
        return str(next(self._ids))

    async def call(self, method: str, *params: Any, timeout: float = 2.0) -> Frame:
        """Call a method; its `result` frame (after checking its `updated` frame arrived)."""
        method_id = self.new_id()
        await self.send(
            {"msg": "method", "method": method, "params": list(params), "id": method_id}
        )
        result = await self.expect(msg="result", id=method_id, timeout=timeout)
        await self.wait_for(
            lambda f: f.get("msg") == "updated" and method_id in f.get("methods", []), timeout
        )
        return result

    async def login_password(self, username: str, password: str) -> Frame:
        """DDP login with a password digest (what rocketchat-async sends)."""
        frame = await self.call(
            "login",
            {
                "user": {"username": username},
                "password": {"digest": digest(password), "algorithm": "sha-256"},
            },
        )
        if "result" in frame:
            self.user_id = frame["result"]["id"]
        return frame

    async def login_resume(self, token: str) -> Frame:
        """DDP login with a resume token."""
        frame = await self.call("login", {"resume": token})
        if "result" in frame:
            self.user_id = frame["result"]["id"]
        return frame

    async def sub(self, name: str, *params: Any, sub_id: str | None = None) -> Frame:
        """Subscribe; the `ready` or `nosub` frame for it."""
        sub_id = sub_id or f"s{self.new_id()}"
        await self.send({"msg": "sub", "id": sub_id, "name": name, "params": list(params)})
        return await self.wait_for(
            lambda f: (
                (f.get("msg") == "ready" and sub_id in f.get("subs", []))
                or (f.get("msg") == "nosub" and f.get("id") == sub_id)
            )
        )


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
