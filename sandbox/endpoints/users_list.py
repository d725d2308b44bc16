"""Listing users and saving one's preferences: REST users.list and users.setPreferences.

Follows Rocket.Chat 7.x's apps/meteor/app/api/server/v1/users.ts: users.list (view-d-room;
getNonEmptyQuery/getNonEmptyFields/getInclusiveFields of app/api/server/lib/users.ts, the
query checked by lib/isValidQuery.ts, then an aggregation that projects, adds `nameInsensitive`
and sorts) and users.setPreferences (rest-typings' UsersSetPreferenceParamsPOST, then
server/methods/saveUserPreferences.ts).
"""

from __future__ import annotations

from typing import Any

from sandbox import api_query, permissions
from sandbox.api import ApiRequest, route, success
from sandbox.endpoints.channels import FORBIDDEN
from sandbox.errors import MeteorError, RawResponse
from sandbox.state import SandboxState, clone
from sandbox.validation import compile_schema

# getNonEmptyFields' defaults: what users.list shows unless `fields` says otherwise.
_DEFAULT_FIELDS = (
    *("name", "username", "emails", "roles", "status", "active", "avatarETag"),
    *("lastLogin", "type"),
)
_QUERY_OPERATIONS = ("$or", "$and")


def _non_empty_query(query: dict[str, Any], privileged: bool) -> dict[str, Any]:
    """getNonEmptyQuery: anyone with a username or a name (and, for the privileged, an
    address), then the caller's own query on top."""
    anything = {"$regex": "", "$options": "i"}
    default: dict[str, Any] = {"$or": [{"username": anything}, {"name": anything}]}
    if privileged:
        default["$or"].append({"emails.address": anything})
    return {**default, **query} if query else default


def _allowed_attributes(inclusive: list[str]) -> list[str]:
    allowed = list(inclusive)
    for name, pattern in (
        ("emails", "emails.address.*"),
        ("username", "username.*"),
        ("name", "name.*"),
        ("type", "type.*"),
        ("customFields", "customFields.*"),
    ):
        if name in inclusive:
            allowed.append(pattern)
    return allowed


def _listed(user: dict[str, Any], inclusive: list[str]) -> dict[str, Any]:
    """`$project: inclusiveFields` then `$addFields: {nameInsensitive: {$toLower: '$name'}}`."""
    shown = api_query.projected(user, dict.fromkeys(inclusive, 1))
    name = user.get("name")
    shown["nameInsensitive"] = name.lower() if isinstance(name, str) else ""
    return shown


@route("GET", "users.list", permissions=("view-d-room",))
async def users_list(req: ApiRequest) -> dict[str, Any]:
    """users.list?offset&count&sort&fields&query: `{users, count, offset, total}`."""
    state, caller = req.state, req.user_id
    if state.settings.get(
        "API_Apply_permission_view-outside-room_on_users-list"
    ) and not permissions.has_permission(state, caller, "view-outside-room"):
        raise RawResponse(403, dict(FORBIDDEN))
    offset, count = api_query.pagination(state, req.query)
    privileged = permissions.has_permission(state, caller, "view-full-other-user-info")
    parsed = api_query.parse_json_query(state, req.query, users_route=True, privileged=privileged)
    query = _non_empty_query(parsed.query, privileged)
    fields = {**dict.fromkeys(_DEFAULT_FIELDS, 1), **parsed.fields}
    inclusive = [name for name, wanted in fields.items() if wanted == 1]
    errors = api_query.query_errors(query, _allowed_attributes(inclusive), _QUERY_OPERATIONS)
    if errors:
        raise MeteorError("error-invalid-query", "\n".join(errors))
    sort = dict(parsed.sort) if parsed.sort else {"username": 1}
    if parsed.sort and "status" in parsed.sort:
        sort["active"] = parsed.sort["status"]
    if parsed.sort and "name" in parsed.sort:
        sort["nameInsensitive"] = parsed.sort["name"]
    matched = [
        _listed(user, inclusive) for user in api_query.matching(state.users.values(), query)
    ]
    users, total = api_query.select(matched, sort=sort, offset=offset, count=count)
    return success({"users": users, "count": len(users), "offset": offset, "total": total})


# -- users.setPreferences -------------------------------------------------------------------

