"""The away person's view of their rooms, read over their own realtime connection.

Which rooms they are in and what kind (a one-to-one DM, a group DM, a channel), and their
notification preferences per room: both come from DDP `rooms/get` and `subscriptions/get`, read
whole once and then only what changed (`{"$date": ms}` of the server's last change seen), so a
check costs one small call. A message counts as addressed to the person when it is in a
one-to-one DM with them or mentions `@username` (Rocket.Chat's MentionsParser: `@` after the
start, a space, `>` or `(`, then the name's characters); a room is muted when its notifications
are off (`disableNotifications`), set to nothing (`desktopNotifications: "nothing"`), or the
person ignores the sender (`ignored`), as sendNotificationsOnMessage.ts decides.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final, Protocol

from bot.rocketchat.frames import server_time

USERNAME_CHARS: Final = "[0-9a-zA-Z-_.]+"
_MENTION: Final = re.compile(rf"(?:^|\s|>|\()@({USERNAME_CHARS})")


class Caller(Protocol):
    """A logged-in realtime connection (bot.rocketchat.transport.RealtimeConnection)."""

    async def call(self, method: str, *params: Any, retry: bool = False) -> Any: ...


@dataclass(frozen=True)
class RoomFacts:
    """What the digest and the auto-reply need of a room."""

    room_id: str
    type: str  # c, p, d
    name: str | None
    members: int

    @property
    def one_to_one(self) -> bool:
        return self.type == "d" and self.members <= 2

    @property
    def kind(self) -> str:
        """direct, group (a group DM), channel or private."""
        if self.type == "d":
            return "direct" if self.one_to_one else "group"
        return "private" if self.type == "p" else "channel"


def mentions(text: str, username: str) -> bool:
    """True when `text` mentions `@username` (not @all or @here)."""
    wanted = username.casefold()
    return any(name.rstrip(".").casefold() == wanted for name in _MENTION.findall(text or ""))


def muted(subscription: Mapping[str, Any], sender_id: str) -> bool:
    """True when the person would get no notification of `sender_id` in this room."""
    ignored = subscription.get("ignored")
    return (
        subscription.get("disableNotifications") is True
        or subscription.get("desktopNotifications") == "nothing"
        or (isinstance(ignored, list) and sender_id in ignored)
    )


def _facts(room: Mapping[str, Any]) -> RoomFacts | None:
    room_id = room.get("_id")
    if not isinstance(room_id, str):
        return None
    kind = str(room.get("t") or "c")
    uids = room.get("uids")
    count = room.get("usersCount")
    members = len(uids) if isinstance(uids, list) else int(count) if isinstance(count, int) else 2
    name = room.get("name") if kind != "d" else None
    if kind == "d" and members > 2:
        names = room.get("usernames")
        name = ", ".join(str(n) for n in names) if isinstance(names, list) else None
    return RoomFacts(
        room_id=room_id, type=kind, name=name if isinstance(name, str) else None, members=members
    )


def _changes(answer: Any) -> tuple[list[Any], list[Any]]:
    """(changed, removed) of a `rooms/get` or `subscriptions/get` answer (list or delta)."""
    if isinstance(answer, list):
        return answer, []
    if isinstance(answer, dict):
        update, remove = answer.get("update"), answer.get("remove")
        return (update if isinstance(update, list) else []), (
            remove if isinstance(remove, list) else []
        )
    return [], []


class PersonView:
    """Rooms and subscriptions of one person, kept fresh with small delta reads."""

    def __init__(self, connection: Caller) -> None:
        self._connection = connection
        self._rooms: dict[str, RoomFacts] = {}
        self._rooms_seen: float | None = None
        self._subscriptions: dict[str, dict[str, Any]] = {}  # by room id
        self._subscription_ids: dict[str, str] = {}  # subscription id → room id
        self._subscriptions_seen: float | None = None

    async def room(self, room_id: str) -> RoomFacts | None:
        """The room, if the person is in it (read again once when it is new to the view)."""
        if room_id not in self._rooms:
            await self._read_rooms()
        return self._rooms.get(room_id)

    async def subscription(self, room_id: str) -> dict[str, Any] | None:
        """The person's subscription to the room as it is now; None when they are not in it."""
        await self._read_subscriptions()
        return self._subscriptions.get(room_id)

    async def _read_rooms(self) -> None:
        since = {"$date": int(self._rooms_seen)} if self._rooms_seen is not None else None
        answer = await self._connection.call("rooms/get", *([since] if since else []))
        changed, removed = _changes(answer)
        for raw in changed:
            if isinstance(raw, dict) and (facts := _facts(raw)) is not None:
                self._rooms[facts.room_id] = facts
                self._rooms_seen = _later(self._rooms_seen, raw.get("_updatedAt"))
        for raw in removed:
            if isinstance(raw, dict):
                self._rooms.pop(str(raw.get("_id")), None)

    async def _read_subscriptions(self) -> None:
        seen = self._subscriptions_seen
        since = {"$date": int(seen)} if seen is not None else None
        answer = await self._connection.call("subscriptions/get", *([since] if since else []))
        changed, removed = _changes(answer)
        for raw in changed:
            if isinstance(raw, dict) and isinstance(raw.get("rid"), str):
                self._subscriptions[raw["rid"]] = raw
                self._subscription_ids[str(raw.get("_id"))] = raw["rid"]
                self._subscriptions_seen = _later(self._subscriptions_seen, raw.get("_updatedAt"))
        for raw in removed:
            if isinstance(raw, dict):
                room_id = self._subscription_ids.pop(str(raw.get("_id")), None)
                if room_id is not None:
                    self._subscriptions.pop(room_id, None)
                self._subscriptions_seen = _later(self._subscriptions_seen, raw.get("_deletedAt"))
        if self._subscriptions_seen is None:
            self._subscriptions_seen = 0.0  # read once: from now on only the changes


def _later(current: float | None, value: Any) -> float | None:
    moment = server_time(value)
    if moment is None:
        return current
    return moment if current is None else max(current, moment)
