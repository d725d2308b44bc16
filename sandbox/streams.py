"""Rocket.Chat's streamer rules: who may subscribe to (read), receive (emit) and write an event.

Mirrors notifications.module.ts: each publication `stream-<name>` has allowRead/allowEmit/
allowWrite rules per event name. The DDP server (sandbox.ddp) asks these questions; nothing
here sends frames.
"""

from __future__ import annotations

from typing import Any

from sandbox import permissions, rooms
from sandbox.state import SandboxState

# Publication name -> streamer name.
PUBLICATIONS = {
    "stream-room-messages": "room-messages",
    "stream-notify-user": "notify-user",
    "stream-notify-room": "notify-room",
    "stream-notify-logged": "notify-logged",
    "stream-notify-all": "notify-all",
}
MY_MESSAGES = "__my_messages__"


class InvalidEventName(Exception):
    """`eventName.length === 0`: Rocket.Chat throws MeteorError('invalid-event-name')."""


def read_allowed(state: SandboxState, stream: str, event_name: Any, user_id: str | None) -> bool:
    """The allowRead rule of `stream` for `event_name`, for the connection's user.

    Raises TypeError where Rocket.Chat's rule would crash on a non-string event name (the DDP
    server turns that into a 500), and InvalidEventName for an empty one.
    """
    if event_name is None:
        raise TypeError("Cannot read properties of undefined (reading 'length')")
    if isinstance(event_name, (str, list)) and len(event_name) == 0:
        raise InvalidEventName
    if stream == "room-messages":
        if event_name == MY_MESSAGES:
            return True
        room = rooms.room_by_id(state, event_name)
        if room is None:
            return False
        if rooms.can_access_room(state, room, user_id):
            return True
        return room.get("t") == "c" and permissions.has_permission(
            state, user_id, "preview-c-room"
        )
    if stream == "notify-user":
        if not isinstance(event_name, str):
            raise TypeError("eventName.split is not a function")
        owner = event_name.split("/")[0]
        return bool(user_id) and user_id == owner
    if stream == "notify-room":
        if not isinstance(event_name, str):
            raise TypeError("eventName.split is not a function")
        room_id = event_name.split("/")[0]
        return bool(user_id) and state.subscription(room_id, user_id or "") is not None
    if stream == "notify-logged":
        return bool(user_id)
    return stream == "notify-all"


def my_messages_extra(
    state: SandboxState, room: dict[str, Any], user_id: str | None
) -> dict[str, Any] | None:
    """allowEmit of `__my_messages__`: None if the user may not see the room, else the
    `{roomParticipant, roomType, roomName}` appended to the event's args."""
    if not user_id or state.users.get(user_id) is None:
        return None
    if not rooms.can_access_room(state, room, user_id):
        return None
    extra: dict[str, Any] = {
        "roomParticipant": state.subscription(room["_id"], user_id) is not None,
        "roomType": room.get("t"),
    }
    if room.get("name") is not None:
        extra["roomName"] = room["name"]
    return extra


def write_allowed(
    state: SandboxState, stream: str, event_name: Any, user_id: str | None, args: list[Any]
) -> bool:
    """allowWrite of `stream` (the `stream-<name>` DDP method): only typing on notify-room.

    Raises TypeError where Rocket.Chat's rule would crash (`eventName.split` of a non-string).
    """
    if stream not in ("notify-room", "notify-user"):
        return False
    if not isinstance(event_name, str):
        raise TypeError("eventName.split is not a function")
    if stream == "notify-user":
        return False
    parts = event_name.split("/")
    event = parts[1] if len(parts) > 1 else None
    if event != "user-activity" or not user_id:
        return False
    user = state.users.get(user_id)
    if user is None:
        return False
    key = "name" if state.settings.get("UI_Use_Real_Name") else "username"
    return bool(args) and user.get(key) == args[0]
