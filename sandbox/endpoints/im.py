"""REST im.* with every dm.* alias (reference §7): create, history, list, members, messages.

Follows Rocket.Chat 7.x's apps/meteor/app/api/server/v1/im.ts (findDirectMessageRoom,
createDirectMessage, getChannelHistory; im.members lists active members through
Users.findPaginatedByActiveUsersExcept with Accounts_SearchFields) and rest-typings'
DmMembersProps / DmMessagesProps.
"""

from __future__ import annotations

import re
from typing import Any

from sandbox import api_query, rooms
from sandbox.api import ApiRequest, route, success
from sandbox.endpoints.channels import FORBIDDEN, HISTORY_FIELDS, channel_history
from sandbox.errors import MeteorError, RawResponse
from sandbox.state import SandboxState
from sandbox.validation import Validator, closed_object, nullable, one_of

_DM_CREATE = one_of(
    closed_object(
        {"username": {"type": "string"}, "excludeSelf": nullable("boolean")}, ["username"]
    ),
    closed_object(
        {"usernames": {"type": "string"}, "excludeSelf": nullable("boolean")}, ["usernames"]
    ),
)


async def _dm_create(req: ApiRequest) -> dict[str, Any]:
    body = req.body
    if "username" in body:
        users = [body["username"]]
    else:
        users = [name.strip() for name in body["usernames"].split(",")]
    room = rooms.create_direct_message(
        req.state, users, req.user_id, bool(body.get("excludeSelf"))
    )
    return success({"room": {**room, "_id": room["rid"]}})


for _name in ("im.create", "dm.create"):
    route("POST", _name, validate=_DM_CREATE)(_dm_create)


_IM_HISTORY = closed_object(
    {"roomId": {"type": "string", "minLength": 1}, **HISTORY_FIELDS}, ["roomId"]
)


def find_direct_message_room(req: ApiRequest, keys: dict[str, Any]) -> dict[str, Any]:
    """findDirectMessageRoom: the DM by roomId or by the other user's username (opened if
    needed, as getRoomByNameOrIdWithOptionToJoin does)."""
    if "roomId" not in keys and "username" not in keys:
        raise MeteorError(
            "error-room-param-not-provided", 'Query param "roomId" or "username" is required'
        )
    assert req.user is not None
    name_or_id = keys["roomId"] if "roomId" in keys else keys["username"]
    room = rooms.room_by_name_or_id_to_join(req.state, req.user, name_or_id, room_type="d")
    if room is None or room.get("t") != "d":
        raise MeteorError(
            "error-room-not-found",
            'The required "roomId" param provided does not match any direct message',
        )
    return room


def _readable(req: ApiRequest, room: dict[str, Any]) -> None:
    if not rooms.can_access_room(req.state, room, req.user_id):
        raise RawResponse(403, dict(FORBIDDEN))


async def _im_history(req: ApiRequest) -> dict[str, Any]:
    room = find_direct_message_room(req, {"roomId": req.query["roomId"]})
    return success(channel_history(req.state, room, req.user_id, req.query))


for _name in ("im.history", "dm.history"):
    route("GET", _name, validate=_IM_HISTORY)(_im_history)


async def _im_list(req: ApiRequest) -> dict[str, Any]:
    """im.list?offset&count&sort&fields: the caller's direct messages, by name by default."""
    state = req.state
    offset, count = api_query.pagination(state, req.query)
    parsed = api_query.parse_json_query(state, req.query, users_route=False, privileged=False)
    rids = {s["rid"] for s in rooms.subscriptions_of_user(state, req.user_id) if s["t"] == "d"}
    mine = [room for rid, room in state.rooms.items() if rid in rids and room.get("t") == "d"]
    ims, total = api_query.select(
        mine, sort=parsed.sort or {"name": 1}, offset=offset, count=count, fields=parsed.fields
    )
    return success({"ims": ims, "offset": offset, "count": len(ims), "total": total})


