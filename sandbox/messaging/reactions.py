"""executeSetReaction: toggle (or set) a user's reaction to a message."""

from __future__ import annotations

from typing import Any

from sandbox import permissions, rooms
from sandbox.errors import MeteorError, PlainError
from sandbox.messaging.fanout import publish_update
from sandbox.messaging.system import translate
from sandbox.state import SandboxState, now


def set_reaction(
    state: SandboxState, user_id: str, reaction: Any, message_id: Any, should_react: Any = None
) -> bool | None:
    """executeSetReaction: toggle (or set) the user's reaction; None on success or no-op."""
    if not isinstance(reaction, str):
        raise TypeError("reaction must be a string")  # Rocket.Chat crashes here: a 500
    name = reaction.replace(":", "")
    reaction = f":{name}:"
    if not _is_known_emoji(name):
        raise MeteorError(
            "error-not-allowed", "Invalid emoji provided.", {"method": "setReaction"}
        )
    user = state.users.get(user_id)
    if user is None:
        raise MeteorError("error-invalid-user", "Invalid user", {"method": "setReaction"})
    message = state.messages.get(message_id) if isinstance(message_id, str) else None
    if message is None:
        raise MeteorError("error-not-allowed", "Not allowed", {"method": "setReaction"})
    username = user.get("username")
    reactions = message.get("reactions") or {}
    already = reaction in reactions and username in reactions[reaction].get("usernames", [])
    if should_react is None:
        should_react = not already
    if bool(already) == bool(should_react):
        return None
    room = state.rooms.get(message.get("rid", ""))
    if room is None:
        raise MeteorError("error-not-allowed", "Not allowed", {"method": "setReaction"})
    if not rooms.can_access_room(state, room, user_id):
        raise MeteorError("not-authorized", "Not Authorized", {"method": "setReaction"})
    if username in (room.get("muted") or []):
        raise MeteorError(
            "error-not-allowed", translate("You_have_been_muted"), {"rid": room["_id"]}
        )
    if (
        room.get("ro") is True
        and not room.get("reactWhenReadOnly")
        and not permissions.has_permission(state, user_id, "post-readonly", room["_id"])
        and username not in (room.get("unmuted") or [])
    ):
        raise PlainError("You can't send messages because the room is readonly.")
    if already:
        usernames = [u for u in reactions[reaction]["usernames"] if u != username]
        if usernames:
            reactions[reaction]["usernames"] = usernames
        else:
            del reactions[reaction]
        if reactions:
            message["reactions"] = reactions
        else:
            message.pop("reactions", None)
    else:
        reactions.setdefault(reaction, {"usernames": []})["usernames"].append(username)
        message["reactions"] = reactions
    message["_updatedAt"] = now()
    publish_update(state, message)
    return None


def _is_known_emoji(name: str) -> bool:
    """A shortname that could be in emoji.list: letters, digits, `_`, `+`, `-` only."""
    return bool(name) and all(ch.isalnum() or ch in "_+-" for ch in name) and name.isascii()
