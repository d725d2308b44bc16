"""Private groups over REST (groups.create/list/info/members/invite/history) and DDP
(createPrivateGroup).

Bodies, errors and status codes follow Rocket.Chat 7.x's apps/meteor/app/api/server/v1/groups.ts
(findPrivateGroupByIdOrName: only members find a group) and
app/lib/server/methods/createPrivateGroup.ts.
"""

from __future__ import annotations

from typing import Any

from sandbox import api_query, permissions, rooms
from sandbox.api import ApiRequest, route, success
from sandbox.check import Maybe, check
from sandbox.ddp_methods import DdpSession, ddp_method
from sandbox.endpoints.channels import (
    FORBIDDEN,
    add_users_to_room,
    history_page,
    members_page,
    user_list_from_params,
)
from sandbox.errors import Failure, MeteorError, RawResponse
from sandbox.state import SandboxState, parse_date

_NOT_FOUND = 'The required "roomId" or "roomName" param provided does not match any group'


def _not_found() -> MeteorError:
    return MeteorError("error-room-not-found", _NOT_FOUND)


def _param_missing() -> MeteorError:
    return MeteorError(
        "error-room-param-not-provided", 'The parameter "roomId" or "roomName" is required'
    )


def find_private_group(
    state: SandboxState, params: dict[str, Any], user_id: str, *, checked_archived: bool = True
) -> dict[str, Any]:
    """findPrivateGroupByIdOrName: a group the caller can access, by roomId or roomName."""
    has_id, has_name = "roomId" in params, "roomName" in params
    if (not has_id and not has_name) or (
        has_id and not params["roomId"] and has_name and not params["roomName"]
    ):
        raise _param_missing()
    if has_id:
        room = rooms.room_by_id(state, params["roomId"] or "")
    else:
        room = rooms.room_by_name(state, str(params["roomName"] or ""))
    if room is None or room.get("t") != "p" or not rooms.can_access_room(state, room, user_id):
        raise _not_found()
    if checked_archived and room.get("archived"):
        name = room.get("fname") if room.get("prid") else room.get("name")
        raise MeteorError("error-room-archived", f"The private group, {name}, is archived")
    return room


def create_private_group(
    state: SandboxState,
    user: dict[str, Any],
    name: Any,
    members: Any,
    read_only: Any = False,
    custom_fields: Any = None,
    extra_data: Any = None,
    exclude_self: bool = False,
) -> dict[str, Any]:
    """createPrivateGroupMethod: create-p, then createRoom('p', …) with `{customFields,
    ...extraData}` (customFields defaults to {}); returns `{rid, inserted, ...room}`."""
    check(name, str)
    check(members, Maybe([str]))
    if not permissions.has_permission(state, user["_id"], "create-p"):
        raise MeteorError("error-not-allowed", "Not allowed", {"method": "createPrivateGroup"})
    extra: dict[str, Any] = {"customFields": {} if custom_fields is None else custom_fields}
    if isinstance(extra_data, dict):
        extra.update(extra_data)
    room = rooms.create_room(
        state,
        "p",
        rooms.valid_room_name(state, name.strip()),
        user,
        list(members or []),
        read_only=read_only is True,
        extra=extra,
        exclude_self=exclude_self,
        fname=name,
    )
    return {"rid": room["_id"], "inserted": True, **room}


@route("POST", "groups.create")
async def groups_create(req: ApiRequest) -> dict[str, Any]:
    """groups.create {name, members?, readOnly?, customFields?, extraData?, excludeSelf?}."""
    body = req.body if isinstance(req.body, dict) else {}
    if not body.get("name"):
        raise Failure('Body param "name" is required')
    if body.get("members") and not isinstance(body["members"], list):
        raise Failure('Body param "members" must be an array if provided')
    for key in ("customFields", "extraData"):
        if body.get(key) and not isinstance(body[key], (dict, list)):
            raise Failure(f'Body param "{key}" must be an object if provided')
    assert req.user is not None
    # groups.ts turns a MeteorError whose *reason* is 'error-not-allowed' into a 403; the
    # method's reason is 'Not allowed', so a caller without create-p gets the 400.
    created = create_private_group(
        req.state,
        req.user,
        body["name"],
        body.get("members") or [],
        body.get("readOnly", False),
        body.get("customFields"),
        body.get("extraData"),
        bool(body.get("excludeSelf", False)),
    )
    return success({"group": api_query.without_excluded(req.state.rooms[created["rid"]])})


