"""Who is in a room and with which room roles: Rocket.Chat's join, leave, kick, owner, topic
and read functions, transport-free (REST and DDP both call them).

Each follows the Rocket.Chat 7.x function of the same name, including the order of its checks:
Room.join (server/services/room/service.ts), leaveRoomMethod
(app/lib/server/methods/leaveRoom.ts), removeUserFromRoom
(app/lib/server/functions/removeUserFromRoom.ts), removeUserFromRoomMethod
(server/methods/removeUserFromRoom.ts), addRoomOwner / removeRoomOwner
(server/methods/addRoomOwner.ts, removeRoomOwner.ts), saveRoomSettings' roomTopic and
saveRoomTopic (app/channel-settings/server/…), readMessages (server/methods/readMessages.ts).
"""

from __future__ import annotations

from typing import Any

from sandbox import permissions, rooms
from sandbox.errors import CoreMeteorError, MeteorError
from sandbox.messaging.system import save_system_message
from sandbox.state import SandboxState, now


def owner_count(state: SandboxState, room_id: str) -> int:
    """Roles.countUsersInRole('owner', rid): subscriptions holding the owner role."""
    return sum(
        "owner" in (sub.get("roles") or []) for sub in rooms.subscriptions_of_room(state, room_id)
    )


def _is_owner(state: SandboxState, room_id: str, user_id: str) -> bool:
    sub = state.subscription(room_id, user_id)
    return sub is not None and "owner" in (sub.get("roles") or [])


def _drop_subscription(state: SandboxState, room: dict[str, Any], user_id: str) -> None:
    """Subscriptions.removeByRoomIdAndUserId: the room counts one member less; the removal is
    announced and kept for `{update, remove}` answers."""
    sub = state.subscription(room["_id"], user_id)
    if sub is None:
        return
    del state.subscriptions[sub["_id"]]
    removed_at = now()
    rooms.trash(state, "subscriptions").append(
        {"_id": sub["_id"], "_deletedAt": removed_at, "u": {"_id": user_id}}
    )
    if room.get("t") != "d":
        room["usersCount"] = max(0, int(room.get("usersCount", 0)) - 1)
    rooms.touch(room, removed_at)
    rooms.notify_subscription(state, sub, "removed")
    rooms.notify_room_changed(state, room)


def remove_user_from_room(state: SandboxState, room: dict[str, Any], user: dict[str, Any]) -> None:
    """removeUserFromRoom (without byUser): a `ul` (left) message, then the subscription goes."""
    if state.subscription(room["_id"], user["_id"]) is not None:
        save_system_message(state, "ul", room, user.get("username") or "", user)
    _drop_subscription(state, room, user["_id"])


def leave_room(state: SandboxState, user: dict[str, Any], room_id: str) -> None:
    """leaveRoomMethod: not for DMs, needs leave-c / leave-p, a subscription, and another owner
    if the user is one."""
    details = {"method": "leaveRoom"}
    room = state.rooms.get(room_id)
    if room is None:
        raise MeteorError("error-invalid-room", "Invalid room", details)
    if room.get("t") not in ("c", "p"):  # allowMemberAction(LEAVE) is false for DMs
        raise MeteorError("error-not-allowed", "Not allowed", details)
    needed = "leave-c" if room["t"] == "c" else "leave-p"
    if not permissions.has_permission(state, user["_id"], needed):
        raise MeteorError("error-not-allowed", "Not allowed", details)
    if state.subscription(room_id, user["_id"]) is None:
        raise MeteorError("error-user-not-in-room", "You are not in this room", details)
    if _is_owner(state, room_id, user["_id"]) and owner_count(state, room_id) == 1:
        raise MeteorError(
            "error-you-are-last-owner",
            "You are the last owner. Please set new owner before leaving the room.",
            details,
        )
    remove_user_from_room(state, room, user)


def kick_user(state: SandboxState, from_id: str, room_id: str, username: str) -> bool:
    """removeUserFromRoomMethod: remove-user in the room; members only, unless the caller may
    kick from any room of that type; never the last owner; saves `ru` by the caller."""
    details = {"method": "removeUserFromRoom"}
    if not permissions.has_permission(state, from_id, "remove-user", room_id):
        raise MeteorError("error-not-allowed", "Not allowed", details)
    room = state.rooms.get(room_id)
    if room is None or room.get("t") not in ("c", "p"):
        raise MeteorError("error-not-allowed", "Not allowed", details)
    from_user = state.users.get(from_id)
    if from_user is None:
        raise MeteorError("error-invalid-user", "Invalid user", details)
    kick_any = "kick-user-from-any-c-room" if room["t"] == "c" else "kick-user-from-any-p-room"
    can_kick_any = permissions.has_permission(state, from_id, kick_any)
    if not can_kick_any and not rooms.can_access_room(state, room, from_id):
        raise MeteorError(
            "error-room-not-found",
            'The required "roomId" or "roomName" param provided does not match any group',
        )
    removed = state.user_by_username(username)
    if removed is None:
        raise MeteorError("error-invalid-user", "Invalid user", details)
    if not can_kick_any and state.subscription(room_id, removed["_id"]) is None:
        raise MeteorError("error-user-not-in-room", "User is not in this room", details)
    if _is_owner(state, room_id, removed["_id"]) and owner_count(state, room_id) == 1:
        raise MeteorError(
            "error-you-are-last-owner",
            "You are the last owner. Please set new owner before leaving the room.",
            details,
        )
    _drop_subscription(state, room, removed["_id"])
    save_system_message(state, "ru", room, removed.get("username") or "", from_user)
    return True


