"""What Rocket.Chat does after a message is saved or changed, and how clients hear of it.

`after_save` runs afterSaveMessage's effects in order: thread counters, subscription counters
(`subscriptions-changed`), desktop notifications, the message on stream-room-messages, the
room's `lastMessage` (`rooms-changed`). `publish_update` re-streams a changed message.
"""

from __future__ import annotations

from typing import Any

from sandbox import rooms
from sandbox.messaging import notifications
from sandbox.state import SandboxState, clone, now


def after_save(
    state: SandboxState, message: dict[str, Any], room: dict[str, Any], sender: dict[str, Any]
) -> None:
    """afterSaveMessage: thread counters, subscription counters, desktop notifications, the
    message on stream-room-messages, then the room's `lastMessage` (`rooms-changed`)."""
    if message.get("tmid"):
        _count_thread_reply(state, message, room)
    changed_subs = _update_subscriptions(state, message, room)
    notifications.send_notifications(state, message, room, sender)
    state.bus.message(message, room)
    for sub in changed_subs:
        rooms.notify_subscription(state, sub, "updated")
    room["msgs"] = int(room.get("msgs", 0)) + 1
    if not message.get("tmid") or message.get("tshow"):
        room["lm"] = message["ts"]
        if state.settings.get("Store_Last_Message", True):
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
    unread_mode = state.settings.get(count_key, default_count)
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


def publish_update(state: SandboxState, message: dict[str, Any]) -> None:
    """A stored message changed: stream it again (same `_id`) and refresh the room's copy."""
    room = state.rooms.get(message.get("rid", ""))
    if room is None:
        return
    last = room.get("lastMessage")
    if isinstance(last, dict) and last.get("_id") == message["_id"]:
        room["lastMessage"] = clone(message)
    state.bus.message(message, room)
