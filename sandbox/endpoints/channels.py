"""REST channels.history/members/create/invite (reference §7), and what other room routes
share: getChannelHistory (im.history, groups.history), findChannelByIdOrName, findUsersOfRoom.

Bodies, errors and status codes follow apps/meteor/app/api/server/v1/{channels,groups}.ts and
the functions they call (findChannelByIdOrName, getChannelHistory, createRoom, addUsersToRoom).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sandbox import api_query, permissions, rooms
from sandbox.api import ApiRequest, route, success
from sandbox.check import Maybe, check
from sandbox.errors import Failure, MeteorError, RawResponse
from sandbox.messaging import history, system
from sandbox.state import SandboxState, now, parse_date
from sandbox.validation import closed_object, one_of

FORBIDDEN = {"success": False, "error": "unauthorized"}

HISTORY_FIELDS = {
    "latest": {"type": "string", "minLength": 1},
    "showThreadMessages": {"type": "string", "enum": ["true", "false"]},
    "oldest": {"type": "string", "minLength": 1},
    "inclusive": {"type": "string", "enum": ["true", "false"]},
    "unreads": {"type": "string", "enum": ["true", "false"]},
    "count": {"type": "number"},
    "offset": {"type": "number"},
}


def channel_history(
    state: SandboxState, room: dict[str, Any], user_id: str, query: dict[str, Any]
) -> dict[str, Any]:
    """channels.history / im.history: their params, then getChannelHistory; 403 when the room
    is not readable."""
    offset, count = api_query.pagination(state, query)
    result = history_page(
        state,
        room,
        user_id,
        latest=parse_date(query.get("latest")) if query.get("latest") else None,
        oldest=parse_date(query.get("oldest")) if query.get("oldest") else None,
        inclusive=query.get("inclusive") == "true",
        offset=offset,
        count=count,
        unreads=query.get("unreads") == "true",
        show_thread_messages=query.get("showThreadMessages") == "true",
    )
    if result is None:
        raise RawResponse(403, dict(FORBIDDEN))
    return result


def history_page(
    state: SandboxState,
    room: dict[str, Any],
    user_id: str,
    *,
    latest: datetime | None,
    oldest: datetime | None,
    inclusive: bool,
    offset: int,
    count: int,
    unreads: bool,
    show_thread_messages: bool,
) -> dict[str, Any] | None:
    """getChannelHistory: `{messages, firstUnread?, unreadNotLoaded?}`, None if not readable."""
    can_read = rooms.can_access_room(state, room, user_id) or (
        room.get("t") == "c" and permissions.has_permission(state, user_id, "preview-c-room")
    )
    if not can_read:
        return None
    records = history.visible_messages(
        state,
        room["_id"],
        # new Date() of the request; +1 ms so a message saved in the same millisecond, which
        # in the sandbox is always saved before this request, is not lost to the race.
        latest=latest or now() + timedelta(milliseconds=1),
        oldest=oldest,
        inclusive=inclusive,
        show_thread_messages=show_thread_messages,
    )
    messages = records[offset : offset + count] if count > 0 else records[offset:]
    result: dict[str, Any] = {"messages": messages}
    if unreads:
        unread_not_loaded = 0
        if oldest is not None and messages and messages[-1]["ts"] > oldest:
            between = [
                m
                for m in history.visible_messages(
                    state, room["_id"], show_thread_messages=show_thread_messages
                )
                if oldest < m["ts"] < messages[-1]["ts"]
            ]
            if between:
                result["firstUnread"] = between[-1]
            unread_not_loaded = len(between)
        result["unreadNotLoaded"] = unread_not_loaded
    return result


def find_channel(
    state: SandboxState, params: dict[str, Any], *, checked_archived: bool = True
) -> dict[str, Any]:
    """findChannelByIdOrName: a public channel by `roomId` or `roomName`."""
    room = None
    if "roomId" in params:
        room = state.rooms.get(str(params.get("roomId") or ""))
    elif "roomName" in params:
        room = rooms.room_by_name(state, str(params.get("roomName") or ""))
    if room is None or room.get("t") not in ("c", "l"):
        raise MeteorError(
            "error-room-not-found",
            'The required "roomId" or "roomName" param provided does not match any channel',
        )
    if checked_archived and room.get("archived"):
        raise MeteorError("error-room-archived", f"The channel, {room.get('name')}, is archived")
    return room


_CHANNELS_HISTORY = one_of(
    closed_object({"roomId": {"type": "string"}, **HISTORY_FIELDS}, ["roomId"]),
    closed_object({"roomName": {"type": "string"}, **HISTORY_FIELDS}, ["roomName"]),
)


@route("GET", "channels.history", validate=_CHANNELS_HISTORY)
async def channels_history(req: ApiRequest) -> dict[str, Any]:
    """channels.history?roomId|roomName&latest&oldest&inclusive&count&offset&unreads."""
    room = find_channel(req.state, req.query, checked_archived=False)
    return success(channel_history(req.state, room, req.user_id, req.query))


_MEMBER_FIELDS = ("_id", "username", "name", "status", "statusText", "utcOffset")


def members_page(
    state: SandboxState, room: dict[str, Any], query: dict[str, str]
) -> dict[str, Any]:
    """findUsersOfRoom: active members sorted by username, paged by getPaginationItems."""
    offset, count = api_query.pagination(state, query)
    needle = str(query.get("filter") or "").casefold()
    member_ids = {
        sub["u"]["_id"] for sub in state.subscriptions.values() if sub.get("rid") == room["_id"]
    }
    members = [
        {key: user[key] for key in _MEMBER_FIELDS if key in user}
        for user in state.users.values()
        if user["_id"] in member_ids
        and user.get("active", True)
        and (
            not needle
            or needle in str(user.get("username", "")).casefold()
            or needle in str(user.get("name", "")).casefold()
        )
    ]
    members.sort(key=lambda member: str(member.get("username", "")))
    page = members[offset : offset + count] if count else members[offset:]
    return {"members": page, "count": len(page), "offset": offset, "total": len(members)}


@route("GET", "channels.members")
async def channels_members(req: ApiRequest) -> dict[str, Any]:
    """channels.members?roomId|roomName&offset&count&filter: the channel's members."""
    room = find_channel(req.state, req.query, checked_archived=False)
    return success(members_page(req.state, room, req.query))