def join_room(
    state: SandboxState, room: dict[str, Any], user: dict[str, Any], join_code: Any = None
) -> None:
    """Room.join: only channels and groups; canAccessRoom; the join code unless the user may
    join without one. Errors are core-services MeteorErrors (REST shows the bare code)."""
    details = {"method": "joinRoom"}
    if room.get("t") not in ("c", "p"):  # allowMemberAction(JOIN)
        raise CoreMeteorError("error-not-allowed", "Not allowed", details)
    if not rooms.can_access_room(state, room, user["_id"]):
        raise CoreMeteorError("error-not-allowed", "Not allowed", details)
    if room.get("joinCodeRequired") and not permissions.has_permission(
        state, user["_id"], "join-without-join-code"
    ):
        if not join_code:
            raise CoreMeteorError("error-code-required", "Code required", details)
        if join_code != room.get("joinCode"):
            raise CoreMeteorError("error-code-invalid", "Invalid code", details)
    rooms.add_user_to_room(state, room["_id"], user)


def _role_target(
    state: SandboxState, from_id: str, room_id: str, user_id: Any, method: str
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The shared start of addRoomOwner/removeRoomOwner: (room, target user)."""
    details = {"method": method}
    if not isinstance(room_id, str) or not isinstance(user_id, str):
        raise MeteorError(400, "Match failed")
    room = state.rooms.get(room_id)
    if room is None:
        raise MeteorError("error-invalid-room", "Invalid room", details)
    if not permissions.has_permission(state, from_id, "set-owner", room_id):
        raise MeteorError("error-not-allowed", "Not allowed", details)
    user = state.users.get(user_id)
    if user is None or not user.get("username"):
        raise MeteorError("error-invalid-user", "Invalid user", details)
    return room, user


def add_room_owner(state: SandboxState, from_id: str, room_id: str, user_id: Any) -> bool:
    """addRoomOwner: set-owner in the room; the user must be a member and not yet an owner."""
    room, user = _role_target(state, from_id, room_id, user_id, "addRoomOwner")
    sub = state.subscription(room_id, user["_id"])
    if sub is None:
        raise MeteorError(
            "error-user-not-in-room", "User is not in this room", {"method": "addRoomOwner"}
        )
    if "owner" in (sub.get("roles") or []):
        raise MeteorError(
            "error-user-already-owner", "User is already an owner", {"method": "addRoomOwner"}
        )
    sub["roles"] = [*(sub.get("roles") or []), "owner"]
    _role_changed(state, sub)
    save_system_message(
        state,
        "subscription-role-added",
        room,
        user["username"],
        state.users[from_id],
        {"role": "owner"},
    )
    return True


def remove_room_owner(state: SandboxState, from_id: str, room_id: str, user_id: Any) -> bool:
    """removeRoomOwner: set-owner in the room; the user must be an owner, and not the last."""
    room, user = _role_target(state, from_id, room_id, user_id, "removeRoomOwner")
    details = {"method": "removeRoomOwner"}
    sub = state.subscription(room_id, user["_id"])
    if sub is None:
        raise MeteorError("error-invalid-room", "Invalid room", details)
    if "owner" not in (sub.get("roles") or []):
        raise MeteorError("error-user-not-owner", "User is not an owner", details)
    if owner_count(state, room_id) == 1:
        raise MeteorError(
            "error-remove-last-owner",
            "This is the last owner. Please set a new owner before removing this one.",
            details,
        )
    sub["roles"] = [role for role in sub.get("roles") or [] if role != "owner"]
    _role_changed(state, sub)
    save_system_message(
        state,
        "subscription-role-removed",
        room,
        user["username"],
        state.users[from_id],
        {"role": "owner"},
    )
    return True


def _role_changed(state: SandboxState, sub: dict[str, Any]) -> None:
    rooms.touch(sub)
    rooms.notify_subscription(state, sub, "updated")


def save_room_topic(state: SandboxState, user_id: str, room_id: str, topic: str) -> None:
    """saveRoomSettings(rid, 'roomTopic', topic): edit-room in the room; an unchanged topic (or
    clearing none) does nothing; else saveRoomTopic and its `room_changed_topic` message."""
    if not permissions.has_permission(state, user_id, "edit-room", room_id):
        raise MeteorError(
            "error-action-not-allowed",
            "Editing room is not allowed",
            {"method": "saveRoomSettings", "action": "Editing_room"},
        )
    room = state.rooms.get(room_id)
    if room is None:
        raise MeteorError("error-invalid-room", "Invalid room", {"method": "saveRoomSettings"})
    if (not topic and not room.get("topic")) or topic == room.get("topic"):
        return
    room["topic"] = topic
    rooms.touch(room)
    save_system_message(state, "room_changed_topic", room, topic, state.users[user_id])
    rooms.notify_room_changed(state, room)


def read_messages(state: SandboxState, room_id: str, user_id: str, read_threads: bool) -> None:
    """readMessages: the room must exist and be readable; the caller's subscription (if any)
    is marked read: open, no alert, no unread counters, `ls` now."""
    details = {"method": "readMessages"}
    room = state.rooms.get(room_id)
    if room is None:
        raise MeteorError("error-room-does-not-exist", "This room does not exist", details)
    if not rooms.can_access_room(state, room, user_id):
        raise MeteorError("error-not-allowed", "Not allowed", details)
    sub = state.subscription(room_id, user_id)
    if sub is None:
        return
    seen = now()
    sub.update({"open": True, "alert": False, "unread": 0, "userMentions": 0})
    sub.update({"groupMentions": 0, "ls": seen, "lr": seen})
    if read_threads:
        for key in ("tunread", "tunreadUser", "tunreadGroup"):
            sub.pop(key, None)
    rooms.touch(sub, seen)
    rooms.notify_subscription(state, sub, "updated")
