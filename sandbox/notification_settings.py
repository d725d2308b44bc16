"""A member's notification preferences for one room, as saveNotificationSettings keeps them.

Follows apps/meteor/app/push-notifications/server/methods/saveNotificationSettings.ts
(saveNotificationSettingsMethod) and utils/server/getUserNotificationPreference.ts: each field
is stored on the member's subscription; `desktopNotifications`, `mobilePushNotifications` and
`emailNotifications` take all / mentions / nothing, or `default`, which puts the user's own
preference there (origin `user`) or, when they have none, removes the field (the server's
default then applies); the switches take "1" for on and anything else for off. A change that
modified the subscription is announced on `<uid>/subscriptions-changed`.

`ignore_user` is apps/meteor/server/methods/ignoreUser.ts: a member ignores another member of
the room (their subscription's `ignored` list), which sendNotificationsOnMessage.ts honours.
"""

from __future__ import annotations

from typing import Any, Final

from sandbox import rooms
from sandbox.errors import MeteorError
from sandbox.state import SandboxState

METHOD: Final = "saveNotificationSettings"
BASIC_VALUES: Final = ("all", "mentions", "nothing", "default")
# Subscription field → (the user preference `default` reads, the origin field it sets).
PREFERENCE_FIELDS: Final = {
    "desktopNotifications": ("desktopNotifications", "desktopPrefOrigin"),
    "mobilePushNotifications": ("pushNotifications", "mobilePrefOrigin"),
    "emailNotifications": ("emailNotificationMode", "emailPrefOrigin"),
}
SWITCHES: Final = (
    "disableNotifications",
    "hideUnreadStatus",
    "hideMentionStatus",
    "muteGroupMentions",
)
FIELDS: Final = (*PREFERENCE_FIELDS, "unreadAlert", *SWITCHES, "audioNotificationValue")


def _user_preference(state: SandboxState, user_id: str, key: str) -> Any:
    """getUserNotificationPreference: the user's own value (origin `user`), else None (a
    server default is not copied onto the subscription)."""
    user = state.users.get(user_id) or {}
    preferences = (user.get("settings") or {}).get("preferences") or {}
    return preferences.get(key)


def save(state: SandboxState, user_id: str, room_id: str, field: str, value: str) -> bool:
    """saveNotificationSettingsMethod(userId, roomId, field, value): True, or a MeteorError."""
    if field not in FIELDS:
        raise MeteorError("error-invalid-settings", "Invalid settings field", {"method": METHOD})
    if field in PREFERENCE_FIELDS and value not in BASIC_VALUES:
        raise MeteorError("error-invalid-settings", "Invalid settings value", {"method": METHOD})
    subscription = state.subscription(room_id, user_id)
    if subscription is None:
        raise MeteorError("error-invalid-subscription", "Invalid subscription", {"method": METHOD})
    before = dict(subscription)
    if field in PREFERENCE_FIELDS:
        preference, origin_field = PREFERENCE_FIELDS[field]
        own = _user_preference(state, user_id, preference) if value == "default" else value
        if own is None:
            subscription.pop(field, None)
            subscription.pop(origin_field, None)
        else:
            subscription[field] = own
            subscription[origin_field] = "user" if value == "default" else "subscription"
    elif field in SWITCHES:
        subscription[field] = value == "1"
    elif field == "audioNotificationValue" and value == "default":
        subscription.pop(field, None)
    else:
        subscription[field] = value
    if subscription != before:  # Mongo's modifiedCount
        rooms.touch(subscription)
        rooms.notify_subscription(state, subscription, "updated")
    return True


def ignore_user(
    state: SandboxState, user_id: str, room_id: str, ignored_id: str, ignore: bool
) -> bool:
    """ignoreUser({rid, userId, ignore}): both must be members of the room."""
    subscription = state.subscription(room_id, user_id)
    if subscription is None or state.subscription(room_id, ignored_id) is None:
        raise MeteorError(
            "error-invalid-subscription", "Invalid subscription", {"method": "ignoreUser"}
        )
    ignored = list(subscription.get("ignored") or [])
    changed = (ignored_id not in ignored) if ignore else (ignored_id in ignored)
    if changed:
        if ignore:
            ignored.append(ignored_id)
        else:
            ignored.remove(ignored_id)
        subscription["ignored"] = ignored
        rooms.touch(subscription)
        rooms.notify_subscription(state, subscription, "updated")
    return True