@route("POST", "channels.create")
async def channels_create(req: ApiRequest) -> dict[str, Any]:
    """channels.create {name, members?, readOnly?, customFields?, extraData?, excludeSelf?}."""
    state = req.state
    body = req.body if isinstance(req.body, dict) else {}
    if not permissions.has_permission(state, req.user_id, "create-c"):
        raise RawResponse(403, dict(FORBIDDEN))
    if not body.get("name"):
        raise Failure('Param "name" is required')
    if body.get("members") and not isinstance(body["members"], list):
        raise Failure('Param "members" must be an array if provided')
    if body.get("customFields") and not isinstance(body["customFields"], dict):
        raise Failure('Param "customFields" must be an object if provided')
    name = body["name"]
    check(name, str)
    members = body.get("members") or []
    check(members, Maybe([str]))
    assert req.user is not None
    extra = dict(body.get("extraData") or {}) if isinstance(body.get("extraData"), dict) else {}
    if isinstance(body.get("customFields"), dict):
        extra = {"customFields": body["customFields"], **extra}
    valid = rooms.valid_room_name(state, name.strip())
    room = rooms.create_room(
        state,
        "c",
        valid,
        req.user,
        list(members),
        read_only=body.get("readOnly") is True,
        extra=extra,
        exclude_self=bool(body.get("excludeSelf")),
        fname=name,
    )
    return success({"channel": api_query.without_excluded(room)})


def user_list_from_params(state: SandboxState, params: dict[str, Any]) -> list[dict[str, Any]]:
    """getUserListFromParams: userId/username/user plus userIds/usernames, all must exist."""
    sole = params.get("userId") or params.get("username") or params.get("user")
    wanted = list(params.get("userIds") or params.get("usernames") or [])
    wanted.append(sole or "")
    names = list(dict.fromkeys(str(item) for item in wanted if item))
    if not names:
        return []
    found = []
    for item in names:
        user = state.users.get(item) or state.user_by_exact_username(item)
        if user is not None:
            found.append(user)
    if len(found) != len(names):
        raise MeteorError(
            "error-users-params-not-found",
            'The required "userIds" or "usernames" param provided does not match any user',
        )
    return found


@route("POST", "channels.invite")
async def channels_invite(req: ApiRequest) -> dict[str, Any]:
    """channels.invite {roomId|roomName, userId|username|userIds|usernames}: `{channel}`."""
    state = req.state
    body = req.body if isinstance(req.body, dict) else {}
    room = find_channel(state, body)
    users = user_list_from_params(state, body)
    if not users:
        raise Failure(
            "invalid-user-invite-list", error_type="Cannot invite if no users are provided"
        )
    add_users_to_room(state, req.user_id, room["_id"], [u["username"] for u in users])
    return success({"channel": api_query.without_excluded(find_channel(state, body))})


def add_users_to_room(
    state: SandboxState, user_id: str, room_id: str, usernames: list[str]
) -> None:
    """addUsersToRoom: permission, then each user (already-members get an ephemeral)."""
    room = state.rooms.get(room_id)
    if room is None:
        raise MeteorError("error-invalid-room", "Invalid room", {"method": "addUsersToRoom"})
    member = state.subscription(room_id, user_id) is not None
    allowed = (
        (member and permissions.has_permission(state, user_id, "add-user-to-joined-room", room_id))
        or (
            room.get("t") == "c"
            and permissions.has_permission(state, user_id, "add-user-to-any-c-room")
        )
        or (
            room.get("t") == "p"
            and permissions.has_permission(state, user_id, "add-user-to-any-p-room")
        )
    )
    if not allowed:
        raise MeteorError("error-not-allowed", "Not allowed", {"method": "addUsersToRoom"})
    if room.get("t") not in ("c", "p"):
        raise MeteorError("error-invalid-room", "Invalid room", {"method": "addUsersToRoom"})
    inviter = state.users[user_id]
    for username in usernames:
        new_user = state.user_by_username(username)
        if new_user is None:
            raise MeteorError(
                "error-user-not-found", "User not found", {"method": "addUsersToRoom"}
            )
        if state.subscription(room_id, new_user["_id"]) is None:
            rooms.add_user_to_room(state, room_id, new_user, inviter=inviter)
        else:
            text = system.translate("Username_is_already_in_here", new_user["username"])
            system.ephemeral(state, user_id, room_id, text)
