"""Subscriptions over REST (subscriptions.get/getOne/read) and DDP (readMessages).

Follows Rocket.Chat 7.x's apps/meteor/app/api/server/v1/subscriptions.ts, rest-typings'
subscriptions schemas and server/methods/readMessages.ts.
"""

from __future__ import annotations

from typing import Any

from sandbox import membership, rooms
from sandbox.api import ApiRequest, route, success
from sandbox.check import check
from sandbox.ddp_methods import DdpSession, ddp_method
from sandbox.errors import Failure, MeteorError
from sandbox.state import parse_date
from sandbox.validation import closed_object, compile_schema, nullable


@route(
    "GET", "subscriptions.get", validate=closed_object({"updatedSince": {"type": "string"}}, [])
)
async def subscriptions_get(req: ApiRequest) -> dict[str, Any]:
    """subscriptions.get?updatedSince=: `{update, remove}`."""
    since_text = req.query.get("updatedSince")
    since = None
    if since_text:
        since = parse_date(since_text)
        if since is None:
            raise MeteorError(
                "error-roomId-param-invalid",
                'The "lastUpdate" query parameter must be a valid date.',
            )
    result = rooms.subscriptions_for(req.state, req.user_id, since)
    if isinstance(result, list):
        return success({"update": result, "remove": []})
    return success(result)


@route(
    "GET",
    "subscriptions.getOne",
    validate=closed_object({"roomId": {"type": "string"}}, ["roomId"]),
)
async def subscriptions_get_one(req: ApiRequest) -> dict[str, Any]:
    """subscriptions.getOne?roomId=: the caller's subscription to the room, or null."""
    room_id = req.query["roomId"]
    if not room_id:
        raise Failure("The 'roomId' param is required")
    return success({"subscription": req.state.subscription(room_id, req.user_id)})


def _read_branch(key: str) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": {key: {"type": "string"}, "readThreads": nullable("boolean")},
        "required": [key],
        "additionalProperties": False,
    }


_READ = compile_schema({"anyOf": [_read_branch("rid"), _read_branch("roomId")]})


@route("POST", "subscriptions.read", validate=_READ)
async def subscriptions_read(req: ApiRequest) -> dict[str, Any]:
    """subscriptions.read {rid|roomId, readThreads?}: readMessages for the caller."""
    room_id = req.body["rid"] if "rid" in req.body else req.body["roomId"]
    membership.read_messages(req.state, room_id, req.user_id, req.body.get("readThreads") is True)
    return success()


@ddp_method("readMessages")
async def ddp_read_messages(
    session: DdpSession, rid: Any = None, read_threads: Any = False
) -> None:
    """readMessages(rid, readThreads?)."""
    check(rid, str)
    if not session.user_id:
        raise MeteorError("error-invalid-user", "Invalid user", {"method": "readMessages"})
    membership.read_messages(session.state, rid, session.user_id, read_threads is True)