_BOOLEAN = {"type": "boolean", "nullable": True}
_STRING = {"type": "string", "nullable": True}
_NUMBER = {"type": "number", "nullable": True}
_PREFERENCE_TYPES: dict[str, dict[str, Any]] = {
    **dict.fromkeys(
        (
            "newRoomNotification",
            "newMessageNotification",
            "emailNotificationMode",
            "desktopNotifications",
            "pushNotifications",
            "sendOnEnter",
            "language",
            "sidebarSortby",
            "sidebarViewMode",
            "themeAppearence",
            "fontSize",
        ),
        _STRING,
    ),
    **dict.fromkeys(
        (
            "clockMode",
            "notificationsSoundVolume",
            "idleTimeLimitH",
            "idleTimeLimitM",
            "idleTimeLimitS",
        ),
        _NUMBER,
    ),
    **dict.fromkeys(
        (
            "useEmojis",
            "convertAsciiEmoji",
            "saveMobileBandwidth",
            "collapseMediaByDefault",
            "autoImageLoad",
            "unreadAlert",
            "enableAutoAway",
            "showThreadsInMainChannel",
            "desktopNotificationRequireInteraction",
            "hideUsernames",
            "hideRoles",
            "displayAvatars",
            "hideFlexTab",
            "sidebarShowFavorites",
            "sidebarShowUnread",
            "sidebarDisplayAvatar",
            "sidebarGroupByType",
            "muteFocusedConversations",
            "receiveLoginDetectionEmail",
            "notifyCalendarEvents",
            "omnichannelTranscriptEmail",
            "omnichannelTranscriptPDF",
            "omnichannelHideConversationAfterClosing",
            "enableMobileRinging",
            "mentionsWithSymbol",
        ),
        _BOOLEAN,
    ),
    "alsoSendThreadToChannel": {**_STRING, "enum": ["default", "always", "never", None]},
    "highlights": {"type": "array", "items": {"type": "string"}, "nullable": True},
    "dontAskAgainList": {
        "type": "array",
        "items": {
            "type": "object",
            "properties": {"action": {"type": "string"}, "label": {"type": "string"}},
        },
        "nullable": True,
    },
    "featuresPreview": {
        "type": "array",
        "items": {
            "type": "object",
            "properties": {"name": {"type": "string"}, "value": {"type": "boolean"}},
        },
        "nullable": True,
    },
}
_SET_PREFERENCES = compile_schema(
    {
        "type": "object",
        "properties": {
            "userId": _STRING,
            "data": {
                "type": "object",
                "properties": _PREFERENCE_TYPES,
                "required": [],
                "additionalProperties": False,
            },
        },
        "required": ["data"],
        "additionalProperties": False,
    }
)
# saveUserPreferences keeps old clients working by mapping their email modes.
_EMAIL_MODES = {"all": "mentions", "disabled": "nothing"}


def save_user_preferences(state: SandboxState, data: dict[str, Any], user_id: str) -> None:
    """saveUserPreferences: language on the user too, old email modes mapped, then every key
    into settings.preferences."""
    user = state.users.get(user_id)
    if user is None:
        return
    settings = user.setdefault("settings", {})
    if data.get("language") is not None:
        user["language"] = data["language"]
    preferences = dict(data)
    mode = preferences.get("emailNotificationMode")
    if mode in _EMAIL_MODES:
        preferences["emailNotificationMode"] = _EMAIL_MODES[mode]
    settings.setdefault("preferences", {}).update(clone(preferences))
    user["_updatedAt"] = state.clock()


@route("POST", "users.setPreferences", validate=_SET_PREFERENCES)
async def users_set_preferences(req: ApiRequest) -> dict[str, Any]:
    """users.setPreferences {userId?, data}: `{user: {_id, settings: {preferences}}}`."""
    state, body = req.state, req.body
    target = body.get("userId")
    if (
        target
        and target != req.user_id
        and not permissions.has_permission(state, req.user_id, "edit-other-user-info")
    ):
        raise MeteorError("error-action-not-allowed", "Editing user is not allowed")
    user_id = target or req.user_id
    if user_id not in state.users:
        raise MeteorError(
            "error-invalid-user", 'The optional "userId" param provided does not match any users'
        )
    save_user_preferences(state, body["data"], user_id)
    user = state.users[user_id]
    preferences = dict((user.get("settings") or {}).get("preferences") or {})
    preferences.pop("language", None)
    if user.get("language") is not None:
        preferences["language"] = user["language"]
    shown = {"_id": user_id, "settings": {"preferences": preferences}}
    return success({"user": shown})
