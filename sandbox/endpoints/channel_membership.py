"""Who is in a public channel: REST channels.join/leave/kick/addOwner/removeOwner/setTopic and
the DDP methods joinRoom and leaveRoom.

Follows Rocket.Chat 7.x's apps/meteor/app/api/server/v1/channels.ts (each route finds the
channel with findChannelByIdOrName first, archived channels refused) and the functions in
sandbox.membership; the schemas are rest-typings' ChannelsJoinProps, ChannelsKickProps and
ChannelsLeaveProps.
"""

from __future__ import annotations

from typing import Any

from sandbox import api_query, membership
from sandbox.api import ApiRequest, route, success
from sandbox.check import check
from sandbox.ddp_methods import DdpSession, ddp_method
from sandbox.endpoints.channels import find_channel
from sandbox.endpoints.users import user_from_params
from sandbox.errors import Failure, MeteorError
from sandbox.validation import closed_object, nullable, one_of

_STRING = {"type": "string"}
_JOIN = one_of(
    closed_object({"roomId": _STRING, "joinCode": nullable("string")}, ["roomId"]),
    closed_object({"roomName": _STRING, "joinCode": nullable("string")}, ["roomName"]),
)
_KICK = one_of(
    closed_object({"roomId": _STRING, "userId": _STRING}, ["roomId", "userId"]),
    closed_object({"roomName": _STRING, "userId": _STRING}, ["roomName", "userId"]),
)
_LEAVE = one_of(
    closed_object({"roomId": _STRING}, ["roomId"]),
    closed_object({"roomName": _STRING}, ["roomName"]),
)
_MISSING = object()


def _channel_answer(req: ApiRequest, params: dict[str, Any]) -> dict[str, Any]:
    """`{channel: findChannelByIdOrName(params)}` after the change."""
    return success({"channel": api_query.without_excluded(find_channel(req.state, params))})


def _room_params(body: dict[str, Any]) -> dict[str, Any]:
    return {key: body[key] for key in ("roomId", "roomName") if key in body}


@route("POST", "channels.join", validate=_JOIN)
async def channels_join(req: ApiRequest) -> dict[str, Any]:
    """channels.join {roomId|roomName, joinCode?}: Room.join, then `{channel}`."""
    assert req.user is not None
    params = _room_params(req.body)
    room = find_channel(req.state, params)
    membership.join_room(req.state, room, req.user, req.body.get("joinCode"))
    return _channel_answer(req, params)


@route("POST", "channels.leave", validate=_LEAVE)
async def channels_leave(req: ApiRequest) -> dict[str, Any]:
    """channels.leave {roomId|roomName}: leaveRoomMethod, then `{channel}`."""
    assert req.user is not None
    params = _room_params(req.body)
    room = find_channel(req.state, params)
    membership.leave_room(req.state, req.user, room["_id"])
    return _channel_answer(req, params)


@route("POST", "channels.kick", validate=_KICK)
async def channels_kick(req: ApiRequest) -> dict[str, Any]:
    """channels.kick {roomId|roomName, userId}: removeUserFromRoomMethod, then `{channel}`."""
    params = _room_params(req.body)
    room = find_channel(req.state, params)
    user = user_from_params(req.state, req.body)
    if not user.get("username"):
        raise Failure("Invalid user")
    membership.kick_user(req.state, req.user_id, room["_id"], user["username"])
    return _channel_answer(req, params)


@route("POST", "channels.addOwner")
async def channels_add_owner(req: ApiRequest) -> dict[str, Any]:
    """channels.addOwner {roomId|roomName, userId|username}: addRoomOwner."""
    body = req.body if isinstance(req.body, dict) else {}
    room = find_channel(req.state, body)
    user = user_from_params(req.state, body)
    membership.add_room_owner(req.state, req.user_id, room["_id"], user["_id"])
    return success()


@route("POST", "channels.removeOwner")
async def channels_remove_owner(req: ApiRequest) -> dict[str, Any]:
    """channels.removeOwner {roomId|roomName, userId|username}: removeRoomOwner."""
    body = req.body if isinstance(req.body, dict) else {}
    room = find_channel(req.state, body)
    user = user_from_params(req.state, body)
    membership.remove_room_owner(req.state, req.user_id, room["_id"], user["_id"])
    return success()


@route("POST", "channels.setTopic")
async def channels_set_topic(req: ApiRequest) -> dict[str, Any]:
    """channels.setTopic {roomId|roomName, topic}: saveRoomSettings(roomTopic) → `{topic}`."""
    body = req.body if isinstance(req.body, dict) else {}
    if "topic" not in body:
        raise Failure('The bodyParam "topic" is required')
    room = find_channel(req.state, body)
    if room.get("topic", _MISSING) == body["topic"]:  # JavaScript's ===: null ≠ undefined
        raise Failure("The channel topic is the same as what it would be changed to.")
    topic = body["topic"] or ""
    membership.save_room_topic(req.state, req.user_id, room["_id"], topic)
    return success({"topic": topic})


@ddp_method("joinRoom")
async def ddp_join_room(session: DdpSession, rid: Any = None, code: Any = None) -> None:
    """joinRoom(rid, code?): Room.join on an existing room."""
    check(rid, str)
    user = session.state.users.get(session.user_id or "")
    if user is None:
        raise MeteorError("error-invalid-user", "Invalid user", {"method": "joinRoom"})
    room = session.state.rooms.get(rid)
    if room is None:
        raise MeteorError("error-invalid-room", "Invalid room", {"method": "joinRoom"})
    membership.join_room(session.state, room, user, code)


@ddp_method("leaveRoom")
async def ddp_leave_room(session: DdpSession, rid: Any = None) -> None:
    """leaveRoom(rid): leaveRoomMethod as the logged-in user."""
    check(rid, str)
    user = session.state.users.get(session.user_id or "")
    if user is None:
        raise MeteorError("error-invalid-user", "Invalid user", {"method": "leaveRoom"})
    membership.leave_room(session.state, user, rid)
