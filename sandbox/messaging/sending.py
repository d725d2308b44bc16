"""One path for every user message, whatever the transport.

`execute_send_message` is executeSendMessage (DDP `sendMessage`, REST `chat.sendMessage`): its
checks, then `insert_message`, the `sendMessage` function (also used by `chat.postMessage`),
which completes the document (u, ts, md, mentions, channels, urls), saves it and hands it to
`fanout.after_save`.
"""

from __future__ import annotations

from typing import Any

from sandbox import markdown, permissions, rooms
from sandbox.errors import MatchError, MeteorError, PlainError
from sandbox.messaging import fanout
from sandbox.messaging.system import ephemeral, translate, user_ref
from sandbox.state import SandboxState, now, parse_date, random_id, to_ms

# meteor/check patterns of validateMessage (objectMaybeIncluding): field -> accepted type.
_STRING_FIELDS = ("_id", "msg", "text", "alias", "emoji", "tmid", "avatar")


def execute_send_message(
    state: SandboxState, user_id: str, message: dict[str, Any]
) -> dict[str, Any] | None:
    """executeSendMessage: the checks before saving, then `insert_message`.

    Errors raised before the room is looked at propagate as they are; errors from the room
    checks and the save are also reported to the sender as an ephemeral message (and raised).
    """
    if message.get("tshow") and not message.get("tmid"):
        raise MeteorError(
            "invalid-params", "tshow provided but missing tmid", {"method": "sendMessage"}
        )
    if message.get("tmid") and not state.settings.get("Threads_enabled", True):
        raise MeteorError("error-not-allowed", "not-allowed", {"method": "sendMessage"})
    stamp = now()
    client_ts = message.get("ts")
    if client_ts:
        when = parse_date(client_ts)
        if when is None:
            message["ts"] = stamp
        else:
            drift_ms = abs(to_ms(when) - to_ms(stamp))
            if drift_ms > 60000:
                raise MeteorError(
                    "error-message-ts-out-of-sync",
                    "Message timestamp is out of sync",
                    {"method": "sendMessage", "message_ts": when, "server_ts": to_ms(now())},
                )
            message["ts"] = stamp if drift_ms > 10000 else when
    else:
        message["ts"] = stamp
    text = message.get("msg")
    max_size = int(state.settings.get("Message_MaxAllowedSize", 5000) or 0)
    if isinstance(text, str) and text and len(text) > max_size:
        raise MeteorError(
            "error-message-size-exceeded",
            "Message size exceeds Message_MaxAllowedSize",
            {"method": "sendMessage"},
        )
    user = state.users.get(user_id)
    if not user or not user.get("username"):
        raise MeteorError("error-invalid-user", "Invalid user")
    rid = message.get("rid")
    tmid = message.get("tmid")
    if tmid:
        parent = state.messages.get(tmid) if isinstance(tmid, str) else None
        if parent is not None:
            message["tmid"] = parent.get("tmid") or tmid
            rid = parent.get("rid") or rid
    if not rid:
        raise PlainError("The 'rid' property on the message object is missing.")
    if not isinstance(rid, str):
        raise MatchError(f"Expected string, got {type(rid).__name__}")
    try:
        room = can_send_message(state, rid, user)
        return insert_message(state, room, user, message)
    except (MeteorError, PlainError) as exc:
        key = str(exc.error) if isinstance(exc, MeteorError) else exc.message
        ephemeral(state, user_id, message.get("rid"), translate(key))
        raise


def can_send_message(state: SandboxState, rid: str, user: dict[str, Any]) -> dict[str, Any]:
    """canSendMessageAsync: the room, or a plain Error as Rocket.Chat throws it."""
    room = state.rooms.get(rid)
    if room is None:
        raise PlainError("error-invalid-room")
    validate_room_permissions(state, room, user)
    return room


