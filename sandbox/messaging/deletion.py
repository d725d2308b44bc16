"""deleteMessage and canDeleteMessageAsync: who may delete, and what a deletion leaves."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sandbox import permissions, rooms
from sandbox.errors import MeteorError, PlainError
from sandbox.messaging.fanout import publish_update
from sandbox.messaging.history import last_visible_message
from sandbox.state import SandboxState, clone, from_ms, now, to_ms


def can_delete_message(state: SandboxState, user_id: str, message: dict[str, Any]) -> bool:
    """canDeleteMessageAsync."""
    room = state.rooms.get(message.get("rid", ""))
    if room is None:
        return False
    rid = room["_id"]
    if permissions.has_permission(state, user_id, "force-delete-message", rid):
        return True
    if not message.get("ts") or not state.settings.get("Message_AllowDeleting", True):
        return False
    own = message.get("u", {}).get("_id") == user_id
    allowed = permissions.has_permission(state, user_id, "delete-message", rid) or (
        own and permissions.has_permission(state, user_id, "delete-own-message")
    )
    if not allowed:
        return False
    if not permissions.has_permission(state, user_id, "bypass-time-limit-edit-and-delete", rid):
        minutes = state.settings.get("Message_AllowDeleting_BlockDeleteInMinutes", 0)
        if minutes:
            ts = message["ts"] if isinstance(message["ts"], datetime) else from_ms(0)
            if (to_ms(now()) - to_ms(ts)) / 60000 > float(minutes):
                return False
    read_only = room.get("ro") is True and not permissions.has_permission(
        state, user_id, "post-readonly", rid
    )
    if read_only and message.get("u", {}).get("username") not in (room.get("unmuted") or []):
        raise PlainError("You can't delete messages because the room is readonly.")
    return True


def delete_message_validating_permission(
    state: SandboxState, message_id: Any, user_id: str
) -> None:
    """deleteMessageValidatingPermission."""
    if not message_id:
        raise MeteorError("error-invalid-message", "Invalid message")
    user = state.users.get(user_id)
    message = state.messages.get(message_id) if isinstance(message_id, str) else None
    if message is None or user is None or not can_delete_message(state, user_id, message):
        raise MeteorError("error-action-not-allowed", "Not allowed")
    delete_message(state, message, user)


def delete_message(state: SandboxState, message: dict[str, Any], user: dict[str, Any]) -> None:
    """deleteMessage: remove (or hide, or mark `t:'rm'`) and tell the room."""
    is_thread = int(message.get("tcount", 0)) > 0
    keep_history = bool(state.settings.get("Message_KeepHistory", False)) or is_thread
    show_deleted = bool(state.settings.get("Message_ShowDeletedStatus", False)) or is_thread
    if message.get("tmid"):
        parent = state.messages.get(message["tmid"])
        if parent is not None:
            parent["tcount"] = int(parent.get("tcount", 0)) - 1
            parent["_updatedAt"] = now()
            publish_update(state, parent)
    if keep_history:
        if not show_deleted:
            message["_hidden"] = True
    elif not show_deleted:
        state.messages.pop(message["_id"], None)
    room = state.rooms.get(message["rid"])
    if show_deleted:
        stamp = now()
        message.update(
            {
                "msg": "",
                "t": "rm",
                "urls": [],
                "mentions": [],
                "attachments": [],
                "reactions": {},
                "editedAt": stamp,
                "editedBy": {"_id": user["_id"], "username": user.get("username")},
                "_updatedAt": stamp,
            }
        )
        for key in ("md", "blocks", "tshow"):
            message.pop(key, None)
        publish_update(state, message)
    else:
        state.bus.notify_room(message["rid"], "deleteMessage", [{"_id": message["_id"]}])
    if room is None:
        return
    last = room.get("lastMessage")
    if state.settings.get("Store_Last_Message", True) and (
        not last or last.get("_id") == message["_id"]
    ):
        previous = last_visible_message(state, room["_id"])
        if previous is None:
            room.pop("lastMessage", None)
        else:
            room["lastMessage"] = clone(previous)
    room["msgs"] = int(room.get("msgs", 0)) - 1
    rooms.touch(room)
    rooms.notify_room_changed(state, room)
