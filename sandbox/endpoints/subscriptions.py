"""REST subscriptions.get (reference §7): the caller's subscriptions, or what changed since."""

from __future__ import annotations

from typing import Any

from sandbox import rooms
from sandbox.api import ApiRequest, route, success
from sandbox.errors import MeteorError
from sandbox.state import parse_date
from sandbox.validation import closed_object


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