def validate_room_permissions(
    state: SandboxState, room: dict[str, Any], user: dict[str, Any]
) -> None:
    """validateRoomMessagePermissionsAsync: access, blocked DMs, read-only rooms, mutes."""
    if user.get("type") != "app" and not rooms.can_access_room(state, room, user["_id"]):
        raise PlainError("error-not-allowed")
    if room.get("t") == "d":
        sub = state.subscription(room["_id"], user["_id"])
        if sub is not None and (sub.get("blocked") or sub.get("blocker")):
            raise PlainError("room_is_blocked")
    username = user.get("username")
    read_only = room.get("ro") is True and not permissions.has_permission(
        state, user["_id"], "post-readonly", room["_id"]
    )
    if read_only and username and username not in (room.get("unmuted") or []):
        raise PlainError("You can't send messages because the room is readonly.")
    if username and username in (room.get("muted") or []):
        raise PlainError("You_have_been_muted")


def _validate_message(
    state: SandboxState, message: dict[str, Any], room: dict[str, Any], user: dict[str, Any]
) -> None:
    for key in _STRING_FIELDS:
        if message.get(key) is not None and not isinstance(message[key], str):
            raise MatchError(f"Expected string, got {type(message[key]).__name__} in field {key}")
    if message.get("tshow") is not None and not isinstance(message["tshow"], bool):
        raise MatchError("Expected boolean in field tshow")
    for key in ("attachments", "blocks"):
        if message.get(key) is not None and not isinstance(message[key], list):
            raise MatchError(f"Expected array in field {key}")
    impersonates = bool(message.get("alias") or message.get("avatar"))
    if impersonates and not permissions.has_permission(
        state, user["_id"], "message-impersonate", room["_id"]
    ):
        raise PlainError("Not enough permission")


def _mentions(state: SandboxState, text: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """MentionsServer: `mentions` (all/here first, then users found) and `channels` found."""
    pattern = state.settings.get("UTF8_User_Names_Validation", markdown.USERNAME_PATTERN)
    mentions: list[dict[str, Any]] = []
    wanted: list[str] = []
    for name in markdown.user_mentions(text, pattern):
        if name in ("all", "here"):
            if not any(m["_id"] == name for m in mentions):
                mentions.append({"_id": name, "username": name})
        elif name not in wanted:
            wanted.append(name)
    for name in wanted:
        found = state.user_by_username(name)
        if found is not None and found.get("username") == name:
            ref = {"_id": found["_id"], "username": found["username"]}
            if found.get("name") is not None:
                ref["name"] = found["name"]
            ref["type"] = "user"
            mentions.append(ref)
    channels: list[dict[str, Any]] = []
    for name in dict.fromkeys(markdown.channel_mentions(text, pattern)):
        room = rooms.room_by_name(state, name)
        if room is not None:
            channels.append({"_id": room["_id"], "name": room["name"]})
    return mentions, channels


def insert_message(
    state: SandboxState, room: dict[str, Any], user: dict[str, Any], message: dict[str, Any]
) -> dict[str, Any] | None:
    """The `sendMessage` function: complete, save and publish a user message.

    Returns the saved message, or None when a message with the given `_id` already exists
    (Rocket.Chat then saves nothing and returns nothing).
    """
    _validate_message(state, message, room, user)
    doc = dict(message)
    doc.setdefault("ts", now())
    if doc.get("tshow") is not True:
        doc.pop("tshow", None)
    doc["u"] = user_ref(user)
    doc["rid"] = room["_id"]
    if not isinstance(doc.get("msg"), str):
        doc["msg"] = ""
    if state.settings.get("Message_Read_Receipt_Enabled", False):
        doc["unread"] = True
    if doc.get("parseUrls") is not False:
        doc["urls"] = [{"url": url} for url in markdown.urls(doc["msg"])]
    doc["mentions"], doc["channels"] = _mentions(state, doc["msg"])
    if doc["msg"]:
        doc["md"] = markdown.parse(doc["msg"])
    if doc.get("_id"):
        if doc["_id"] in state.messages:
            return None
    else:
        doc["_id"] = random_id()
    doc["_updatedAt"] = now()
    state.messages[doc["_id"]] = doc
    fanout.after_save(state, doc, room, user)
    return doc
