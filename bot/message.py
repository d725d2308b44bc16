"""A chat message as the bot sees it: parsed once from the realtime frame, then passed along."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class RoomType(StrEnum):
    DIRECT = "d"
    CHANNEL = "c"
    PRIVATE = "p"
    LIVECHAT = "l"


@dataclass(frozen=True, slots=True)
class IncomingMessage:
    """One message from `stream-room-messages`, with the sender as the server says it."""

    id: str
    room_id: str
    room_type: RoomType
    text: str
    sender_id: str
    sender_username: str
    thread_id: str | None = None
    room_name: str | None = None  # absent for DMs
    system_type: str | None = None  # Rocket.Chat's `t` (uj, rm, ...); None for user text
    edited: bool = False

    @property
    def is_direct(self) -> bool:
        return self.room_type is RoomType.DIRECT
