"""A lean chat user for the load generator: REST for setup, DDP for talking, one room stream.

It logs in over REST, opens the realtime API, sends with DDP `sendMessage` as the web client
does, and listens to `stream-room-messages` of the rooms it opens (as the web client does for an
open room) rather than to `__my_messages__`. That matters for the benchmark: the sandbox offers
every message to every `__my_messages__` session and checks each one with a linear scan of all
subscriptions (`SandboxState.subscription`), so 200 such sessions make the server, not the bot,
the bottleneck. Answers are time-stamped when their frame arrives, before any waiting task
runs, so the load generator's own scheduling adds as little as possible to the latencies.
Both it and `sandbox/people.py` (`Person`, the full-featured version used by the tests and the
demo) are `sandbox.ddp_client.DdpClient`s: the frame reading, ids, pong and waiting are shared.
"""

from __future__ import annotations

import asyncio
import secrets
from types import TracebackType
from typing import Any, Self

import aiohttp

from sandbox.ddp_client import DdpClient
from sandbox.digests import sha256_hex

ROOM_MESSAGES = "stream-room-messages"


class DdpError(Exception):
    """A DDP method answered with an error."""


class ChatUser(DdpClient):
    """One benchmark user: `async with ChatUser(http, url, name, pw) as user: ...`."""

    def __init__(
        self, http: aiohttp.ClientSession, base_url: str, username: str, password: str
    ) -> None:
        super().__init__(timeout=30.0)
        self._http = http
        self.base_url = base_url.rstrip("/")
        self.username = username
        self._password = password
        self.user_id = ""
        self._auth_token = ""
        self._heard: dict[str, asyncio.Queue[tuple[float, dict[str, Any]]]] = {}
        self._seen: set[str] = set()
        self._direct_rooms: dict[str, str] = {}

    async def __aenter__(self) -> Self:
        reply = await self.rest(
            "POST", "login", json={"user": self.username, "password": self._password}
        )
        self.user_id = reply["data"]["userId"]
        self._auth_token = reply["data"]["authToken"]
        await self.open_socket(self._http, self.base_url, max_msg_size=0)
        await self.handshake()
        await self.call("login", {"resume": self._auth_token})
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def rest(
        self,
        method: str,
        endpoint: str,
        *,
        json: Any = None,
        params: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        """Call `/api/v1/<endpoint>` as this user; raise on an unsuccessful answer."""
        auth = (
            {"X-User-Id": self.user_id, "X-Auth-Token": self._auth_token} if self.user_id else {}
        )
        async with self._http.request(
            method,
            f"{self.base_url}/api/v1/{endpoint}",
            json=json,
            params=params,
            headers={**auth, **(headers or {})},
        ) as answer:
            body = await answer.json(content_type=None)
            if answer.status != 200:
                raise RuntimeError(f"{method} {endpoint} → {answer.status} {body}")
            return dict(body)

    async def create_personal_access_token(self, name: str) -> str:
        """A personal access token (the password is the second factor, as in My Account)."""
        reply = await self.rest(
            "POST",
            "users.generatePersonalAccessToken",
            json={"tokenName": name, "bypassTwoFactor": False},
            headers={"X-2fa-Code": sha256_hex(self._password), "X-2fa-Method": "password"},
        )
        return str(reply["token"])

    def on_frame(self, frame: Any, raw: str, arrived: float) -> None:
        """A room message is queued with the moment its frame arrived, before anything else."""
        if (
            isinstance(frame, dict)
            and frame.get("msg") == "changed"
            and frame.get("collection") == ROOM_MESSAGES
        ):
            self._hear(arrived, frame["fields"]["args"][0])

    def _hear(self, arrived: float, message: dict[str, Any]) -> None:
        """Queue a new message from someone else; re-sent or edited versions are dropped."""
        if (message.get("u") or {}).get("_id") == self.user_id or message.get("t"):
            return
        if "editedAt" in message or message.get("reactions") or message["_id"] in self._seen:
            return
        self._seen.add(message["_id"])
        queue = self._heard.get(message["rid"])
        if queue is not None:
            queue.put_nowait((arrived, message))

    async def call(self, method: str, *params: Any, timeout: float | None = None) -> Any:
        """Call a DDP method and return its result."""
        reply = await self.call_frame(method, *params, timeout=timeout)
        if "error" in reply:
            raise DdpError(str(reply["error"]))
        return reply.get("result")

    async def direct_room(self, username: str) -> str:
        """Open the DM with `username` and listen to its room stream; returns the room id."""
        if username not in self._direct_rooms:
            room_id = str((await self.call("createDirectMessage", username))["rid"])
            self._heard[room_id] = asyncio.Queue()
            reply = await self.subscribe_frame(ROOM_MESSAGES, room_id, False)
            if reply.get("msg") != "ready":
                raise DdpError(f"cannot listen to room {room_id}: {reply}")
            self._direct_rooms[username] = room_id
        return self._direct_rooms[username]

    def forget_heard(self, room_id: str) -> int:
        """Drop what was heard in a room and not yet taken; returns how many messages."""
        queue = self._heard[room_id]
        dropped = queue.qsize()
        while not queue.empty():
            queue.get_nowait()
        return dropped

    async def say(self, room_id: str, text: str) -> None:
        """Send `text` to a room with DDP sendMessage."""
        await self.call("sendMessage", {"_id": secrets.token_hex(9), "rid": room_id, "msg": text})

    async def next_message(self, room_id: str, timeout: float) -> tuple[float, dict[str, Any]]:
        """The next message someone else sent in a room: (perf_counter at arrival, message)."""
        return await asyncio.wait_for(self._heard[room_id].get(), timeout)
