"""The rooms the bot (or a person it follows) is in, and their history, over the realtime API.

A catch-up after a restart or a dropped connection lists the rooms and reads what each got
since a mark (bot.rocketchat.catchup). These are plain DDP method calls on a logged-in
connection (RealtimeConnection.rooms): `rooms/get`, `subscriptions/get` and `loadHistory`.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Final

from bot.core.message import IncomingMessage
from bot.rocketchat.frames import message_of, server_time

log = logging.getLogger(__name__)

HISTORY_PAGE: Final = 100
HISTORY_MAX_PAGES: Final = 50  # per room and catch-up: at most 5,000 missed messages
Call = Callable[..., Awaitable[Any]]


@dataclass(frozen=True)
class JoinedRoom:
    """A room the bot is a member of, as `rooms/get` lists it."""

    id: str
    type: str
    name: str | None
    updated_at: float | None  # epoch ms: nothing in the room is newer than this


def message_from_history(raw: Any, room: JoinedRoom) -> IncomingMessage | None:
    """A message as a history call (DDP loadHistory or REST *.history) returns it, in `room`."""
    return message_of(raw, room.type, room.name) if isinstance(raw, dict) else None


class RealtimeRooms:
    """Room lists and history through one connection's `call` (RealtimeConnection.call)."""

    def __init__(self, call: Call) -> None:
        self._call = call

    async def joined_rooms(self) -> list[JoinedRoom]:
        """The rooms the bot is a member of, with their last change (DDP `rooms/get`)."""
        rooms = await self._call("rooms/get")
        joined = []
        for room in rooms if isinstance(rooms, list) else []:
            if not isinstance(room, dict) or not room.get("_id"):
                continue
            joined.append(
                JoinedRoom(
                    id=str(room["_id"]),
                    type=str(room.get("t") or "c"),
                    name=room.get("name") if room.get("t") != "d" else None,
                    updated_at=server_time(room.get("_updatedAt")),
                )
            )
        return joined

    async def subscribed_rooms(self) -> list[JoinedRoom]:
        """The rooms the bot is a member of, from its subscriptions (DDP `subscriptions/get`):
        unlike `rooms/get`, never a room's last message, but no time of the last change."""
        subscriptions = await self._call("subscriptions/get")
        joined = []
        for sub in subscriptions if isinstance(subscriptions, list) else []:
            if not isinstance(sub, dict) or not sub.get("rid"):
                continue
            kind = str(sub.get("t") or "c")
            name = sub.get("name") if kind != "d" else None
            joined.append(JoinedRoom(id=str(sub["rid"]), type=kind, name=name, updated_at=None))
        return joined

    async def history(
        self, room: JoinedRoom, *, since: float
    ) -> list[tuple[IncomingMessage, float]]:
        """The room's messages newer than `since` (epoch ms), oldest first, with their times.

        Pages back through DDP `loadHistory` (newest first, `end` exclusive) until it reaches
        `since`; thread replies included, as the live stream has them.
        """
        found: dict[str, tuple[IncomingMessage, float]] = {}
        end: float | None = None
        for _ in range(HISTORY_MAX_PAGES):
            before = {"$date": int(end)} if end is not None else None
            page = await self._call("loadHistory", room.id, before, HISTORY_PAGE, None, True)
            raw_messages = page.get("messages") if isinstance(page, dict) else None
            if not raw_messages:
                break
            oldest = None
            for raw in raw_messages:
                ts = server_time(raw.get("ts")) if isinstance(raw, dict) else None
                if ts is None:
                    continue
                oldest = ts if oldest is None else min(oldest, ts)
                if ts <= since or raw.get("_id") in found:
                    continue
                message = message_from_history(raw, room)
                if message is not None:
                    found[message.id] = (message, ts)
            if oldest is None or oldest <= since or len(raw_messages) < HISTORY_PAGE:
                break
            # +1 ms: the next page must not skip another message of the same millisecond.
            next_end = oldest + 1
            if end is not None and next_end >= end:
                break  # a whole page in one millisecond: nothing more to learn
            end = next_end
        else:
            log.warning("catch-up of room %s stopped after %d pages", room.id, HISTORY_MAX_PAGES)
        return sorted(found.values(), key=lambda pair: pair[1])
