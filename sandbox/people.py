"""Scripted people for the demo, the tests and the benchmarks.

A `Person` is a Rocket.Chat user driven by a script: it logs in over REST, talks over the
realtime API the way the web client does (DDP `sendMessage`, `createDirectMessage`), and hears
every message of its rooms on `__my_messages__`, re-sent versions (reactions, edits) included.
It works against the sandbox or a real server alike.
"""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import json
import secrets
from collections.abc import Callable
from types import TracebackType
from typing import Any, Protocol, Self

import aiohttp

Predicate = Callable[[dict[str, Any]], bool]


class DdpFailure(Exception):
    """A DDP method answered with an error."""

    def __init__(self, error: dict[str, Any]) -> None:
        super().__init__(error.get("message") or error.get("reason") or str(error))
        self.error = error


class Person:
    """One scripted user: `async with Person(url, "alice", "pw") as alice: await alice.say(...)`."""

    def __init__(self, base_url: str, username: str, password: str) -> None:
        self.base_url = base_url.rstrip("/")
        self.username = username
        self._password = password
        self.user_id = ""
        self.auth_token = ""
        self._http: aiohttp.ClientSession | None = None
        self._socket: aiohttp.ClientWebSocketResponse | None = None
        self._reader: asyncio.Task[None] | None = None
        self._ids = itertools.count(1)
        self._pending: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self._heard: list[dict[str, Any]] = []
        self._news = asyncio.Condition()
        self._direct_rooms: dict[str, str] = {}

    async def __aenter__(self) -> Self:
        self._http = aiohttp.ClientSession()
        reply = await self.rest(
            "POST", "login", json={"user": self.username, "password": self._password}
        )
        self.user_id = reply["data"]["userId"]
        self.auth_token = reply["data"]["authToken"]
        ws_url = self.base_url.replace("http", "ws", 1) + "/websocket"
        self._socket = await self._http.ws_connect(ws_url, max_msg_size=0)
        await self._socket.send_json({"msg": "connect", "version": "1", "support": ["1"]})
        self._reader = asyncio.create_task(self._read())
        await self.call("login", {"resume": self.auth_token})
        await self._subscribe("stream-room-messages", ["__my_messages__", False])
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._reader is not None:
            self._reader.cancel()
        if self._socket is not None:
            await self._socket.close()
        if self._http is not None:
            await self._http.close()

    @property
    def credentials(self) -> dict[str, str]:
        return {"X-User-Id": self.user_id, "X-Auth-Token": self.auth_token}

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
        """Call `/api/v1/<endpoint>` as this person; raise on an unsuccessful answer."""
        assert self._http is not None
        sent = {**(self.credentials if authenticated and self.user_id else {}), **(headers or {})}
        url = f"{self.base_url}/api/v1/{endpoint}"
        async with self._http.request(
            method, url, json=json, params=params, headers=sent
        ) as answer:
            body = await answer.json(content_type=None)
            if answer.status != 200:
                raise RuntimeError(f"{method} {endpoint} → {answer.status} {body}")
            return dict(body)

    async def _read(self) -> None:
        assert self._socket is not None
        async for frame in self._socket:
            if frame.type is not aiohttp.WSMsgType.TEXT:
                break
            data = json.loads(frame.data)
            kind = data.get("msg")
            if kind == "ping":
                await self._socket.send_json(
                    {"msg": "pong", **({"id": data["id"]} if "id" in data else {})}
                )
            elif kind == "result" and data.get("id") in self._pending:
                self._pending.pop(data["id"]).set_result(data)
            elif (
                kind in ("ready", "nosub")
                and data.get("subs", [data.get("id")])[0] in self._pending
            ):
                self._pending.pop(data.get("subs", [data.get("id")])[0]).set_result(data)
            elif kind == "changed" and data.get("collection") == "stream-room-messages":
                async with self._news:
                    self._heard.append(data["fields"]["args"][0])
                    self._news.notify_all()

    async def call(self, method: str, *params: Any) -> Any:
        """Call a DDP method and return its result."""
        assert self._socket is not None
        frame_id = str(next(self._ids))
        done = asyncio.get_running_loop().create_future()
        self._pending[frame_id] = done
        await self._socket.send_json(
            {"msg": "method", "method": method, "id": frame_id, "params": list(params)}
        )
        reply = await asyncio.wait_for(done, timeout=10)
        if "error" in reply:
            raise DdpFailure(reply["error"])
        return reply.get("result")

    async def _subscribe(self, name: str, params: list[Any]) -> None:
        assert self._socket is not None
        sub_id = f"s{next(self._ids)}"
        done = asyncio.get_running_loop().create_future()
        self._pending[sub_id] = done
        await self._socket.send_json({"msg": "sub", "id": sub_id, "name": name, "params": params})
        await asyncio.wait_for(done, timeout=10)

    async def direct_room(self, username: str) -> str:
        """The id of this person's DM with `username`."""
        if username not in self._direct_rooms:
            room = await self.call("createDirectMessage", username)
            self._direct_rooms[username] = room["rid"]
        return self._direct_rooms[username]

    async def say(self, room_id: str, text: str, *, thread_id: str | None = None) -> str:
        """Send `text` to a room, as the web client does; returns the message id."""
        message: dict[str, Any] = {"_id": secrets.token_hex(9), "rid": room_id, "msg": text}
        if thread_id:
            message["tmid"] = thread_id
        while True:
            try:
                await self.call("sendMessage", message)
                return str(message["_id"])
            except DdpFailure as failure:
                # People type slower than scripts: wait out the 5-messages-a-second limit.
                if failure.error.get("error") != "too-many-requests":
                    raise
                wait_ms = (failure.error.get("details") or {}).get("timeToReset", 1000)
                await asyncio.sleep(wait_ms / 1000)

    async def tell(self, username: str, text: str) -> str:
        """Send `text` in the DM with `username`; returns the message id."""
        return await self.say(await self.direct_room(username), text)

    async def hear(
        self, predicate: Predicate, *, timeout: float = 5.0, after: int = 0
    ) -> dict[str, Any]:
        """The first message heard (from index `after` on) that matches `predicate`."""

        def found() -> dict[str, Any] | None:
            return next((m for m in self._heard[after:] if predicate(m)), None)

        async with self._news:
            await asyncio.wait_for(self._news.wait_for(lambda: found() is not None), timeout)
            result = found()
            assert result is not None
            return result

    @property
    def heard_count(self) -> int:
        """How many message frames this person has heard so far (a mark for `hear(after=)`)."""
        return len(self._heard)

    def heard(self) -> list[dict[str, Any]]:
        return list(self._heard)

    async def ask(self, bot_username: str, text: str, *, timeout: float = 5.0) -> dict[str, Any]:
        """Say `text` in the DM with `bot_username` and return the bot's next message there."""
        room_id = await self.direct_room(bot_username)
        mark = self.heard_count
        await self.say(room_id, text)
        return await self.hear(
            lambda m: m["rid"] == room_id and m["u"]["username"] == bot_username,
            after=mark,
            timeout=timeout,
        )

    async def create_personal_access_token(
        self, name: str, *, bypass_two_factor: bool = False
    ) -> str:
        """Create a personal access token, as in My Account → Personal Access Tokens.

        Rocket.Chat asks for a second factor here; with no TOTP or email 2FA set up, the
        fallback is the current password as its SHA-256 hex.
        """
        reply = await self.rest(
            "POST",
            "users.generatePersonalAccessToken",
            json={"tokenName": name, "bypassTwoFactor": bypass_two_factor},
            headers={"X-2fa-Code": sha256_hex(self._password), "X-2fa-Method": "password"},
        )
        return str(reply["token"])

    async def me(self) -> dict[str, Any]:
        """This person as `GET me` shows them (with `_updatedAt`)."""
        return await self.rest("GET", "me")

    async def profile(self) -> dict[str, Any]:
        """This person's own user document, as `users.info` shows it."""
        reply = await self.rest("GET", "users.info", params={"userId": self.user_id})
        return dict(reply["user"])


class AdminClient(Protocol):
    """Anything that calls the REST API as an admin (a Person, a test's own client)."""

    async def rest(self, method: str, endpoint: str, *, json: Any = None) -> dict[str, Any]: ...


async def create_account(
    admin: AdminClient,
    username: str,
    password: str,
    *,
    name: str | None = None,
    email: str | None = None,
    roles: list[str] | None = None,
    verified: bool | None = None,
) -> dict[str, Any]:
    """`users.create` as an admin does it; e-mail and name default from the username."""
    body: dict[str, Any] = {
        "username": username,
        "email": email or f"{username}@example.com",
        "password": password,
        "name": name if name is not None else username.title(),
    }
    if roles is not None:
        body["roles"] = roles
    if verified is not None:
        body["verified"] = verified
    return await admin.rest("POST", "users.create", json=body)


def sha256_hex(text: str) -> str:
    """The hex SHA-256 digest that Rocket.Chat's password 2FA method expects."""
    return hashlib.sha256(text.encode()).hexdigest()
