"""A room's notification preferences: REST rooms.saveNotification, DDP saveNotificationSettings.

Follows Rocket.Chat 7.x's apps/meteor/app/api/server/v1/rooms.ts (`rooms.saveNotification`:
roomId and a non-empty `notifications` object are required, then every key is saved) and
apps/meteor/app/push-notifications/server/methods/saveNotificationSettings.ts (the DDP method:
a logged-in user, three strings); the saving itself is sandbox.notification_settings. Also
ignoring a member of a room: DDP `ignoreUser` (apps/meteor/server/methods/ignoreUser.ts) and
REST `chat.ignoreUser?rid&userId&ignore` (apps/meteor/app/api/server/v1/chat.ts).
"""

from __future__ import annotations

import re
from typing import Any

from sandbox import notification_settings
from sandbox.api import ApiRequest, route, success
from sandbox.check import check
from sandbox.ddp_methods import DdpSession, ddp_method
from sandbox.errors import Failure, MeteorError


@route("POST", "rooms.saveNotification")
async def rooms_save_notification(req: ApiRequest) -> dict[str, Any]:
    """rooms.saveNotification {roomId, notifications: {field: value}}."""
    body = req.body if isinstance(req.body, dict) else {}
    room_id = body.get("roomId")
    notifications = body.get("notifications")
    if not room_id:
        raise Failure("The 'roomId' param is required")
    if not isinstance(notifications, dict) or not notifications:
        raise Failure("The 'notifications' param is required")
    for field, value in notifications.items():
        notification_settings.save(req.state, req.user_id, room_id, field, value)
    return success()


@ddp_method("saveNotificationSettings")
async def ddp_save_notification_settings(
    session: DdpSession, room_id: Any = None, field: Any = None, value: Any = None
) -> bool:
    """saveNotificationSettings(roomId, field, value) → true."""
    if not session.user_id:
        raise MeteorError(
            "error-invalid-user", "Invalid user", {"method": notification_settings.METHOD}
        )
    check(room_id, str)
    check(field, str)
    check(value, str)
    return notification_settings.save(session.state, session.user_id, room_id, field, value)


@ddp_method("ignoreUser")
async def ddp_ignore_user(session: DdpSession, params: Any = None) -> bool:
    """ignoreUser({rid, userId, ignore = true}) → true."""
    fields = params if isinstance(params, dict) else {}
    ignore = fields.get("ignore", True)
    check(fields.get("userId"), str)
    check(fields.get("rid"), str)
    check(ignore, bool)
    if not session.user_id:
        raise MeteorError("error-invalid-user", "Invalid user", {"method": "ignoreUser"})
    return notification_settings.ignore_user(
        session.state, session.user_id, fields["rid"], fields["userId"], ignore
    )


@route("GET", "chat.ignoreUser")
async def chat_ignore_user(req: ApiRequest) -> dict[str, Any]:
    """chat.ignoreUser?rid&userId&ignore: `ignore` is true unless it reads otherwise."""
    room_id = (req.query.get("rid") or "").strip()
    user_id = (req.query.get("userId") or "").strip()
    if not room_id:
        raise MeteorError(
            "error-room-id-param-not-provided", 'The required "rid" param is missing.'
        )
    if not user_id:
        raise MeteorError(
            "error-user-id-param-not-provided", 'The required "userId" param is missing.'
        )
    ignore = re.search("true|1", req.query.get("ignore", "true")) is not None
    notification_settings.ignore_user(req.state, req.user_id, room_id, user_id, ignore)
    return success()
