"""Messages: saving, editing, reacting, deleting, and everything Rocket.Chat does after a save.

One path for every user message, whatever the transport: `execute_send_message` is
executeSendMessage (DDP `sendMessage`, REST `chat.sendMessage`), `insert_message` is the
`sendMessage` function (also used by `chat.postMessage`). After a save come Rocket.Chat's
afterSaveMessage effects: thread counters, subscription counters (`subscriptions-changed`),
desktop notifications (`<uid>/notification`), the message itself on stream-room-messages, and
the room's `lastMessage` (`rooms-changed`).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sandbox import markdown, permissions, rooms
from sandbox.errors import MatchError, MeteorError, PlainError
from sandbox.state import SandboxState, clone, from_ms, now, random_id, to_ms

# meteor/check patterns of validateMessage (objectMaybeIncluding): field -> accepted type.
_STRING_FIELDS = ("_id", "msg", "text", "alias", "emoji", "tmid", "avatar")
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


def setting(state: SandboxState, key: str, default: Any) -> Any:
    """A setting's value, or Rocket.Chat's default when the sandbox has not seeded it."""
    return state.settings.get(key, default)


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
    if setting(state, "Message_Read_Receipt_Enabled", False):
        doc["unread"] = True
    doc.update(extra or {})
    doc["_id"] = random_id()
    doc["_updatedAt"] = stamp
    state.messages[doc["_id"]] = doc
    room["msgs"] = int(room.get("msgs", 0)) + 1
    state.bus.message(doc, room)
    return doc


# -- executeSendMessage -------------------------------------------------------------------------


def parse_date(value: Any) -> datetime | None:
    """A Date, or an ISO string as JavaScript's `new Date(string)` reads it (a date alone is UTC
    midnight); None for anything else."""
    if isinstance(value, datetime):
        return value
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            return None
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    return None


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
    if message.get("tmid") and not setting(state, "Threads_enabled", True):
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
    max_size = int(setting(state, "Message_MaxAllowedSize", 5000) or 0)
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
    read_only = room.get("ro") is True and not rooms.has_permission(
        state, user["_id"], "post-readonly", room["_id"]
    )
    if read_only and username and username not in (room.get("unmuted") or []):
        raise PlainError("You can't send messages because the room is readonly.")
    if username and username in (room.get("muted") or []):
        raise PlainError("You_have_been_muted")


# -- the sendMessage function ---------------------------------------------------------------------


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
    if impersonates and not rooms.has_permission(
        state, user["_id"], "message-impersonate", room["_id"]
    ):
        raise PlainError("Not enough permission")


def _mentions(state: SandboxState, text: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """MentionsServer: `mentions` (all/here first, then users found) and `channels` found."""
    pattern = setting(state, "UTF8_User_Names_Validation", markdown.USERNAME_PATTERN)
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
    if setting(state, "Message_Read_Receipt_Enabled", False):
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
    _after_save(state, doc, room, user)
    return doc


def _after_save(
    state: SandboxState, message: dict[str, Any], room: dict[str, Any], sender: dict[str, Any]
) -> None:
    if message.get("tmid"):
        _count_thread_reply(state, message, room)
    changed_subs = _update_subscriptions(state, message, room)
    _send_notifications(state, message, room, sender)
    state.bus.message(message, room)
    for sub in changed_subs:
        rooms.notify_subscription(state, sub, "updated")
    room["msgs"] = int(room.get("msgs", 0)) + 1
    if not message.get("tmid") or message.get("tshow"):
        room["lm"] = message["ts"]
        if setting(state, "Store_Last_Message", True):
            room["lastMessage"] = clone(message)
    rooms.touch(room)
    rooms.notify_room_changed(state, room)


def _count_thread_reply(
    state: SandboxState, message: dict[str, Any], room: dict[str, Any]
) -> None:
    """Threads: the parent's tcount/tlm/replies change and the parent is streamed again."""
    parent = state.messages.get(message["tmid"])
    if parent is None:
        return
    mention_ids = [
        m["_id"] for m in message.get("mentions", []) if m["_id"] not in ("all", "here")
    ]
    if parent.get("replies"):
        added = [message["u"]["_id"], *mention_ids]
    else:
        added = [parent["u"]["_id"], message["u"]["_id"], *mention_ids]
    replies = list(parent.get("replies") or [])
    for uid in added:
        if uid not in replies:
            replies.append(uid)
    parent["replies"] = replies
    parent["tcount"] = int(parent.get("tcount", 0)) + 1
    parent["tlm"] = message["ts"]
    parent["_updatedAt"] = now()
    publish_update(state, parent)