for _name in ("im.list", "dm.list"):
    route("GET", _name)(_im_list)


_PAGED = {
    "query": {"type": "string"},
    "sort": {"type": "string"},
    "count": {"type": "number"},
    "offset": {"type": "number"},
}


def _by_room_or_username(extra: dict[str, Any]) -> Validator:
    return one_of(
        closed_object({"roomId": {"type": "string"}, **extra, **_PAGED}, ["roomId"]),
        closed_object({"username": {"type": "string"}, **extra, **_PAGED}, ["username"]),
    )


_MEMBER_PROJECTION = ("_id", "username", "name", "status", "statusText", "utcOffset", "federated")


def _search_fields(state: SandboxState) -> list[str]:
    configured = str(state.settings.get("Accounts_SearchFields", "username, name, bio, nickname"))
    return [name.strip() for name in configured.strip().split(",") if name.strip()]


async def _im_members(req: ApiRequest) -> dict[str, Any]:
    """im.members?roomId|username&filter&offset&count&sort: the DM's active members."""
    state, query = req.state, req.query
    room = find_direct_message_room(req, query)
    _readable(req, room)
    offset, count = api_query.pagination(state, query)
    parsed = api_query.parse_json_query(state, query, users_route=False, privileged=False)
    needle = re.compile(re.escape(str(query.get("filter") or "")), re.IGNORECASE)
    fields = _search_fields(state)
    members = [
        user
        for user in state.users.values()
        if user["_id"] in (room.get("uids") or [])
        and user.get("active") is True
        and user.get("username")
        and any(isinstance(user.get(f), str) and needle.search(user[f]) for f in fields)
    ]
    username_order = (parsed.sort or {}).get("username", 1)
    page, total = api_query.select(
        members,
        sort={"_updatedAt": -1, "username": username_order},
        offset=offset,
        count=count,
        fields=dict.fromkeys(_MEMBER_PROJECTION, 1),
    )
    return success({"members": page, "count": len(page), "offset": offset, "total": total})


_IM_MEMBERS = _by_room_or_username(
    {"status": {"type": "array", "items": {"type": "string"}}, "filter": {"type": "string"}}
)
for _name in ("im.members", "dm.members"):
    route("GET", _name, validate=_IM_MEMBERS)(_im_members)


def _ids(text: Any, field: str) -> dict[str, Any]:
    if not isinstance(text, str) or not text:
        return {}
    return {field: {"$in": [part.strip() for part in text.split(",")]}}


async def _im_messages(req: ApiRequest) -> dict[str, Any]:
    """im.messages?roomId|username&mentionIds&starredIds&pinned&offset&count&sort&fields."""
    state, query = req.state, req.query
    keys = {"roomId": query["roomId"]} if query.get("roomId") else {"username": query["username"]}
    room = find_direct_message_room(req, keys)
    _readable(req, room)
    offset, count = api_query.pagination(state, query)
    parsed = api_query.parse_json_query(state, query, users_route=False, privileged=False)
    ours: dict[str, Any] = {"rid": room["_id"], **parsed.query}
    ours.update(_ids(query.get("mentionIds"), "mentions._id"))
    ours.update(_ids(query.get("starredIds"), "starred._id"))
    if str(query.get("pinned", "")).lower() == "true":
        ours["pinned"] = True
    messages, total = api_query.select(
        state.messages.values(),
        query=ours,
        sort=parsed.sort or {"ts": -1},
        offset=offset,
        count=count,
        fields=parsed.fields,
    )
    return success(
        {"messages": messages, "count": len(messages), "offset": offset, "total": total}
    )


_IM_MESSAGES = _by_room_or_username(
    {
        "fields": {"type": "string"},
        "mentionIds": {"type": "string"},
        "starredIds": {"type": "string"},
        "pinned": {"type": "string"},
    }
)
for _name in ("im.messages", "dm.messages"):
    route("GET", _name, validate=_IM_MESSAGES)(_im_messages)
