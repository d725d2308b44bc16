"""Messages and dates as Rocket.Chat sends them (DDP frames, history, REST), parsed into ours.

Pure functions, shared by the live stream (bot.rocketchat.transport), history
(bot.rocketchat.rooms, bot.rocketchat.catchup) and the out-of-office follower.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from bot.core.message import IncomingMessage, RoomType


def parse_message(fields: dict[str, Any]) -> tuple[IncomingMessage, bool] | None:
    """A `stream-room-messages` event → (message, whether the bot is a member of the room).

    Returns None for frames that are not chat messages (malformed or incomplete ones).
    """
    args = fields.get("args") or []
    if not args or not isinstance(args[0], dict):
        return None
    extra = args[1] if len(args) > 1 and isinstance(args[1], dict) else {}
    message = message_of(args[0], extra.get("roomType"), extra.get("roomName"))
    if message is None:
        return None
    return message, bool(extra.get("roomParticipant", True))


def message_of(raw: dict[str, Any], room_type: Any, room_name: Any) -> IncomingMessage | None:
    """A raw message document in a room of `room_type` named `room_name`; None if not one."""
    sender = raw.get("u") or {}
    if not isinstance(sender, dict) or not raw.get("_id") or not raw.get("rid"):
        return None
    if not sender.get("_id"):
        return None
    try:
        kind = RoomType(room_type or "c")
    except ValueError:
        kind = RoomType.CHANNEL
    return IncomingMessage(
        id=str(raw["_id"]),
        room_id=str(raw["rid"]),
        room_type=kind,
        text=str(raw.get("msg") or ""),
        sender_id=str(sender["_id"]),
        sender_username=str(sender.get("username") or ""),
        thread_id=raw.get("tmid"),
        room_name=room_name if isinstance(room_name, str) else None,
        system_type=raw.get("t"),
        edited="editedAt" in raw,
    )


def server_time(value: Any) -> float | None:
    """A date as DDP (`{"$date": ms}`) or REST (ISO text) sends it → epoch ms; None if absent."""
    if isinstance(value, dict):
        value = value.get("$date")
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value).timestamp() * 1000
        except ValueError:
            return None
    return None
