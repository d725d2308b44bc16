"""sendNotificationsOnMessage, desktop part: `<uid>/notification` for online members."""

from __future__ import annotations

from typing import Any

from sandbox import permissions, rooms
from sandbox.state import SandboxState


def _is_online(state: SandboxState, user: dict[str, Any]) -> bool:
    connection = user.get("statusConnection")
    if connection is not None:
        return connection != "offline"
    return user["_id"] in state.runtime.get("ddp_online", {})


def send_notifications(
    state: SandboxState, message: dict[str, Any], room: dict[str, Any], sender: dict[str, Any]
) -> None:
    """sendNotificationsOnMessage, desktop part: `<uid>/notification` for online members."""
    if message.get("tmid") or message.get("editedAt"):
        return
    if state.settings.get("Troubleshoot_Disable_Notifications", False) is True:
        return
    server_pref = state.settings.get(
        "Accounts_Default_User_Preferences_desktopNotifications", "all"
    )
    mention_ids = {m["_id"] for m in message.get("mentions", [])}
    group = bool(mention_ids & {"all", "here"})
    members = rooms.subscriptions_of_room(state, room["_id"])
    max_members = int(state.settings.get("Notifications_Max_Room_Members", 100) or 0)
    disable_all = max_members != 0 and len(members) > max_members
    for sub in members:
        uid = sub["u"]["_id"]
        if uid == sender["_id"] or sub.get("disableNotifications"):
            continue
        receiver = state.users.get(uid)
        if receiver is None or receiver.get("active") is False:
            continue
        if room.get("t") == "d" and not permissions.has_permission(state, uid, "view-d-room"):
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
    real_name = bool(state.settings.get("UI_Use_Real_Name", False))
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
