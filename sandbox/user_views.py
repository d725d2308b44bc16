"""How Rocket.Chat shows a user document: `me`/login (getUserInfo), `users.info`
(getFullUserData) and the projections REST routes apply."""

from __future__ import annotations

import json
from typing import Any

from sandbox import permissions
from sandbox.settings_defaults import PREFERENCES_PREFIX
from sandbox.state import SandboxState, clone
from sandbox.versions import PRESENCE_ENGINE

# getBaseUserFields(): what `me` and the login response read from the user document.
BASE_USER_FIELDS = (
    "_id",
    "name",
    "username",
    "nickname",
    "emails",
    "status",
    "statusDefault",
    "statusText",
    "statusConnection",
    "bio",
    "avatarOrigin",
    "utcOffset",
    "language",
    "settings",
    "enableAutoAway",
    "idleTimeLimit",
    "roles",
    "active",
    "defaultRoom",
    "customFields",
    "requirePasswordChange",
    "requirePasswordChangeReason",
    "statusLivechat",
    "banners",
    "_updatedAt",
    "avatarETag",
    "extension",
    "openBusinessHours",
    "type",
    "createdAt",
    "lastLogin",
    "services",
)
# 8.6 (PR #40274): the status claim's source and expiry travel with the user wherever its
# status does (`me`, users.info); `previousState` and `statusId` stay inside the engine.
PRESENCE_ENGINE_FIELDS = ("statusSource", "statusExpiresAt")


def status_fields(state: SandboxState) -> tuple[str, ...]:
    """The presence-engine fields this version shows with a user's status."""
    return PRESENCE_ENGINE_FIELDS if state.at_least(*PRESENCE_ENGINE) else ()


# API.v1.defaultFieldsToExclude
DEFAULT_FIELDS_TO_EXCLUDE = ("joinCode", "members", "importIds", "e2e")
# API.v1.limitedUserFieldsToExclude (users.* routes for callers without view-full-other-user-info)
LIMITED_USER_FIELDS_TO_EXCLUDE = (
    "avatarOrigin",
    "emails",
    "phone",
    "statusConnection",
    "createdAt",
    "lastLogin",
    "services",
    "requirePasswordChange",
    "requirePasswordChangeReason",
    "roles",
    "statusDefault",
    "_updatedAt",
    "settings",
    "inviteToken",
)
PRIVILEGED_USER_FIELDS_TO_EXCLUDE = ("services", "inviteToken")
# getFullUserData.ts
_DEFAULT_INFO_FIELDS = (
    "_id",
    "name",
    "username",
    "nickname",
    "status",
    "utcOffset",
    "type",
    "active",
    "bio",
    "reason",
    "statusText",
    "avatarETag",
    "extension",
    "federated",
    "statusLivechat",
    "freeSwitchExtension",
)
_FULL_INFO_FIELDS = (
    "emails",
    "phone",
    "statusConnection",
    "bio",
    "createdAt",
    "lastLogin",
    "requirePasswordChange",
    "requirePasswordChangeReason",
    "roles",
    "importIds",
)


def pick(doc: dict[str, Any], fields: tuple[str, ...]) -> dict[str, Any]:
    """A deep copy of the listed top-level fields that the document has."""
    return {key: clone(doc[key]) for key in fields if key in doc}


def omit(doc: dict[str, Any], fields: tuple[str, ...]) -> dict[str, Any]:
    """A deep copy without the listed top-level fields."""
    return {key: clone(value) for key, value in doc.items() if key not in fields}


def user_projection_for(
    state: SandboxState, caller_id: str | None, user: dict[str, Any]
) -> dict[str, Any]:
    """parseJsonQuery's default projection on a users.* route (users.create/register)."""
    shown = omit(user, DEFAULT_FIELDS_TO_EXCLUDE)
    if caller_id and permissions.has_permission(state, caller_id, "view-full-other-user-info"):
        return omit(shown, PRIVILEGED_USER_FIELDS_TO_EXCLUDE)
    return omit(shown, LIMITED_USER_FIELDS_TO_EXCLUDE)


def _preferences(state: SandboxState, user: dict[str, Any]) -> dict[str, Any]:
    defaults = {
        key[len(PREFERENCES_PREFIX) :]: value
        for key, value in state.settings.items()
        if key.startswith(PREFERENCES_PREFIX)
    }
    own = (user.get("settings") or {}).get("preferences") or {}
    return {**defaults, **clone(own)}


def user_info(state: SandboxState, user: dict[str, Any], base_url: str) -> dict[str, Any]:
    """getUserInfo(me): the `me` object (also `data.me` of a login)."""
    me = pick(user, BASE_USER_FIELDS + status_fields(state))
    verified = next((entry for entry in user.get("emails") or [] if entry.get("verified")), None)
    if verified is not None:
        me["email"] = verified["address"]
    me["settings"] = {"profile": {}, "preferences": _preferences(state, user)}
    site = str(state.settings.get("Site_Url") or "").rstrip("/") or base_url.rstrip("/")
    me["avatarUrl"] = f"{site}/avatar/{user.get('username')}"
    services = user.get("services")
    me["isOAuthUser"] = bool(
        isinstance(services, dict)
        and any(
            name
            not in (
                "password",
                "resume",
                "email",
                "email2fa",
                "totp",
                "emailCode",
                "passwordHistory",
            )
            for name in services
        )
    )
    me.pop("services", None)
    if isinstance(services, dict):
        reduced: dict[str, Any] = {}
        for name in ("github", "gitlab"):
            if name in services:
                reduced[name] = clone(services[name])
        if services.get("email2fa", {}).get("enabled"):
            reduced["email2fa"] = {"enabled": True}
        if services.get("totp", {}).get("enabled"):
            reduced["totp"] = {"enabled": True}
        reduced["password"] = {"exists": bool(services.get("password", {}).get("bcrypt"))}
        me["services"] = reduced
    return me


def _custom_field_projection(state: SandboxState, can_view_all: bool) -> list[str]:
    raw = str(state.settings.get("Accounts_CustomFields") or "").strip()
    if not raw:
        return []
    try:
        meta = json.loads(raw)
    except ValueError:
        return []
    if not isinstance(meta, dict):
        return []
    return [
        name
        for name, field in meta.items()
        if can_view_all or (isinstance(field, dict) and field.get("public"))
    ]


def full_user_data(
    state: SandboxState, caller_id: str, user: dict[str, Any], myself: bool
) -> dict[str, Any]:
    """getFullUserDataByIdOrUsernameOrImportId: what `users.info` shows of `user`."""
    can_view_all = myself or permissions.has_permission(
        state, caller_id, "view-full-other-user-info"
    )
    fields = (
        _DEFAULT_INFO_FIELDS + status_fields(state) + (_FULL_INFO_FIELDS if can_view_all else ())
    )
    shown = pick(user, fields)
    custom = _custom_field_projection(state, can_view_all)
    if custom and isinstance(user.get("customFields"), dict):
        values = {k: v for k, v in user["customFields"].items() if k in custom}
        if values:
            shown["customFields"] = clone(values)
    if myself and "services" in user:
        services = clone(user["services"])
        if services.get("password"):
            services["password"] = True
        shown["services"] = services
    shown["canViewAllInfo"] = can_view_all
    return shown
