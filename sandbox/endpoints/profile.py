"""`users.updateOwnBasicInfo` (reference §4, in its order) and the DDP `saveUserProfile`.

1 auth → rate limit → AJV (pipeline) · 2 name characters · 3 map name→realname and
currentPassword→password 2FA code · 4 checks · 5 2FA with requireSecondFactor when email or
newPassword is set · 6-13 sandbox.profile.save_user_profile · 14 the user document.
"""

from __future__ import annotations

import re
from typing import Any

from sandbox import profile, twofactor, user_views
from sandbox.api import ApiRequest, rest_connection, route, success
from sandbox.ddp_methods import DdpSession, check_for_ddp, ddp_method
from sandbox.errors import Failure, MeteorError
from sandbox.profile import MISSING, truthy
from sandbox.twofactor import TwoFactorOptions
from sandbox.validation import compile_schema, nullable_string

DATA_FIELDS = (
    "email",
    "name",
    "username",
    "nickname",
    "bio",
    "statusType",
    "statusText",
    "currentPassword",
    "newPassword",
)
validate_body = compile_schema(
    {
        "type": "object",
        "properties": {
            "data": {
                "type": "object",
                "properties": {name: nullable_string() for name in DATA_FIELDS},
                "required": [],
                "additionalProperties": False,
            },
            "customFields": {"type": "object", "nullable": True},
        },
        "required": ["data"],
        "additionalProperties": False,
    }
)
_RESERVED = set(";/?:@&=+$,#")
_INVALID_NAME = re.compile(r"[<>\\/]")


def decode_uri(text: str) -> str:
    """JavaScript `decodeURI`: %XX escapes of UTF-8 decoded, reserved characters kept escaped.

    Raises ValueError (JS URIError) on a malformed escape or invalid UTF-8.
    """
    out: list[str] = []
    index = 0
    while index < len(text):
        char = text[index]
        if char != "%":
            out.append(char)
            index += 1
            continue
        escapes: list[str] = []
        raw: list[int] = []
        while index < len(text) and text[index] == "%":
            pair = text[index + 1 : index + 3]
            if len(pair) != 2 or not re.fullmatch(r"[0-9A-Fa-f]{2}", pair):
                raise ValueError("URI malformed")
            escapes.append(text[index : index + 3])
            raw.append(int(pair, 16))
            index += 3
            if raw[0] < 0x80 or _utf8_complete(raw):
                break
        decoded = bytes(raw).decode("utf-8")  # UnicodeDecodeError is a ValueError
        if len(decoded) == 1 and decoded in _RESERVED:
            out.append("".join(escapes))
        else:
            out.append(decoded)
    return "".join(out)


def _utf8_complete(raw: list[int]) -> bool:
    lead = raw[0]
    needed = (
        2 if lead >> 5 == 0b110 else 3 if lead >> 4 == 0b1110 else 4 if lead >> 3 == 0b11110 else 1
    )
    return len(raw) >= needed


def name_has_invalid_characters(name: str) -> bool:
    """users.ts: `<`, `>`, `\\` or `/` in the name, raw or after decodeURI (or a bad escape)."""
    if _INVALID_NAME.search(name):
        return True
    try:
        return _INVALID_NAME.search(decode_uri(name)) is not None
    except ValueError:
        return True


def profile_settings(data: dict[str, Any]) -> dict[str, Any]:
    """The route's userData → saveUserProfile settings (absent keys stay MISSING)."""
    return {
        "email": data.get("email", MISSING),
        "realname": data.get("name", MISSING),
        "username": data.get("username", MISSING),
        "nickname": data.get("nickname", MISSING),
        "bio": data.get("bio", MISSING),
        "statusText": data.get("statusText", MISSING),
        "statusType": data.get("statusType", MISSING),
        "newPassword": data.get("newPassword", MISSING),
    }


@route("POST", "users.updateOwnBasicInfo", validate=validate_body)
async def update_own_basic_info(req: ApiRequest) -> dict[str, Any]:
    """POST users.updateOwnBasicInfo {data, customFields?} → {user} (reference §4)."""
    state = req.state
    data: dict[str, Any] = req.body["data"]
    name = data.get("name")
    if truthy(name) and isinstance(name, str) and name_has_invalid_characters(name):
        raise Failure("Name contains invalid characters")
    settings = profile_settings(data)
    custom_fields = req.body.get("customFields", {})
    current_password = data.get("currentPassword")
    if truthy(settings["email"]) or truthy(settings["newPassword"]):
        code = current_password if truthy(current_password) else None
        twofactor.check_code_for_user(
            state,
            req.user_id,
            code=code,
            method="password" if code else None,
            options=TwoFactorOptions(require_second_factor=True),
            connection=rest_connection(req),
        )
    assert req.login_token is not None
    profile.save_user_profile(
        state, req.user_id, settings, custom_fields, req.login_token.get("hashedToken")
    )
    return success(
        {"user": user_views.omit(state.users[req.user_id], user_views.DEFAULT_FIELDS_TO_EXCLUDE)}
    )


@ddp_method("saveUserProfile")
async def save_user_profile(session: DdpSession, *params: Any) -> bool:
    """DDP saveUserProfile(settings, customFields, [2fa]): 2FA (requireSecondFactor) only when
    email or newPassword is set, then the same steps as the REST route."""
    state = session.state
    args = list(params)
    if not args or not isinstance(args[0], dict):
        raise MeteorError(400, "Match failed")
    if len(args) > 1 and args[1] is not None and not isinstance(args[1], dict):
        raise MeteorError(400, "Match failed")
    raw: dict[str, Any] = args[0]
    settings = {
        key: raw.get(key, MISSING)
        for key in (
            "email",
            "realname",
            "username",
            "nickname",
            "bio",
            "statusText",
            "statusType",
            "newPassword",
        )
    }
    if truthy(settings["email"]) or truthy(settings["newPassword"]):
        args = check_for_ddp(session, TwoFactorOptions(require_second_factor=True), args)
    if not session.user_id:
        raise MeteorError("error-invalid-user", "Invalid user", {"method": "saveUserProfile"})
    custom_fields = args[1] if len(args) > 1 else {}
    token = session.login_token.get("hashedToken") if session.login_token else None
    try:
        profile.save_user_profile(state, session.user_id, settings, custom_fields, token)
    finally:
        state.save()
    return True
