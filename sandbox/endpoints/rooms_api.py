"""Any room by id or name: REST rooms.info and rooms.get.

Follows Rocket.Chat 7.x's apps/meteor/app/api/server/v1/rooms.ts (findRoomByIdOrName,
`rooms.info` with parseJsonQuery's `fields`, `rooms.get` over the rooms/get method).
"""

from __future__ import annotations

from typing import Any

from sandbox import api_query, rooms
from sandbox.api import ApiRequest, route, success
from sandbox.errors import Failure, MeteorError
from sandbox.state import SandboxState, parse_date


def find_room(
    state: SandboxState, params: dict[str, Any], *, checked_archived: bool = True
) -> dict[str, Any]:
    """findRoomByIdOrName (rooms.ts): any room type, by roomId or roomName."""
    has_id, has_name = "roomId" in params, "roomName" in params
    if (not has_id and not has_name) or (
        has_id and not params["roomId"] and has_name and not params["roomName"]
    ):
        raise MeteorError(
            "error-roomid-param-not-provided", 'The parameter "roomId" or "roomName" is required'
        )
    if has_id:
        room = rooms.room_by_id(state, params["roomId"] or "")
    else:
        room = rooms.room_by_name(state, str(params["roomName"] or ""))
    if room is None:
        raise MeteorError(
            "error-room-not-found",
            'The required "roomId" or "roomName" param provided does not match any channel',
        )
    if checked_archived and room.get("archived"):
        raise MeteorError("error-room-archived", f"The channel, {room.get('name')}, is archived")
    return room


@route("GET", "rooms.info")
async def rooms_info(req: ApiRequest) -> dict[str, Any]:
    """rooms.info?roomId|roomName&fields: `{room}` for a room the caller can access."""
    room = find_room(req.state, req.query)
    parsed = api_query.parse_json_query(req.state, req.query, users_route=False, privileged=False)
    if not rooms.can_access_room(req.state, room, req.user_id):
        raise Failure("not-allowed", error_type="Not Allowed")
    return success({"room": api_query.projected(room, parsed.fields)})


@route("GET", "rooms.get")
async def rooms_get(req: ApiRequest) -> dict[str, Any]:
    """rooms.get?updatedSince=: the caller's rooms as `{update, remove}`."""
    since_text = req.query.get("updatedSince")
    since = None
    if since_text:
        since = parse_date(since_text)
        if since is None:
            raise MeteorError(
                "error-updatedSince-param-invalid",
                'The "updatedSince" query parameter must be a valid date.',
            )
    result = rooms.rooms_for(req.state, req.user_id, since)
    if isinstance(result, list):
        result = {"update": result, "remove": []}
    return success(result)
