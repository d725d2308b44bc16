"""REST im.* and dm.* (reference §7): open a direct message, read its history.

Follows apps/meteor/app/api/server/v1/im.ts (createDirectMessage, getChannelHistory).
"""

from __future__ import annotations

from typing import Any

from sandbox import rooms
from sandbox.api import ApiRequest, route, success
from sandbox.endpoints.channels import HISTORY_FIELDS, channel_history
from sandbox.errors import MeteorError
from sandbox.validation import closed_object, nullable, one_of

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


async def _im_history(req: ApiRequest) -> dict[str, Any]:
    assert req.user is not None
    room = rooms.room_by_name_or_id_to_join(
        req.state, req.user, req.query["roomId"], room_type="d"
    )
    if room is None or room.get("t") != "d":
        raise MeteorError(
            "error-room-not-found",
            'The required "roomId" param provided does not match any direct message',
        )
    return success(channel_history(req.state, room, req.user_id, req.query))


for _name in ("im.history", "dm.history"):
    route("GET", _name, validate=_IM_HISTORY)(_im_history)
