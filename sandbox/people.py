"""Scripted people for the demo, the tests and the benchmarks.

A `Person` is a Rocket.Chat user driven by a script: it logs in over REST, talks over the
realtime API the way the web client does (DDP `sendMessage`, `createDirectMessage`), and hears
every message of its rooms on `__my_messages__`, re-sent versions (reactions, edits) included.
It is a `sandbox.ddp_client.DdpClient` with a REST session, and works against the sandbox or a
real server alike.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Callable
from types import TracebackType
from typing import Any, Protocol, Self

import aiohttp

from sandbox.ddp_client import DdpClient, DdpFailure, Frame
from sandbox.digests import sha256_hex

Predicate = Callable[[dict[str, Any]], bool]
ROOM_MESSAGES = "stream-room-messages"


class Person(DdpClient):
    """One scripted user: `async with Person(url, "alice", "pw") as alice: await alice.say(...)`."""

    def __init__(self, base_url: str, username: str, password: str) -> None:
        super().__init__(timeout=10.0)
        self.base_url = base_url.rstrip("/")
        self.username = username
        self._password = password
        self.user_id = ""
        self.auth_token = ""
        self._http: aiohttp.ClientSession | None = None
        self._heard: list[dict[str, Any]] = []
        self._direct_rooms: dict[str, str] = {}

    async def __aenter__(self) -> Self:
        self._http = aiohttp.ClientSession()
        reply = await self.rest(
            "POST", "login", json={"user": self.username, "password": self._password}
        )
        self.user_id = reply["data"]["userId"]
        self.auth_token = reply["data"]["authToken"]
        await self.open_socket(self._http, self.base_url, max_msg_size=0)
        await self.handshake()
        await self.call("login", {"resume": self.auth_token})
        await self.subscribe_frame(ROOM_MESSAGES, "__my_messages__", False)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()
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

    def on_frame(self, frame: Any, raw: str, arrived: float) -> None:
        """Keep every message heard on stream-room-messages, re-sent versions included."""
        if _is_room_message(frame):
            self._heard.append(frame["fields"]["args"][0])

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
        heard = next((m for m in self._heard[after:] if predicate(m)), None)
        if heard is not None:
            return heard
        frame = await self.wait_for(
            lambda f: _is_room_message(f) and predicate(f["fields"]["args"][0]), timeout
        )
        message: dict[str, Any] = frame["fields"]["args"][0]  # the very one kept in `heard()`
        return message

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


def _is_room_message(frame: Frame) -> bool:
    return (
        isinstance(frame, dict)
        and frame.get("msg") == "changed"
        and frame.get("collection") == ROOM_MESSAGES
    )
