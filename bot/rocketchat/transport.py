"""The bot's realtime link to Rocket.Chat: the only module that imports `rocketchat_async`.

`rocketchat-async` is deprecated upstream and has rough edges, all handled here:
- callbacks are plain functions, one per stream name: they only put frames on a queue, and one
  task turns them into `IncomingMessage`s for the async handler, in order;
- `__my_messages__` carries every message of every room the bot can read, so new rooms and DMs
  need no new subscription; frames from rooms the bot has not joined are dropped;
- its method calls do not check for errors, and it cannot call methods it does not wrap: calls
  go through its dispatcher with our own frames, and errors become `ServerError`s;
- it has no reconnect: `run()` raises ConnectionLost when the socket closes and the caller
  connects again; `connect()` logs in with the resume token of the last login (the password is
  the fallback), and bot.rocketchat.rooms lists the rooms and reads what the caller missed;
- its login drops the resume token, so the bot logs in with its own `login` frames.

Calls that are safe to repeat (`retry=True`: sendMessage with the bot's own `_id`, which the
server never saves twice, setReaction on, createDirectMessage) wait for the connection to come
back and for DDP rate limits (`timeToReset`) to pass, within `retry_wait` seconds, and go again.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import secrets
import time
from collections.abc import Awaitable, Callable
from typing import Any, Final
from urllib.parse import urlsplit, urlunsplit

from rocketchat_async import RocketChat
from rocketchat_async.methods import RealtimeRequest
from websockets.client import connect as open_websocket
from websockets.exceptions import ConnectionClosed, WebSocketException

from bot.core.errors import AuthError, RateLimited, ServerError
from bot.core.message import ID_ALPHABET, IncomingMessage
from bot.rocketchat.frames import parse_message, server_time
from bot.rocketchat.rooms import RealtimeRooms
from bot.rocketchat.user_status import (
    NOTIFY_LOGGED,
    USER_STATUS,
    StatusListener,
    parse_user_status,
)

log = logging.getLogger(__name__)

# The handler gets each message with the server's time of it (epoch ms, None if absent).
MessageHandler = Callable[[IncomingMessage, float | None], Awaitable[None]]
ROOM_MESSAGES = "stream-room-messages"
NOTIFY_USER = "stream-notify-user"
CALL_TIMEOUT_SECONDS = 30.0
OPEN_TIMEOUT_SECONDS = 15.0
# Meteor's DDPRateLimiter says too-many-requests; Rocket.Chat's own limits error-too-many-….
RATE_LIMIT_ERRORS: Final = frozenset({"too-many-requests", "error-too-many-requests"})
# The largest frame the bot reads. websockets' default (1 MiB) closed the socket on a message
# an admin's Message_MaxAllowedSize allows, and on every re-sent frame of it (a reaction), so
# the bot reconnected again and again and never told the sender. Rocket.Chat bounds what a
# person may send; this only has to stay above that. A bigger frame still closes the socket
# (1009), and the catch-up then reads that room over REST (bot.rocketchat.catchup).
FRAME_LIMIT: Final = 64 * 2**20


class ConnectionLost(Exception):
    """The websocket closed or could not be opened; connect again."""


class FrameTooBig(ConnectionLost):
    """The server sent a frame over FRAME_LIMIT, so the socket closed (1009): a message that big
    can never come over the websocket, so history with it must be read another way."""


def _lost(exc: BaseException) -> ConnectionLost:
    sent = getattr(exc, "sent", None)
    if getattr(sent, "code", None) == 1009:
        return FrameTooBig(str(exc))
    return ConnectionLost(str(exc) or type(exc).__name__)


def websocket_url(server_url: str) -> str:
    """`https://chat.example.com/` → `wss://chat.example.com/websocket`."""
    parts = urlsplit(server_url)
    scheme = {"https": "wss", "http": "ws"}.get(parts.scheme, parts.scheme)
    path = parts.path.rstrip("/") + "/websocket"
    return urlunsplit((scheme, parts.netloc, path, "", ""))


def new_message_id() -> str:
    """A Meteor-style id (17 characters) for a message the bot sends: the server saves a message
    with a given `_id` only once, so sending it again after a lost answer is safe."""
    return "".join(secrets.choice(ID_ALPHABET) for _ in range(17))


class RealtimeConnection:
    """One logged-in DDP connection of the bot, delivering each room message to `handler`.

    The same object connects again after a drop; `retry_wait` bounds how long a call that is
    safe to repeat waits for the connection or a rate limit before it gives up.
    """

    def __init__(
        self, server_url: str, handler: MessageHandler, *, retry_wait: float = 120.0
    ) -> None:
        self._url = websocket_url(server_url)
        self._handler = handler
        self.retry_wait = retry_wait
        self._client = RocketChat()
        self._frames: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue()
        self._direct_rooms: dict[str, str] = {}
        self._ready = asyncio.Event()
        self.user_id: str = ""
        self.username: str = ""
        self._resume_token: str | None = None
        # Set before connecting to hear `user-status` events (bot.rocketchat.user_status).
        self.status_listener: StatusListener | None = None
        self._connections = 0
        self.rooms = RealtimeRooms(self.call)

    def __repr__(self) -> str:
        return f"RealtimeConnection({self._url!r}, user={self.username!r})"

    @property
    def resume_token(self) -> str | None:
        """The login token of the last successful login, to log in again without the password."""
        return self._resume_token

    @property
    def is_ready(self) -> bool:
        """True while logged in and subscribed."""
        return self._ready.is_set()

    async def connect(
        self,
        *,
        username: str,
        password: str | None = None,
        resume_token: str | None = None,
    ) -> None:
        """Open the socket, log in (resume token first, then the password) and subscribe.

        Each call starts a fresh client, so the same object can connect again after a drop.
        ConnectionLost when the server cannot be reached; AuthError when it refuses the login.
        """
        await self.close()
        self._client = RocketChat()
        self._frames = asyncio.Queue()
        try:
            await self._open()
            result = await self._login(username, password, resume_token)
            self.user_id = str(result["id"])
            self._client.user_id = self.user_id
            self._client.username = username
            self.username = username
            token = result.get("token")
            self._resume_token = str(token) if token else resume_token
            await self._subscribe(
                ROOM_MESSAGES, ["__my_messages__", {"useCollection": False, "args": []}]
            )
            if self.status_listener is not None:
                await self._subscribe(
                    NOTIFY_LOGGED, [USER_STATUS, {"useCollection": False, "args": []}]
                )
                # The server takes a session's frames in order: once a call sent after the
                # subscription is answered, the subscription is in place.
                # (Rooms changed from now on: an empty answer.)
                await self._call_once("rooms/get", {"$date": int(time.time() * 1000)})
        except (OSError, ConnectionClosed, WebSocketException) as exc:
            await self.close()
            raise ConnectionLost(f"cannot reach {self._url}: {type(exc).__name__}") from None
        except BaseException:
            await self.close()
            raise
        self._ready.set()
        if self.status_listener is not None:
            self._connections += 1
            self.status_listener.watching(self._connections)

    async def _open(self) -> None:
        """The socket and DDP `connect`, as rocketchat-async's start() does before its login."""
        opened: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._client._ws_connection_task = asyncio.create_task(self._serve_socket(opened))
        try:
            await asyncio.wait_for(opened, OPEN_TIMEOUT_SECONDS)
        except TimeoutError:
            raise ConnectionLost(f"no answer from {self._url}") from None
        await self._client._connect()

    async def _serve_socket(self, opened: asyncio.Future[bool]) -> None:
        """rocketchat-async's `_start` (open the socket, run its dispatcher on it), with the
        bot's FRAME_LIMIT instead of websockets' default 1 MiB, and without permessage-deflate:
        compressing every reply and inflating every frame was 7 % of the bot's CPU under load
        (bench/RESULTS.md), for DDP frames of a few hundred bytes."""
        try:
            async with open_websocket(
                self._url, max_size=FRAME_LIMIT, compression=None
            ) as websocket:
                self._client.dispatch_task = self._client._dispatcher.run(websocket)
                opened.set_result(True)
                await self._client.dispatch_task
        except Exception as exc:  # noqa: BLE001 - as rocketchat-async: run() sees the close
            if not opened.done():
                opened.set_exception(exc)

    async def _login(
        self, username: str, password: str | None, resume_token: str | None
    ) -> dict[str, Any]:
        if resume_token is not None:
            try:
                return await self._login_with({"resume": resume_token})
            except AuthError:
                if password is None:
                    raise
                log.info("the server refused the resume token; logging in with the password")
        digest = hashlib.sha256((password or "").encode("utf-8")).hexdigest()
        hashed = {"digest": digest, "algorithm": "sha-256"}
        return await self._login_with({"user": {"username": username}, "password": hashed})

    async def _login_with(self, params: dict[str, Any]) -> dict[str, Any]:
        try:
            result = await self._call_once("login", params)
        except RateLimited:
            raise
        except ServerError as exc:
            # The error's text is the server's reason ("User not found", "You've been logged
            # out by the server..."): never the password or the token.
            raise AuthError(
                f"Rocket.Chat refused the bot's login ({exc})", status=401, endpoint="login"
            ) from None
        if not isinstance(result, dict) or not result.get("id"):
            raise AuthError(
                "Rocket.Chat answered the bot's login without a user id",
                status=401,
                endpoint="login",
            )
        return result

    async def _subscribe(self, stream: str, params: list[Any]) -> None:
        frame = {
            "msg": "sub",
            "id": RealtimeRequest._get_new_id(),
            "name": stream,
            "params": params,
        }
        await self._client._dispatcher.create_subscription(
            frame, frame["id"], self._frames.put_nowait
        )

    async def run(self) -> None:
        """Deliver messages until the socket closes; then raise ConnectionLost."""
        frames = self._frames
        pump = asyncio.create_task(self._pump(frames))
        try:
            await self._client.run_forever()
        except (ConnectionClosed, OSError) as exc:
            raise _lost(exc) from None
        except RocketChat.ConnectionClosed as exc:
            raise _lost(exc.args[0] if exc.args else exc) from None
        except AttributeError:
            raise ConnectionLost("not connected") from None  # no dispatch task: never opened
        finally:
            self._ready.clear()
            if self.status_listener is not None:
                self.status_listener.watching(None)
            frames.put_nowait(None)
            await pump
        raise ConnectionLost("the server closed the connection")

    async def _pump(self, frames: asyncio.Queue[dict[str, Any] | None]) -> None:
        while (frame := await frames.get()) is not None:
            collection = frame.get("collection")
            if collection == NOTIFY_LOGGED:
                self._status_event(frame.get("fields") or {})
                continue
            if collection != ROOM_MESSAGES:
                continue
            fields = frame.get("fields") or {}
            parsed = parse_message(fields)
            if parsed is None:
                continue
            message, joined = parsed
            if not joined:
                continue  # a public channel the bot can read but has not joined
            raw = fields["args"][0]
            # An edit happens when it is made, not when the message was first sent.
            moment = raw.get("editedAt") if message.edited else raw.get("ts")
            try:
                await self._handler(message, server_time(moment))
            except Exception:  # the handler owns its errors; never let one stop the stream
                log.exception("message handler failed for message %s", message.id)

    def _status_event(self, fields: dict[str, Any]) -> None:
        event = parse_user_status(fields)
        if event is not None and self.status_listener is not None:
            try:
                self.status_listener.status_changed(event)
            except Exception:  # the listener owns its errors; never let one stop the stream
                log.exception("user-status listener failed")

    async def call(self, method: str, *params: Any, retry: bool = False) -> Any:
        """Call a DDP method and return its result, raising ServerError on an error frame.

        With `retry` (only for calls that are safe to repeat) a lost connection is waited for
        and a DDP rate limit waited out, both within `retry_wait` seconds, and the call sent
        again; RateLimited or ConnectionLost when that time is up.
        """
        if not retry:
            return await self._call_once(method, *params)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.retry_wait
        while True:
            try:
                return await self._call_once(method, *params)
            except RateLimited as limited:
                if loop.time() + limited.retry_after > deadline:
                    raise
                log.warning(
                    "%s was rate limited; trying again in %.1f s", method, limited.retry_after
                )
                await asyncio.sleep(limited.retry_after)
            except ConnectionLost as lost:
                remaining = deadline - loop.time()
                if remaining <= 0:
                    raise
                log.info("%s waits for the realtime connection (%s)", method, lost)
                try:
                    await asyncio.wait_for(self._ready.wait(), remaining)
                except TimeoutError:
                    raise ConnectionLost(
                        f"{method}: no connection for {self.retry_wait:g} s"
                    ) from None

    async def _call_once(self, method: str, *params: Any) -> Any:
        dispatcher = self._client._dispatcher
        if dispatcher._websocket is None:
            self._ready.clear()
            raise ConnectionLost("not connected")
        frame_id = RealtimeRequest._get_new_id()
        frame = {"msg": "method", "method": method, "id": frame_id, "params": list(params)}
        try:
            # asyncio.timeout, not wait_for: on 3.11 wait_for wraps each call in a task of its own.
            async with asyncio.timeout(CALL_TIMEOUT_SECONDS):
                reply = await dispatcher.call_method(frame, frame_id)
        except TimeoutError:
            dispatcher._futures.pop(frame_id, None)
            raise ConnectionLost(f"no answer to {method} in {CALL_TIMEOUT_SECONDS:g} s") from None
        except (ConnectionClosed, OSError) as exc:
            self._ready.clear()  # the reader notices too, but a waiting retry must not spin
            raise _lost(exc) from None
        error = reply.get("error")
        if error:
            error_type = str(error.get("error", "error"))
            text = str(error.get("reason") or error.get("message") or error_type)
            if error_type in RATE_LIMIT_ERRORS:
                details = error.get("details") or {}
                wait_ms = float(details.get("timeToReset", 1000))
                raise RateLimited(
                    text,
                    retry_after=wait_ms / 1000,
                    status=429,
                    error_type=error_type,
                    endpoint=method,
                )
            raise ServerError(
                text,
                status=400,
                error_type=error_type,
                details=error.get("details"),
                endpoint=method,
            )
        return reply.get("result")

    async def send_message(
        self,
        room_id: str,
        text: str,
        *,
        thread_id: str | None = None,
        message_id: str | None = None,
    ) -> None:
        """Post `text` to a room (in a thread when `thread_id` is given), exactly once; with a
        `message_id` (see `reply_id`), once even if sent again later."""
        message: dict[str, Any] = {
            "_id": message_id or new_message_id(),
            "rid": room_id,
            "msg": text,
        }
        if thread_id:
            message["tmid"] = thread_id
        await self.call("sendMessage", message, retry=True)

    async def react(self, message_id: str, emoji: str) -> None:
        """Add the bot's reaction to a message."""
        await self.call("setReaction", emoji, message_id, True, retry=True)

    async def direct_room(self, username: str) -> str:
        """The id of the bot's DM with `username`, created on first use."""
        if username not in self._direct_rooms:
            room = await self.call("createDirectMessage", username, retry=True)
            self._direct_rooms[username] = str(room["rid"])
        return self._direct_rooms[username]

    async def close(self) -> None:
        """Close the socket (idempotent)."""
        self._ready.clear()
        if self.status_listener is not None:
            self.status_listener.watching(None)
        task = getattr(self._client, "_ws_connection_task", None)
        websocket = getattr(self._client._dispatcher, "_websocket", None)
        if websocket is not None:
            with contextlib.suppress(ConnectionClosed, OSError):
                await websocket.close()
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, ConnectionClosed, OSError):
                await task
