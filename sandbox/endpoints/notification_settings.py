"""A room's notification preferences: REST rooms.saveNotification, DDP saveNotificationSettings.

Follows Rocket.Chat 7.x's apps/meteor/app/api/server/v1/rooms.ts (`rooms.saveNotification`:
roomId and a non-empty `notifications` object are required, then every key is saved) and
apps/meteor/app/push-notifications/server/methods/saveNotificationSettings.ts (the DDP method:
a logged-in user, three strings); the saving itself is sandbox.notification_settings.
"""

from __future__ import annotations

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