@route("GET", "groups.list")
async def groups_list(req: ApiRequest) -> dict[str, Any]:
    """groups.list?offset&count&sort&fields: the private groups the caller is in."""
    state = req.state
    offset, count = api_query.pagination(state, req.query)
    parsed = api_query.parse_json_query(state, req.query, users_route=False, privileged=False)
    rids = {s["rid"] for s in rooms.subscriptions_of_user(state, req.user_id) if s["t"] == "p"}
    if not rids:
        return success({"groups": [], "offset": offset, "count": 0, "total": 0})
    mine = [room for rid, room in state.rooms.items() if rid in rids and room.get("t") == "p"]
    groups, total = api_query.select(
        mine, sort=parsed.sort or {"name": 1}, offset=offset, count=count, fields=parsed.fields
    )
    return success({"groups": groups, "offset": offset, "count": len(groups), "total": total})


@route("GET", "groups.info")
async def groups_info(req: ApiRequest) -> dict[str, Any]:
    """groups.info?roomId|roomName: `{group}` (archived groups too)."""
    room = find_private_group(req.state, req.query, req.user_id, checked_archived=False)
    return success({"group": api_query.without_excluded(room)})


@route("GET", "groups.members")
async def groups_members(req: ApiRequest) -> dict[str, Any]:
    """groups.members?roomId|roomName&offset&count&filter: only for members of the group."""
    state = req.state
    room = find_private_group(state, req.query, req.user_id)
    if room.get("broadcast") and not permissions.has_permission(
        state, req.user_id, "view-broadcast-member-list", room["_id"]
    ):
        raise RawResponse(403, dict(FORBIDDEN))
    return success(members_page(state, room, req.query))


@route("POST", "groups.invite")
async def groups_invite(req: ApiRequest) -> dict[str, Any]:
    """groups.invite {roomId|roomName, userId|username|userIds|usernames}: `{group}`."""
    state = req.state
    body = req.body if isinstance(req.body, dict) else {}
    id_or_name = body.get("roomId") or body.get("roomName") or ""
    if not isinstance(id_or_name, str) or not id_or_name.strip():
        raise _param_missing()
    room = rooms.room_by_id(state, id_or_name) or rooms.room_by_name(state, id_or_name)
    if room is None or room.get("t") != "p":
        raise _not_found()
    users = user_list_from_params(state, body)
    if not users:
        raise MeteorError(
            "error-empty-invite-list", "Cannot invite if no valid users are provided"
        )
    add_users_to_room(state, req.user_id, room["_id"], [u["username"] for u in users])
    return success({"group": api_query.without_excluded(state.rooms[room["_id"]])})


@route("GET", "groups.history")
async def groups_history(req: ApiRequest) -> dict[str, Any]:
    """groups.history?roomId|roomName&latest&oldest&inclusive&count&offset&unreads.

    Unlike channels.history there is no schema: count defaults to 20 with no upper limit,
    `inclusive` and `unreads` are true for any non-empty text (even "false"), and thread
    messages are shown unless showThreadMessages is "false".
    """
    query = req.query
    room = find_private_group(req.state, query, req.user_id, checked_archived=False)
    result = history_page(
        req.state,
        room,
        req.user_id,
        latest=parse_date(query.get("latest")) if query.get("latest") else None,
        oldest=parse_date(query.get("oldest")) if query.get("oldest") else None,
        inclusive=bool(query.get("inclusive")),
        offset=api_query.parse_int(query["offset"]) if query.get("offset") else 0,
        count=api_query.parse_int(query["count"]) if query.get("count") else 20,
        unreads=bool(query.get("unreads")),
        show_thread_messages=query.get("showThreadMessages") != "false",
    )
    if result is None:
        raise RawResponse(403, dict(FORBIDDEN))
    return success(result)


@ddp_method("createPrivateGroup")
async def ddp_create_private_group(
    session: DdpSession,
    name: Any = None,
    members: Any = None,
    read_only: Any = False,
    custom_fields: Any = None,
    extra_data: Any = None,
) -> dict[str, Any]:
    """createPrivateGroup(name, members, readOnly?, customFields?, extraData?)."""
    user = session.state.users.get(session.user_id or "")
    if user is None:
        raise MeteorError("error-invalid-user", "Invalid user", {"method": "createPrivateGroup"})
    return create_private_group(
        session.state, user, name, members, read_only, custom_fields, extra_data
    )
