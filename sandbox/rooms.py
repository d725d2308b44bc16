"""Rooms and subscriptions, shaped and announced as Rocket.Chat 7.x does it.

Rooms (`t` 'c' public channel, 'p' private group, 'd' direct message) and subscriptions (one per
member and room) live in `state.rooms` / `state.subscriptions`. Every change is announced on
`state.bus` the way Rocket.Chat's listeners do: `<uid>/subscriptions-changed` and
`<uid>/rooms-changed` on stream-notify-user. Messages live in `sandbox.messaging`, above this
module; only system messages (`uj`, `au` on joining) sit below it. The room functions that REST
and DDP share (createDirectMessage, getRoomByNameOrIdWithOptionToJoin, getSubscriptions) are here
too, so that REST endpoints need not import the DDP ones for them.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from sandbox import permissions
from sandbox.check import check
from sandbox.errors import MeteorError
from sandbox.messaging.system import save_system_message
from sandbox.state import SandboxState, now, random_id

GENERAL_ID = "GENERAL"
ROCKET_CAT = {"_id": "rocket.cat", "username": "rocket.cat", "name": "Rocket.Cat"}


# -- lookups ----------------------------------------------------------------------------------


def room_by_id(state: SandboxState, room_id: Any) -> dict[str, Any] | None:
    """The room with this `_id`, or None (also for non-string ids)."""
    if not isinstance(room_id, str):
        return None
    return state.rooms.get(room_id)


def room_by_name(state: SandboxState, name: str) -> dict[str, Any] | None:
    """A channel or group by its exact name (rooms' names are unique)."""
    for room in state.rooms.values():
        if room.get("t") in ("c", "p") and room.get("name") == name:
            return room
    return None


def subscriptions_of_room(state: SandboxState, room_id: str) -> list[dict[str, Any]]:
    """Every subscription to the room."""
    return state.subscriptions_of_room(room_id)


def subscriptions_of_user(state: SandboxState, user_id: str) -> list[dict[str, Any]]:
    """Every subscription the user has."""
    return [sub for sub in state.subscriptions.values() if sub["u"]["_id"] == user_id]


def member_ids(state: SandboxState, room_id: str) -> list[str]:
    """The user ids subscribed to the room."""
    return [sub["u"]["_id"] for sub in subscriptions_of_room(state, room_id)]


def direct_room_with(state: SandboxState, uids: list[str]) -> dict[str, Any] | None:
    """The DM room whose members are exactly these user ids."""
    wanted = sorted(set(uids))
    if len(wanted) == 2:
        return state.rooms.get("".join(wanted))
    for room in state.rooms.values():
        if room.get("t") == "d" and sorted(room.get("uids", [])) == wanted:
            return room
    return None


# -- access -------------------------------------------------------------------------------------


def can_access_room(state: SandboxState, room: dict[str, Any] | None, user_id: str | None) -> bool:
    """`canAccessRoom`: a public channel with view-c-room, or a subscription to the room."""
    if room is None or not user_id:
        return False
    if room.get("t") == "c" and permissions.has_permission(state, user_id, "view-c-room"):
        return True
    return state.subscription(room["_id"], user_id) is not None


# -- announcing changes -------------------------------------------------------------------------


def notify_subscription(state: SandboxState, sub: dict[str, Any], action: str) -> None:
    """`watch.subscriptions`: `<uid>/subscriptions-changed` [action, subscription]."""
    state.bus.notify_user(sub["u"]["_id"], "subscriptions-changed", [action, sub])
    if action == "inserted":
        room = state.rooms.get(sub["rid"])
        if room is not None:
            # The user stream re-emits the room once a subscription is added.
            state.bus.notify_user(sub["u"]["_id"], "rooms-changed", ["inserted", room])


def notify_room_changed(
    state: SandboxState, room: dict[str, Any], action: str = "updated"
) -> None:
    """`watch.rooms`: `<uid>/rooms-changed` [action, room] to every member of the room."""
    for uid in member_ids(state, room["_id"]):
        state.bus.notify_user(uid, "rooms-changed", [action, room])


def touch(doc: dict[str, Any], when: datetime | None = None) -> None:
    """Set `_updatedAt`, as every write through Rocket.Chat's models does."""
    doc["_updatedAt"] = when or now()


# -- creating rooms and subscriptions -----------------------------------------------------------


def ensure_general(state: SandboxState) -> dict[str, Any]:
    """The public channel `general` (`_id` GENERAL) that a fresh Rocket.Chat has."""
    room = state.rooms.get(GENERAL_ID)
    if room is not None:
        return room
    created = now()
    room = {
        "_id": GENERAL_ID,
        "ts": created,
        "t": "c",
        "name": "general",
        "usernames": [],
        "msgs": 0,
        "usersCount": 0,
        "_updatedAt": created,
        "u": dict(ROCKET_CAT),
        "default": True,
    }
    state.rooms[GENERAL_ID] = room
    return room


def _user_ref(user: dict[str, Any]) -> dict[str, Any]:
    ref = {"_id": user["_id"], "username": user.get("username")}
    if user.get("name") is not None:
        ref["name"] = user["name"]
    return ref


def _new_subscription(
    room: dict[str, Any], user: dict[str, Any], extra: dict[str, Any]
) -> dict[str, Any]:
    """`Subscriptions.createWithRoomAndUser(room, user, extra)`."""
    sub: dict[str, Any] = {
        "_id": random_id(),
        "open": False,
        "alert": False,
        "unread": 0,
        "userMentions": 0,
        "groupMentions": 0,
        "ts": room["ts"],
        "rid": room["_id"],
        "name": room.get("name"),
    }
    if room.get("fname") is not None:
        sub["fname"] = room["fname"]
    sub["t"] = room["t"]
    sub["u"] = _user_ref(user)
    sub.update(extra)
    sub["_updatedAt"] = now()
    return sub


def add_user_to_room(
    state: SandboxState,
    room_id: str,
    user: dict[str, Any],
    *,
    inviter: dict[str, Any] | None = None,
    silenced: bool = False,
) -> None:
    """Subscribe a user to a channel or group (default-channel join, join or invite).

    Inserts the subscription as `addUserToRoom` / `addUserToDefaultChannels` do (open, alert,
    unread 1), bumps `usersCount`, saves the `uj` (joined) or `au` (added by inviter) system
    message unless silenced, and announces `subscriptions-changed` / `rooms-changed`.
    """
    room = state.rooms.get(room_id)
    if room is None:
        raise MeteorError("error-invalid-room", "Invalid room", {"method": "addUserToRoom"})
    if state.subscription(room_id, user["_id"]) is not None:
        return
    joined = now()
    sub = _new_subscription(
        room,
        user,
        {
            "ts": joined,
            "open": True,
            "alert": True,
            "unread": 1,
            "userMentions": 1,
            "groupMentions": 0,
        },
    )
    state.subscriptions[sub["_id"]] = sub
    room["usersCount"] = int(room.get("usersCount", 0)) + 1
    touch(room, joined)
    notify_subscription(state, sub, "inserted")
    notify_room_changed(state, room)
    if silenced:
        return
    if inviter is not None and inviter["_id"] != user["_id"]:
        save_system_message(state, "au", room, user.get("username", ""), inviter)
    else:
        save_system_message(state, "uj", room, user.get("username", ""), user)


def create_room(
    state: SandboxState,
    room_type: str,
    name: str,
    owner: dict[str, Any],
    members: list[str] | None = None,
    *,
    read_only: bool = False,
    extra: dict[str, Any] | None = None,
    exclude_self: bool = False,
    fname: str | None = None,
) -> dict[str, Any]:
    """`createRoom('c'|'p', name, owner, members)`: the room, the owner's subscription (roles
    owner) and one per existing member username; unknown usernames are skipped, as upstream.
    `name` must already be valid (getValidRoomName); `fname` is the name as the user typed it."""
    if not isinstance(name, str) or not name.strip():
        raise MeteorError(
            "error-invalid-name", "Invalid name", {"function": "RocketChat.createRoom"}
        )
    if not owner.get("username"):
        raise MeteorError(
            "error-invalid-user", "Invalid user", {"function": "RocketChat.createRoom"}
        )
    usernames = list(members or [])
    if not exclude_self and owner["username"] not in usernames:
        usernames.append(owner["username"])
    created = now()
    room: dict[str, Any] = {"fname": fname or name, "_updatedAt": created, **(extra or {})}
    room.update(
        {
            "name": name.strip(),
            "t": room_type,
            "msgs": 0,
            "usersCount": 0,
            "u": _user_ref(owner),
            "ts": created,
            "ro": read_only is True,
        }
    )
    room["_id"] = random_id()
    state.rooms[room["_id"]] = room
    notify_room_changed(state, room, "inserted")
    subs = []
    for username in dict.fromkeys(usernames):
        member = state.user_by_username(username)
        if member is None:
            continue
        extra_sub: dict[str, Any] = {"open": True}
        if member["_id"] == owner["_id"]:
            extra_sub.update({"ls": created, "roles": ["owner"]})
        sub = _new_subscription(room, member, extra_sub)
        state.subscriptions[sub["_id"]] = sub
        subs.append(sub)
    room["usersCount"] = len(subs)
    for sub in subs:
        notify_subscription(state, sub, "inserted")
    return room


def valid_room_name(state: SandboxState, name: str) -> str:
    """getValidRoomName: UTF8_Channel_Names_Validation, then uniqueness among channels/groups."""
    pattern = state.settings.get("UTF8_Channel_Names_Validation", "[0-9a-zA-Z-_.]+")
    try:
        valid = re.fullmatch(str(pattern), name) is not None
    except re.error:
        valid = re.fullmatch("[0-9a-zA-Z-_.]+", name) is not None
    details = {"function": "RocketChat.getValidRoomName", "channel_name": name}
    if not valid:
        raise MeteorError("error-invalid-room-name", f"{name} is not a valid room name.", details)
    existing = room_by_name(state, name)
    if existing is not None:
        if existing.get("archived"):
            raise MeteorError(
                "error-archived-duplicate-name",
                f"There's an archived channel with name {name}",
                details,
            )
        raise MeteorError(
            "error-duplicate-channel-name", f"A channel with name '{name}' exists", details
        )
    return name


def create_direct(
    state: SandboxState, members: list[dict[str, Any]], *, creator_id: str | None = None
) -> tuple[dict[str, Any], bool]:
    """`createDirectRoom(members)`: the DM room (new or existing) and whether it was inserted.

    A two-person DM's id is the two user ids sorted and concatenated; `usernames` are sorted by
    display name, `uids` by id. Each member gets a subscription named after the others.
    """
    unique = list({member["_id"]: member for member in members}.values())
    sorted_members = sorted(unique, key=lambda m: m.get("name") or m.get("username") or "")
    usernames = [m["username"] for m in sorted_members if m.get("username")]
    uids = sorted(m["_id"] for m in unique)
    room = direct_room_with(state, uids)
    inserted = room is None
    stamp = now()
    if room is None:
        room = {
            "_id": "".join(uids) if len(uids) == 2 else random_id(),
            "t": "d",
            "usernames": usernames,
            "usersCount": len(members),
            "msgs": 0,
            "ts": stamp,
            "uids": uids,
            "_updatedAt": stamp,
        }
        state.rooms[room["_id"]] = room
    notify_room_changed(state, room, "inserted" if inserted else "updated")
    for member in unique:
        others = [m for m in sorted_members if m["_id"] != member["_id"]] or [member]
        existing = state.subscription(room["_id"], member["_id"])
        if existing is not None:
            if member["_id"] == creator_id and not existing.get("open"):
                existing["open"] = True
                touch(existing)
                notify_subscription(state, existing, "updated")
            continue
        sub = {
            "_id": random_id(),
            "ts": stamp,
            "alert": False,
            "unread": 0,
            "userMentions": 0,
            "groupMentions": 0,
            "open": member["_id"] == creator_id or len(unique) == 1 or len(members) > 2,
            "t": "d",
            "fname": ", ".join(m.get("name") or m.get("username") or "" for m in others),
            "name": ", ".join(m.get("username") or "" for m in others),
            "u": {"_id": member["_id"], "username": member.get("username")},
            "rid": room["_id"],
            "_updatedAt": stamp,
        }
        state.subscriptions[sub["_id"]] = sub
        notify_subscription(state, sub, "inserted")
    return room, inserted


# -- direct messages, lookups that join, subscription lists (shared by REST and DDP) ----------


def _invalid_user() -> MeteorError:
    return MeteorError("error-invalid-user", "Invalid user", {"method": "createDirectMessage"})


def create_direct_message(
    state: SandboxState, usernames: Any, user_id: str | None, exclude_self: bool = False
) -> dict[str, Any]:
    """createDirectMessage(usernames, userId, excludeSelf): `{t:'d', rid, usernames}`."""
    check(usernames, [str])
    check(user_id, str)
    assert user_id is not None
    me = state.users.get(user_id)
    if not me or not me.get("username"):
        raise _invalid_user()
    allow_self = state.settings.get("Message_AllowDirectMessagesToYourself", True)
    if allow_self is False and len(usernames) == 1 and usernames[0] == me["username"]:
        raise _invalid_user()
    others = []
    for username in usernames:
        if username == me["username"]:
            continue
        found = state.user_by_username(username)
        if found is None:
            raise _invalid_user()
        others.append(found)
    members = others if exclude_self else [me, *others]
    if not members or (len(members) == 1 and members[0]["_id"] != me["_id"]):
        raise _invalid_user()
    if not permissions.has_permission(state, user_id, "create-d"):
        if permissions.has_permission(state, user_id, "view-d-room"):
            existing = direct_room_with(state, [m["_id"] for m in members])
            if existing is not None:
                return {"_id": existing["_id"], "t": "d", "rid": existing["_id"]}
        raise MeteorError("error-not-allowed", "Not allowed", {"method": "createDirectMessage"})
    max_users = int(state.settings.get("DirectMesssage_maxUsers", 8) or 1)
    if len(members) > max_users:
        raise MeteorError(
            "error-direct-message-max-user-exceeded",
            f"You cannot add more than {max_users} users, including yourself to a direct message",
            {"method": "createDirectRoom"},
        )
    room, _inserted = create_direct(state, members, creator_id=user_id)
    return {"t": "d", "rid": room["_id"], "usernames": list(room.get("usernames", []))}


def room_by_name_or_id_to_join(
    state: SandboxState,
    user: dict[str, Any],
    name_or_id: str,
    *,
    room_type: str = "",
    direct_by_user_id_only: bool = False,
    join_channel: bool = True,
    error_on_empty: bool = True,
) -> dict[str, Any] | None:
    """getRoomByNameOrIdWithOptionToJoin."""
    room: dict[str, Any] | None
    if name_or_id.startswith("#"):
        room = _by_id_or_name(state, name_or_id[1:])
    elif name_or_id.startswith("@") or room_type == "d":
        name_or_id = name_or_id.replace("@", "", 1)
        if direct_by_user_id_only:
            other = state.users.get(name_or_id)
        else:
            other = state.users.get(name_or_id) or state.user_by_exact_username(name_or_id)
        rid = "".join(sorted([user["_id"], other["_id"]])) if other else name_or_id
        room = state.rooms.get(rid)
        if room is None:
            if other is None:
                if error_on_empty:
                    raise MeteorError("invalid-channel")
                return None
            created = create_direct_message(state, [other["username"]], user["_id"])
            return state.rooms.get(created["rid"])
    else:
        room = _by_id_or_name(state, name_or_id)
    if room is None:
        if error_on_empty:
            raise MeteorError("invalid-channel")
        return None
    if room_type and room.get("t") != room_type:
        if error_on_empty:
            raise MeteorError("invalid-channel")
        return None
    if room.get("t") == "c" and join_channel:
        _join_channel(state, room, user)
    return room


def _join_channel(state: SandboxState, room: dict[str, Any], user: dict[str, Any]) -> None:
    """Room.join for the auto-join of processWebhookMessage."""
    if state.subscription(room["_id"], user["_id"]) is not None:
        return
    if not can_access_room(state, room, user["_id"]):
        raise MeteorError("error-not-allowed", "Not allowed", {"method": "joinRoom"})
    add_user_to_room(state, room["_id"], user)


def _by_id_or_name(state: SandboxState, name_or_id: str) -> dict[str, Any] | None:
    room = state.rooms.get(name_or_id)
    if room is not None:
        return room
    for candidate in state.rooms.values():
        if candidate.get("name") == name_or_id:
            return candidate
    return None


def trash(state: SandboxState, collection: str) -> list[dict[str, Any]]:
    """Deleted documents of a collection (`{_id, _deletedAt}`), for `{update, remove}` answers."""
    return state.runtime.setdefault("trash", {}).setdefault(collection, [])


def subscriptions_for(state: SandboxState, user_id: str, updated_at: Any) -> Any:
    """getSubscriptions(uid, updatedAt?), shared with REST subscriptions.get."""
    mine = subscriptions_of_user(state, user_id)
    if isinstance(updated_at, datetime):
        return {
            "update": [s for s in mine if s.get("_updatedAt") and s["_updatedAt"] > updated_at],
            "remove": [
                {"_id": s["_id"], "_deletedAt": s["_deletedAt"]}
                for s in trash(state, "subscriptions")
                if s["_deletedAt"] > updated_at and s.get("u", {}).get("_id") == user_id
            ],
        }
    return mine


def rooms_for(state: SandboxState, user_id: str, updated_at: Any) -> Any:
    """The rooms/get method (shared with REST rooms.get): the user's rooms; with a date,
    `{update, remove}` of what changed since."""
    rids = {sub["rid"] for sub in subscriptions_of_user(state, user_id)}
    mine = [room for rid, room in state.rooms.items() if rid in rids]
    if isinstance(updated_at, datetime):
        return {
            "update": [r for r in mine if r.get("_updatedAt") and r["_updatedAt"] > updated_at],
            "remove": [
                {"_id": r["_id"], "_deletedAt": r["_deletedAt"]}
                for r in trash(state, "rooms")
                if r["_deletedAt"] > updated_at
            ],
        }
    return mine
