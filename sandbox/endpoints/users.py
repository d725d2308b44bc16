"""Accounts over REST: `users.register`, `users.create`, `users.info` (status routes: status.py)."""

from __future__ import annotations

import json
from typing import Any

from sandbox import accounts, password_policy, permissions, profile, user_views
from sandbox.api import ApiRequest, route, success
from sandbox.errors import CoreMeteorError, Failure, MeteorError, PlainError, RawResponse
from sandbox.validation import compile_schema, nullable_string

_STRING = {"type": "string"}

register_schema = compile_schema(
    {
        "type": "object",
        "properties": {
            "username": _STRING,
            "name": nullable_string(),
            "email": _STRING,
            "pass": _STRING,
            "secret": nullable_string(),
            "reason": nullable_string(),
            "customFields": {"type": "object", "nullable": True},
        },
        "required": ["username", "email", "pass"],
        "additionalProperties": False,
    }
)

create_schema = compile_schema(
    {
        "type": "object",
        "properties": {
            "email": _STRING,
            "name": _STRING,
            "password": _STRING,
            "username": _STRING,
            "active": {"type": "boolean", "nullable": True},
            "bio": nullable_string(),
            "nickname": nullable_string(),
            "statusText": nullable_string(),
            "roles": {"type": "array", "items": _STRING},
            "joinDefaultChannels": {"type": "boolean", "nullable": True},
            "requirePasswordChange": {"type": "boolean", "nullable": True},
            "setRandomPassword": {"type": "boolean", "nullable": True},
            "sendWelcomeEmail": {"type": "boolean", "nullable": True},
            "verified": {"type": "boolean", "nullable": True},
            "customFields": {"type": "object"},
            "fields": _STRING,
        },
        "required": ["email", "name", "password", "username"],
        "additionalProperties": False,
    }
)


def _meteor_error_json(exc: MeteorError) -> dict[str, Any]:
    """`API.v1.failure(error)` with an error object: the error's own fields + success:false."""
    body: dict[str, Any] = {"isClientSafe": True, "error": exc.error}
    if exc.reason is not None:
        body["reason"] = exc.reason
    if exc.details is not None:
        body["details"] = exc.details
    body["message"] = exc.message
    body["success"] = False
    return body


def _match_string(form: dict[str, Any], key: str, optional: bool = False) -> None:
    """Meteor `check(formData, Match.ObjectIncluding({...: String}))` for one key."""
    if key not in form:
        if optional:
            return
        raise PlainError(f"Match error: Missing key '{key}'")
    value = form[key]
    if not isinstance(value, str):
        shown = "null" if value is None else type(value).__name__
        raise PlainError(f"Match error: Expected string, got {shown} in field {key}")


def _set_username_with_validation(state: Any, user: dict[str, Any], username: str) -> None:
    """setUsernameWithValidation (the second half of users.register)."""
    if not username:
        raise MeteorError("error-invalid-username", "Invalid username", {"method": "setUsername"})
    if user.get("username") and not state.settings.get("Accounts_AllowUsernameChange"):
        raise MeteorError("error-not-allowed", "Not allowed")
    if user.get("username") and str(user["username"]).lower() == username.lower():
        return
    if not profile.validate_username(state, username):
        raise MeteorError(
            "username-invalid",
            f"{username} is not a valid username, use only letters, numbers, dots, hyphens "
            "and underscores",
        )
    if not profile.check_username_availability(state, username):
        raise MeteorError(
            "error-field-unavailable",
            f"**{username}** is already in use 😞",
            {"method": "setUsername", "field": username},
        )
    first = not user.get("username")
    state.set_username(user, username)
    if first:
        accounts.join_general(state, user)


@route("POST", "users.register", auth=False, validate=register_schema)
async def register(req: ApiRequest) -> dict[str, Any]:
    """POST users.register: registerUser, then the username (1 call/min/IP by default)."""
    state, body = req.state, req.body
    if not profile.check_username_availability(state, body["username"]):
        raise Failure("Username is already in use")
    custom_fields = body.get("customFields")
    if custom_fields:
        try:
            profile.validate_custom_fields(state, custom_fields)
        except MeteorError as exc:
            raise RawResponse(400, _meteor_error_json(exc)) from None
    form = {key: value for key, value in body.items() if key != "secret"}
    for key in ("email", "pass", "name"):
        _match_string(form, key)
    form_setting = state.settings.get("Accounts_RegistrationForm")
    if form_setting == "Disabled":
        raise MeteorError(
            "error-user-registration-disabled",
            "User registration is disabled",
            {"method": "registerUser"},
        )
    if form_setting == "Secret URL" and (
        not body.get("secret")
        or body["secret"] != state.settings.get("Accounts_RegistrationForm_SecretURL")
    ):
        raise MeteorError(
            "error-user-registration-secret",
            "User registration is only allowed via Secret URL",
            {"method": "registerUser"},
        )
    password_policy.validate(state, form["pass"])
    profile.validate_email_domain(state, form["email"])
    email = form["email"].strip().lower()
    if state.user_by_email(email) is not None:
        raise MeteorError(403, "Email already exists.")
    user = accounts.create_user(
        state,
        username=None,
        email=email,
        password=form["pass"],
        name=form["name"].strip(),
        active=not state.settings.get("Accounts_ManuallyApproveNewUsers"),
    )
    profile.send_verification_email(state, user, email)
    _set_username_with_validation(state, user, body["username"])
    if custom_fields:
        profile.save_custom_fields(state, user, custom_fields)
    return success({"user": user_views.user_projection_for(state, None, user)})