def _update_subscriptions(
    state: SandboxState, message: dict[str, Any], room: dict[str, Any]
) -> list[dict[str, Any]]:
    """notifyUsersOnMessage: unread/mention counters, then alert+open for the other members."""
    if message.get("tmid"):
        return []
    sender_id = message["u"]["_id"]
    mention_ids = {
        m["_id"] for m in message.get("mentions", []) if m["_id"] not in ("all", "here")
    }
    group = any(m["_id"] in ("all", "here") for m in message.get("mentions", []))
    count_key = "Unread_Count_DM" if room.get("t") == "d" else "Unread_Count"
    default_count = "all_messages" if room.get("t") == "d" else "user_and_group_mentions_only"
    unread_mode = setting(state, count_key, default_count)
    changed: list[dict[str, Any]] = []
    for sub in rooms.subscriptions_of_room(state, room["_id"]):
        uid = sub["u"]["_id"]
        if uid == sender_id:
            continue
        before = (
            sub.get("unread"),
            sub.get("userMentions"),
            sub.get("groupMentions"),
            sub.get("alert"),
            sub.get("open"),
        )
        bump = (
            1
            if unread_mode
            in ("all_messages", "user_and_group_mentions_only", "user_mentions_only")
            else 0
        )
        if mention_ids:
            if uid in mention_ids:
                sub["userMentions"] = int(sub.get("userMentions", 0)) + 1
                sub["unread"] = int(sub.get("unread", 0)) + bump
        elif group:
            sub["groupMentions"] = int(sub.get("groupMentions", 0)) + 1
            if unread_mode != "user_mentions_only":
                sub["unread"] = int(sub.get("unread", 0)) + bump
        if not group and unread_mode == "all_messages" and uid not in mention_ids:
            sub["unread"] = int(sub.get("unread", 0)) + 1
        sub["alert"] = True
        sub["open"] = True
        after = (
            sub.get("unread"),
            sub.get("userMentions"),
            sub.get("groupMentions"),
            sub.get("alert"),
            sub.get("open"),
        )
        if after != before:
            rooms.touch(sub)
            changed.append(sub)
    return changed


def _is_online(state: SandboxState, user: dict[str, Any]) -> bool:
    connection = user.get("statusConnection")
    if connection is not None:
        return connection != "offline"
    return user["_id"] in state.runtime.get("ddp_online", {})


def _send_notifications(
    state: SandboxState, message: dict[str, Any], room: dict[str, Any], sender: dict[str, Any]
) -> None:
    """sendNotificationsOnMessage, desktop part: `<uid>/notification` for online members."""
    if message.get("tmid") or message.get("editedAt"):
        return
    if setting(state, "Troubleshoot_Disable_Notifications", False) is True:
        return
    server_pref = setting(state, "Accounts_Default_User_Preferences_desktopNotifications", "all")
    mention_ids = {m["_id"] for m in message.get("mentions", [])}
    group = bool(mention_ids & {"all", "here"})
    members = rooms.subscriptions_of_room(state, room["_id"])
    max_members = int(setting(state, "Notifications_Max_Room_Members", 100) or 0)
    disable_all = max_members != 0 and len(members) > max_members
    for sub in members:
        uid = sub["u"]["_id"]
        if uid == sender["_id"] or sub.get("disableNotifications"):
            continue
        receiver = state.users.get(uid)
        if receiver is None or receiver.get("active") is False:
            continue
        if room.get("t") == "d" and not rooms.has_permission(state, uid, "view-d-room"):
            continue
        if receiver.get("status") == "busy" or not _is_online(state, receiver):
            continue
        pref = sub.get("desktopNotifications")
        if pref == "nothing":
            continue
        wanted = (
            room.get("t") == "d"
            or (group and not disable_all)
            or uid in mention_ids
            or pref in ("all", "allAndReaction")
            or (pref is None and server_pref == "all" and not disable_all)
        )
        if wanted:
            state.bus.notify_user(
                uid, "notification", [_notification(state, message, room, sender, uid)]
            )


def _notification(
    state: SandboxState,
    message: dict[str, Any],
    room: dict[str, Any],
    sender: dict[str, Any],
    receiver_id: str,
) -> dict[str, Any]:
    """notifyDesktopUser's payload, with the room type's title/text/name."""
    real_name = bool(setting(state, "UI_Use_Real_Name", False))
    sender_name = (real_name and sender.get("name")) or sender.get("username") or ""
    text = message.get("msg", "")
    if room.get("t") == "d":
        sub = state.subscription(room["_id"], receiver_id)
        display = (sub or {}).get("fname" if real_name else "name") or sender.get("username")
        group_chat = len(room.get("uids") or []) > 2
        title = display if group_chat else sender_name
        body = f"{sender_name}: {text}" if group_chat else text
        name = room.get("name") or display
    else:
        shown = room.get("fname") if real_name and room.get("fname") else room.get("name")
        title, body, name = f"#{shown}", f"{sender_name}: {text}", room.get("name")
    content: dict[str, Any] = {"msg": text}
    if message.get("t"):
        content["t"] = message["t"]
    sender_ref = {
        "_id": sender["_id"],
        "username": sender.get("username"),
        "name": sender.get("name"),
    }
    payload: dict[str, Any] = {"_id": message["_id"], "rid": message["rid"]}
    if message.get("tmid"):
        payload["tmid"] = message["tmid"]
    payload.update({"sender": sender_ref, "type": room.get("t"), "message": content, "name": name})
    return {"title": title or "", "text": body, "reacted": False, "payload": payload}


