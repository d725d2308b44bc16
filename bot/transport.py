"""The bot's realtime link to Rocket.Chat: the only module that imports `rocketchat_async`.

`rocketchat-async` is deprecated upstream and has rough edges, all handled here:
- callbacks are plain functions, one per stream name: they only put frames on a queue, and one
  task turns them into `IncomingMessage`s for the async handler, in order;
- `__my_messages__` carries every message of every room the bot can read, so new rooms and DMs
  need no new subscription; frames from rooms the bot has not joined are dropped;
- its method calls do not check for errors, and it cannot call methods it does not wrap: calls
  go through its dispatcher with our own frames, and errors become `ServerError`s;
- it has no reconnect: `run()` returns when the socket closes and the caller connects again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from rocketchat_async import RocketChat
from rocketchat_async.methods import RealtimeRequest
from websockets.exceptions import ConnectionClosed

from bot.errors import AuthError, RateLimited, ServerError
from bot.message import IncomingMessage, RoomType

log = logging.getLogger(__name__)

MessageHandler = Callable[[IncomingMessage], Awaitable[None]]
ROOM_MESSAGES = "stream-room-messages"
NOTIFY_USER = "stream-notify-user"
CALL_TIMEOUT_SECONDS = 30.0


class ConnectionLost(Exception):
    """The websocket closed or could not be opened; connect again."""


def websocket_url(server_url: str) -> str:
    """`https://chat.example.com/` → `wss://chat.example.com/websocket`."""
    parts = urlsplit(server_url)
    scheme = {"https": "wss", "http": "ws"}.get(parts.scheme, parts.scheme)
    path = parts.path.rstrip("/") + "/websocket"
    return urlunsplit((scheme, parts.netloc, path, "", ""))


def parse_message(fields: dict[str, Any]) -> tuple[IncomingMessage, bool] | None:
    """A `stream-room-messages` event → (message, whether the bot is a member of the room).

    Returns None for frames that are not chat messages (malformed or incomplete ones).
    """
    args = fields.get("args") or []
    if not args or not isinstance(args[0], dict):
        return None
    raw = args[0]
    extra = args[1] if len(args) > 1 and isinstance(args[1], dict) else {}
    sender = raw.get("u") or {}
    try:
        room_type = RoomType(extra.get("roomType") or "c")
    except ValueError:
        room_type = RoomType.CHANNEL
    if not raw.get("_id") or not raw.get("rid") or not sender.get("_id"):
        return None
    message = IncomingMessage(
        id=str(raw["_id"]),
        room_id=str(raw["rid"]),
        room_type=room_type,
        text=str(raw.get("msg") or ""),
        sender_id=str(sender["_id"]),
        sender_username=str(sender.get("username") or ""),
        thread_id=raw.get("tmid"),
        room_name=extra.get("roomName"),
        system_type=raw.get("t"),
        edited="editedAt" in raw,
    )
    return message, bool(extra.get("roomParticipant", True))


class RealtimeConnection:
    """One logged-in DDP connection of the bot, delivering each room message to `handler`."""

    def __init__(self, server_url: str, handler: MessageHandler) -> None:
        self._url = websocket_url(server_url)
        self._handler = handler
        self._client = RocketChat()
        self._frames: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue()
        self._direct_rooms: dict[str, str] = {}
        self.user_id: str = ""
        self.username: str = ""

    async def connect(
        self,
        *,
        username: str,
        password: str | None = None,
        resume_token: str | None = None,
    ) -> None:
        """Open the socket, log in (password digest, or resume token) and subscribe.

        Each call starts a fresh client, so the same object can connect again after a drop.
        """
        self._client = RocketChat()
        self._frames = asyncio.Queue()
        try:
            if resume_token is not None:
                await self._client.resume(self._url, username, resume_token)
            else:
                await self._client.start(self._url, username, password or "")
        except (RocketChat.ConnectCallFailed, OSError, ConnectionClosed) as exc:
            raise ConnectionLost(f"cannot reach {self._url}: {exc}") from None
        except (RuntimeError, KeyError, TypeError) as exc:
            # Login raises RuntimeError(reason); Resume fails on the missing `result` key.
            await self.close()
            raise AuthError(
                f"Rocket.Chat refused the bot's login ({exc})", status=401, endpoint="login"
            ) from None
        self.user_id = str(self._client.user_id)
        self.username = username
        await self._subscribe(
            ROOM_MESSAGES, ["__my_messages__", {"useCollection": False, "args": []}]
        )

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
        pump = asyncio.create_task(self._pump())
        try:
            await self._client.run_forever()
        except (RocketChat.ConnectionClosed, ConnectionClosed, OSError) as exc:
            raise ConnectionLost(str(exc)) from None
        finally:
            self._frames.put_nowait(None)
            await pump
        raise ConnectionLost("the server closed the connection")

    async def _pump(self) -> None:
        while (frame := await self._frames.get()) is not None:
            if frame.get("collection") != ROOM_MESSAGES:
                continue
            parsed = parse_message(frame.get("fields") or {})
            if parsed is None:
                continue
            message, joined = parsed
            if not joined:
                continue  # a public channel the bot can read but has not joined
            try:
                await self._handler(message)
            except Exception:  # the handler owns its errors; never let one stop the stream
                log.exception("message handler failed for message %s", message.id)

    async def call(self, method: str, *params: Any) -> Any:
        """Call a DDP method and return its result, raising ServerError on an error frame."""
        frame_id = RealtimeRequest._get_new_id()
        frame = {"msg": "method", "method": method, "id": frame_id, "params": list(params)}
        try:
            reply = await asyncio.wait_for(
                self._client._dispatcher.call_method(frame, frame_id), CALL_TIMEOUT_SECONDS
            )
        except TimeoutError:
            raise ConnectionLost(f"no answer to {method} within {CALL_TIMEOUT_SECONDS} s") from None
        except (ConnectionClosed, OSError) as exc:
            raise ConnectionLost(str(exc)) from None
        error = reply.get("error")
        if error:
            error_type = str(error.get("error", "error"))
            text = str(error.get("reason") or error.get("message") or error_type)
            if error_type == "error-too-many-requests":
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

    async def send_message(self, room_id: str, text: str, *, thread_id: str | None = None) -> None:
        """Post `text` to a room (in a thread when `thread_id` is given)."""
        message: dict[str, Any] = {"rid": room_id, "msg": text}
        if thread_id:
            message["tmid"] = thread_id
        await self.call("sendMessage", message)

    async def react(self, message_id: str, emoji: str) -> None:
        """Add the bot's reaction to a message."""
        await self.call("setReaction", emoji, message_id, True)

    async def direct_room(self, username: str) -> str:
        """The id of the bot's DM with `username`, created on first use."""
        if username not in self._direct_rooms:
            room = await self.call("createDirectMessage", username)
            self._direct_rooms[username] = str(room["rid"])
        return self._direct_rooms[username]

    async def close(self) -> None:
        """Close the socket (idempotent)."""
        task = getattr(self._client, "_ws_connection_task", None)
        websocket = getattr(self._client._dispatcher, "_websocket", None)
        if websocket is not None:
            await websocket.close()
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, ConnectionClosed, OSError):
                await task
