"""Reading public channels: REST channels.list and channels.info.

Follows Rocket.Chat 7.x's apps/meteor/app/api/server/v1/channels.ts: channels.list shows every
public channel to holders of view-c-room, only the joined ones to holders of view-joined-room,
and nothing (403) to others; team channels only to their members; `count`/`offset`
(getPaginationItems), `sort` (default by name), `fields` and `query` (parseJsonQuery).
"""

from __future__ import annotations

from typing import Any

from sandbox import api_query, permissions, rooms
from sandbox.api import ApiRequest, route, success
from sandbox.endpoints.channels import FORBIDDEN, find_channel
from sandbox.errors import RawResponse


@route("GET", "channels.list")
async def channels_list(req: ApiRequest) -> dict[str, Any]:
    """channels.list?offset&count&sort&fields&query: `{channels, count, offset, total}`."""
    state, user_id = req.state, req.user_id
    offset, count = api_query.pagination(state, req.query)
    parsed = api_query.parse_json_query(state, req.query, users_route=False, privileged=False)
    subscribed = {sub["rid"] for sub in rooms.subscriptions_of_user(state, user_id)}
    candidates = [room for room in state.rooms.values() if room.get("t") == "c"]
    if not permissions.has_permission(state, user_id, "view-c-room"):
        if not permissions.has_permission(state, user_id, "view-joined-room"):
            raise RawResponse(403, dict(FORBIDDEN))
        candidates = [room for room in candidates if room["_id"] in subscribed]
    # A team's channels only for the team's members (the `$or` on teamId).
    candidates = [r for r in candidates if "teamId" not in r or r["_id"] in subscribed]
    channels, total = api_query.select(
        candidates,
        query=parsed.query,
        sort=parsed.sort or {"name": 1},
        offset=offset,
        count=count,
        fields=parsed.fields,
    )
    return success(
        {"channels": channels, "count": len(channels), "offset": offset, "total": total}
    )


@route("GET", "channels.info")
async def channels_info(req: ApiRequest) -> dict[str, Any]:
    """channels.info?roomId|roomName: `{channel}`, archived channels included."""
    room = find_channel(req.state, req.query, checked_archived=False)
    return success({"channel": api_query.without_excluded(room)})