# -- updates: edits, reactions, deletions ---------------------------------------------------------


def publish_update(state: SandboxState, message: dict[str, Any]) -> None:
    """A stored message changed: stream it again (same `_id`) and refresh the room's copy."""
    room = state.rooms.get(message.get("rid", ""))
    if room is None:
        return
    last = room.get("lastMessage")
    if isinstance(last, dict) and last.get("_id") == message["_id"]:
        room["lastMessage"] = clone(message)
    state.bus.message(message, room)


def update_message(state: SandboxState, message: dict[str, Any], user_id: str, text: str) -> None:
    """executeUpdateMessage: the author (or `edit-message`) edits within the allowed time."""
    user = state.users.get(user_id)
    if user is None:
        raise MeteorError("error-invalid-user", "Invalid user")
    may_edit_any = permissions.has_permission(state, user_id, "edit-message", message.get("rid"))
    is_author = message.get("u", {}).get("_id") == user_id
    if not setting(state, "Message_AllowEditing", True) or not (may_edit_any or is_author):
        raise MeteorError("error-action-not-allowed", "Message editing not allowed")
    block_minutes = int(setting(state, "Message_AllowEditing_BlockEditInMinutes", 0) or 0)
    if block_minutes and not may_edit_any:
        age = (now() - message["ts"]).total_seconds() / 60
        if age > block_minutes:
            raise MeteorError("error-message-editing-blocked", "Message editing is blocked")
    stamp = now()
    message.update(
        {
            "msg": text,
            "md": markdown.parse(text),
            "editedAt": stamp,
            "editedBy": {"_id": user_id, "username": user.get("username")},
            "_updatedAt": stamp,
        }
    )
    publish_update(state, message)


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
        and not rooms.has_permission(state, user_id, "post-readonly", room["_id"])
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


def can_delete_message(state: SandboxState, user_id: str, message: dict[str, Any]) -> bool:
    """canDeleteMessageAsync."""
    room = state.rooms.get(message.get("rid", ""))
    if room is None:
        return False
    rid = room["_id"]
    if rooms.has_permission(state, user_id, "force-delete-message", rid):
        return True
    if not message.get("ts") or not setting(state, "Message_AllowDeleting", True):
        return False
    own = message.get("u", {}).get("_id") == user_id
    allowed = rooms.has_permission(state, user_id, "delete-message", rid) or (
        own and rooms.has_permission(state, user_id, "delete-own-message")
    )
    if not allowed:
        return False
    if not rooms.has_permission(state, user_id, "bypass-time-limit-edit-and-delete", rid):
        minutes = setting(state, "Message_AllowDeleting_BlockDeleteInMinutes", 0)
        if minutes:
            ts = message["ts"] if isinstance(message["ts"], datetime) else from_ms(0)
            if (to_ms(now()) - to_ms(ts)) / 60000 > float(minutes):
                return False
    read_only = room.get("ro") is True and not rooms.has_permission(
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
    keep_history = bool(setting(state, "Message_KeepHistory", False)) or is_thread
    show_deleted = bool(setting(state, "Message_ShowDeletedStatus", False)) or is_thread
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
    if setting(state, "Store_Last_Message", True) and (
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


# -- reading ------------------------------------------------------------------------------------


def last_visible_message(state: SandboxState, room_id: str) -> dict[str, Any] | None:
    """getLastVisibleMessageSentWithNoTypeByRoomId (ties: the later saved one)."""
    best: tuple[datetime, int, dict[str, Any]] | None = None
    for order, message in enumerate(state.messages.values()):
        if message.get("rid") != room_id or message.get("_hidden") or message.get("t"):
            continue
        if message.get("tmid") and not message.get("tshow"):
            continue
        if best is None or (message["ts"], order) > (best[0], best[1]):
            best = (message["ts"], order, message)
    return best[2] if best else None


def visible_messages(
    state: SandboxState,
    room_id: str,
    *,
    latest: datetime | None = None,
    oldest: datetime | None = None,
    inclusive: bool = False,
    show_thread_messages: bool = True,
    hidden_types: frozenset[str] = frozenset(),
) -> list[dict[str, Any]]:
    """findVisibleByRoomId…: not hidden, not of a hidden type, in the window, newest first."""
    found = []
    for order, message in enumerate(state.messages.values()):
        if message.get("rid") != room_id or message.get("_hidden"):
            continue
        if message.get("t") in hidden_types:
            continue
        if not show_thread_messages and message.get("tmid") and not message.get("tshow"):
            continue
        ts = message["ts"]
        if latest is not None and (ts > latest if inclusive else ts >= latest):
            continue
        if oldest is not None and (ts < oldest if inclusive else ts <= oldest):
            continue
        found.append((message["ts"], order, message))
    # Newest first; messages of the same millisecond keep their insertion order.
    found.sort(key=lambda item: (item[0], item[1]), reverse=True)
    return [message for _, _, message in found]
