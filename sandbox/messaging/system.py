"""Messages the server writes itself: ephemeral notices to one user and stored system messages.

`save_system_message` is below `sandbox.rooms` (joining a room saves a `uj` message), so this
module knows no room logic.
"""

from __future__ import annotations

from typing import Any

from sandbox import markdown
from sandbox.state import SandboxState, now, random_id, to_ms

# MessageTypes registered as system messages (cannot be sent through sendMessage).
SYSTEM_TYPES = frozenset(
    {
        "r",
        "au",
        "ru",
        "ul",
        "ult",
        "uj",
        "ujt",
        "ut",
        "ui",
        "uc",
        "rm",
        "user-muted",
        "user-unmuted",
        "subscription-role-added",
        "subscription-role-removed",
        "room-archived",
        "room-unarchived",
        "room_changed_privacy",
        "room_changed_topic",
        "room_changed_announcement",
        "room_changed_description",
        "room_changed_avatar",
        "room-removed-read-only",
        "room-set-read-only",
        "room-allowed-reacting",
        "room-disallowed-reacting",
        "message_pinned",
        "message_snippeted",
        "discussion-created",
        "added-user-to-team",
        "removed-user-from-team",
        "user-converted-to-team",
        "user-converted-to-channel",
        "user-removed-room-from-team",
        "user-deleted-room-from-team",
        "user-added-room-to-team",
        "e2e",
        "otr",
        "otr-ack",
        "jitsi_call_started",
        "videoconf",
        "livechat-close",
        "livechat-started",
        "command",
    }
)
# English texts of the i18n keys the ephemeral error messages use.
_I18N = {
    "error-invalid-room": "Invalid room",
    "error-not-allowed": "Not allowed",
    "error-invalid-user": "Invalid user",
    "error-action-not-allowed": "__action__ is not allowed",
    "room_is_blocked": "This room is blocked",
    "You_have_been_muted": "You have been muted and cannot speak in this room",
    "Username_is_already_in_here": "`@{0}` is already in here.",
}


def translate(key: str, *args: str) -> str:
    """`i18n.t(key)` in English; unknown keys come back as written, as i18next does."""
    text = _I18N.get(key, key)
    return text.format(*args) if args else text


def user_ref(user: dict[str, Any], *, with_name: bool = True) -> dict[str, Any]:
    """The `u` of a message: `{_id, username, name}`."""
    ref: dict[str, Any] = {"_id": user["_id"], "username": user.get("username")}
    if with_name and user.get("name") is not None:
        ref["name"] = user["name"]
    return ref


# -- ephemeral and system messages --------------------------------------------------------------


def ephemeral(state: SandboxState, user_id: str, room_id: Any, msg: str, **fields: Any) -> None:
    """`notify.ephemeralMessage`: a private rocket.cat message on `<uid>/message`."""
    stamp = now()
    extra: dict[str, Any] = {"msg": msg, **fields}
    if msg:
        extra["md"] = markdown.parse(msg)
    payload = {
        "groupable": False,
        "u": {"_id": "rocket.cat", "username": "rocket.cat"},
        "private": True,
        "_id": extra.pop("_id", None) or str(to_ms(stamp)),
        "rid": room_id,
        "ts": stamp,
        "_updatedAt": stamp,
        **extra,
    }
    state.bus.notify_user(user_id, "message", [payload])


def save_system_message(
    state: SandboxState,
    message_type: str,
    room: dict[str, Any],
    msg: str,
    owner: dict[str, Any],
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """`Message.saveSystemMessage(type, rid, msg, owner)`: stored and streamed like any message."""
    stamp = now()
    doc: dict[str, Any] = {
        "t": message_type,
        "rid": room["_id"],
        "ts": stamp,
        "msg": msg,
        "u": user_ref(owner),
        "groupable": False,
    }
    if state.settings.get("Message_Read_Receipt_Enabled", False):
        doc["unread"] = True
    doc.update(extra or {})
    doc["_id"] = random_id()
    doc["_updatedAt"] = stamp
    state.messages[doc["_id"]] = doc
    room["msgs"] = int(room.get("msgs", 0)) + 1
    state.bus.message(doc, room)
    return doc