@route("POST", "users.create", validate=create_schema)
async def create(req: ApiRequest) -> dict[str, Any]:
    """POST users.create (admin, `create-user`): saveUser's validation, then the new user."""
    state, body, caller = req.state, req.body, req.user_id
    custom_fields = body.get("customFields")
    if custom_fields:
        profile.validate_custom_fields(state, custom_fields)

    def refuse(error: str, reason: str, details: dict[str, Any]) -> None:
        raise CoreMeteorError(error, reason, {"method": "insertOrUpdateUser", **details})

    if not permissions.has_permission(state, caller, "create-user"):
        refuse("error-action-not-allowed", "Adding user is not allowed", {"action": "Adding_user"})
    roles = body.get("roles")
    if roles:
        if any(role not in permissions.known_roles(state) for role in roles):
            refuse(
                "error-action-not-allowed",
                "The field Roles consist invalid role id",
                {"action": "Assign_role"},
            )
        if "admin" in roles and not permissions.has_permission(state, caller, "assign-admin-role"):
            refuse(
                "error-action-not-allowed",
                "Assigning admin is not allowed",
                {"action": "Assign_admin"},
            )
    if state.settings.get("Accounts_RequireNameForSignUp") and not body["name"].strip():
        refuse("error-the-field-is-required", "The field Name is required", {"field": "Name"})
    username = body["username"]
    if not username.strip():
        refuse(
            "error-the-field-is-required", "The field Username is required", {"field": "Username"}
        )
    if not profile.validate_username(state, username):
        refuse(
            "error-input-is-not-a-valid-field",
            f"{username} is not a valid username",
            {"input": username, "field": "Username"},
        )
    if not body["password"] and not body.get("setRandomPassword"):
        refuse(
            "error-the-field-is-required", "The field Password is required", {"field": "Password"}
        )
    if not profile.check_username_availability(state, username):
        refuse("error-field-unavailable", f"{username} is already in use :(", {"field": username})
    if body["email"] and state.user_by_email(body["email"]) is not None:
        refuse(
            "error-field-unavailable",
            f"{body['email']} is already in use :(",
            {"field": body["email"]},
        )
    password_policy.validate(state, body["password"])
    profile.validate_email_domain(state, body["email"])
    extra: dict[str, Any] = {}
    for key in ("bio", "nickname"):
        if isinstance(body.get(key), str) and body[key].strip():
            extra[key] = body[key].strip()
    if body.get("requirePasswordChange") is not None:
        extra["requirePasswordChange"] = body["requirePasswordChange"]
    user = accounts.create_user(
        state,
        username=username,
        email=body["email"],
        password=body["password"],
        name=body["name"],
        roles=roles or None,
        verified=body.get("verified") is True,
        active=body.get("active") is not False,
        join_default_channels=body.get("joinDefaultChannels") is not False,
        extra=extra,
    )
    if custom_fields:
        profile.save_custom_fields(state, user, custom_fields)
    return success({"user": user_views.user_projection_for(state, caller, user)})


def _wants_rooms(query: dict[str, str]) -> bool:
    try:
        fields = json.loads(query.get("fields") or "{}")
    except ValueError:
        return False
    return isinstance(fields, dict) and fields.get("userRooms") == 1


@route("GET", "users.info")
async def info(req: ApiRequest) -> dict[str, Any]:
    """GET users.info?userId=|username=|importId= : getFullUserData (more for oneself or
    admins)."""
    state, query, caller = req.state, req.query, req.user_id
    if query.get("userId"):
        value, kind = query["userId"], "id"
    elif query.get("username"):
        value, kind = query["username"], "username"
    elif query.get("importId"):
        value, kind = query["importId"], "importId"
    else:
        raise Failure("Invalid search query.")
    assert req.user is not None
    myself = (
        (kind == "id" and value == caller)
        or (kind == "username" and value == req.user.get("username"))
        or (kind == "importId" and value in (req.user.get("importIds") or []))
    )
    if kind == "importId":  # Users.findOneByImportId
        found = next(
            (u for u in state.users.values() if value in (u.get("importIds") or [])), None
        )
    else:
        found = state.users.get(value) or state.user_by_exact_username(value)
    if found is None:
        raise Failure("User not found.")
    shown = user_views.full_user_data(state, caller, found, myself)
    is_self = found["_id"] == caller
    if _wants_rooms(query) and (
        is_self or permissions.has_permission(state, caller, "view-other-user-channels")
    ):
        shown["rooms"] = [
            {key: sub[key] for key in ("_id", "rid", "name", "t", "roles", "unread") if key in sub}
            for sub in state.subscriptions.values()
            if sub.get("u", {}).get("_id") == found["_id"]
        ]
    return success({"user": shown})


def is_user_from_params(params: dict[str, Any], user: dict[str, Any]) -> bool:
    """isUserFromParams: no target given, or the target is the caller."""
    return bool(
        (not params.get("userId") and not params.get("username") and not params.get("user"))
        or params.get("userId") == user["_id"]
        or params.get("username") == user.get("username")
        or params.get("user") == user.get("username")
    )


def user_from_params(state: Any, params: dict[str, Any]) -> dict[str, Any]:
    """getUserFromParams: userId, username (any case) or user."""
    found: dict[str, Any] | None = None
    if params.get("userId"):
        found = state.users.get(str(params["userId"]).strip())
    elif params.get("username"):
        found = state.user_by_username(str(params["username"]).strip())
    elif params.get("user"):
        found = state.user_by_username(str(params["user"]).strip())
    else:
        raise MeteorError(
            "error-user-param-not-provided",
            'The required "userId" or "username" param was not provided',
        )
    if found is None:
        raise MeteorError(
            "error-invalid-user",
            'The required "userId" or "username" param provided does not match any users',
        )
    return found
