"""A lean chat user for the load generator: REST for setup, DDP for talking, one room stream.

It logs in over REST, opens the realtime API, sends with DDP `sendMessage` as the web client
does, and listens to `stream-room-messages` of the rooms it opens (as the web client does for an
open room) rather than to `__my_messages__`. That matters for the benchmark: the sandbox offers
every message to every `__my_messages__` session and checks each one with a linear scan of all
subscriptions (`SandboxState.subscription`), so 200 such sessions make the server, not the bot,
the bottleneck. Answers are time-stamped when their frame arrives, before any waiting task
runs, so the load generator's own scheduling adds as little as possible to the latencies.
`sandbox/people.py` (`Person`) is the full-featured version used by the tests and the demo.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import secrets
import time
from types import TracebackType
from typing import Any, Self

import aiohttp

from sandbox.people import sha256_hex


class DdpError(Exception):
    """A DDP method answered with an error."""


class ChatUser:
    """One benchmark user: `async with ChatUser(http, url, name, pw) as user: ...`."""

    def __init__(
        self, http: aiohttp.ClientSession, base_url: str, username: str, password: str
    ) -> None:
        self._http = http
        self.base_url = base_url.rstrip("/")
        self.username = username
        self._password = password
        self.user_id = ""
        self._auth_token = ""
        self._socket: aiohttp.ClientWebSocketResponse | None = None
        self._reader: asyncio.Task[None] | None = None
        self._ids = itertools.count(1)
        self._pending: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self._heard: dict[str, asyncio.Queue[tuple[float, dict[str, Any]]]] = {}
        self._seen: set[str] = set()
        self._direct_rooms: dict[str, str] = {}

    async def __aenter__(self) -> Self:
        reply = await self.rest(
            "POST", "login", json={"user": self.username, "password": self._password}
        )
        self.user_id = reply["data"]["userId"]
        self._auth_token = reply["data"]["authToken"]
        ws_url = self.base_url.replace("http", "ws", 1) + "/websocket"
        self._socket = await self._http.ws_connect(ws_url, max_msg_size=0)
        await self._socket.send_str(
            json.dumps({"msg": "connect", "version": "1", "support": ["1"]})
        )
        self._reader = asyncio.create_task(self._read())
        await self.call("login", {"resume": self._auth_token})
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

    async def _read(self) -> None:
        assert self._socket is not None
        async for frame in self._socket:
            arrived = time.perf_counter()
            if frame.type is not aiohttp.WSMsgType.TEXT:
                break
            data = json.loads(frame.data)
            kind = data.get("msg")
            if kind == "changed" and data.get("collection") == "stream-room-messages":
                self._hear(arrived, data["fields"]["args"][0])
            elif kind == "result" or kind in ("ready", "nosub"):
                key = (
                    data.get("id")
                    if kind == "result"
                    else (data.get("subs") or [data.get("id")])[0]
                )
                future = self._pending.pop(str(key), None)
                if future is not None and not future.done():
                    future.set_result(data)
            elif kind == "ping":
                pong = {"msg": "pong", **({"id": data["id"]} if "id" in data else {})}
                await self._socket.send_str(json.dumps(pong))

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

    async def _request(self, frame: dict[str, Any], key: str) -> dict[str, Any]:
        assert self._socket is not None
        done: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._pending[key] = done
        await self._socket.send_str(json.dumps(frame))
        return await asyncio.wait_for(done, timeout=30)

    async def call(self, method: str, *params: Any) -> Any:
        """Call a DDP method and return its result."""
        frame_id = str(next(self._ids))
        frame = {"msg": "method", "method": method, "id": frame_id, "params": list(params)}
        reply = await self._request(frame, frame_id)
        if "error" in reply:
            raise DdpError(str(reply["error"]))
        return reply.get("result")

    async def direct_room(self, username: str) -> str:
        """Open the DM with `username` and listen to its room stream; returns the room id."""
        if username not in self._direct_rooms:
            room_id = str((await self.call("createDirectMessage", username))["rid"])
            self._heard[room_id] = asyncio.Queue()
            sub_id = f"s{next(self._ids)}"
            frame = {
                "msg": "sub",
                "id": sub_id,
                "name": "stream-room-messages",
                "params": [room_id, False],
            }
            reply = await self._request(frame, sub_id)
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
