"""A user's status over REST and DDP: `users.setStatus`, `users.getStatus`,
`users.getPresence`, `users.presence` and the `setUserStatus` method, as 7.4 and 8.6 answer them (app/api/server/v1/users.ts,
app/user-status/server/methods/setUserStatus.ts; 8.6: PRs #40274, #41048, #41087)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sandbox import permissions, ratelimit, user_status
from sandbox.api import ApiRequest, route, success
from sandbox.ddp_methods import DdpSession, ddp_method
from sandbox.endpoints.users import is_user_from_params, user_from_params
from sandbox.errors import MeteorError, PlainError, RawResponse
from sandbox.state import iso, parse_date
from sandbox.validation import compile_schema, nullable_string
from sandbox.versions import PRESENCE_ENGINE, TYPED_USERS_ENDPOINTS

_STRING = {"type": "string"}
# 8.6's AJV body for users.setStatus (status enum, expiresAt added by PR #40274).
validate_set_status_86 = compile_schema(
    {
        "type": "object",
        "properties": {
            "status": {"type": "string", "enum": list(user_status.STATUS_TYPES)},
            "message": nullable_string(),
            "expiresAt": nullable_string(),
            "userId": _STRING,
            "username": _STRING,
            "user": _STRING,
        },
        "additionalProperties": False,
    }
)
NOT_OFFLINE = ("online", "away", "busy")
PRESENCE_FIELDS = ("_id", "username", "name", "status", "utcOffset", "statusText", "avatarETag")
PRESENCE_FIELDS_86 = (*PRESENCE_FIELDS[:-1], "statusSource", "statusExpiresAt", "avatarETag")


def _check_set_status_body(body: Any) -> None:
    """check(body, OneOf({status?: Maybe(String), message: String}, {status: String, ...}))."""
    failed = PlainError(
        "Match error: Failed Match.OneOf, Match.Maybe or Match.Optional validation"
    )
    if not isinstance(body, dict):
        raise failed
    status, message = body.get("status"), body.get("message")
    first = isinstance(message, str) and (status is None or isinstance(status, str))
    second = isinstance(status, str) and (message is None or isinstance(message, str))
    if not (first or second):
        raise failed


def status_expiry(state: Any, value: Any) -> datetime | None:
    """8.6 users.setStatus `expiresAt`: a date string in the future, or nothing when falsy.

    An unreadable date → error-invalid-date (the PR #40274 check; its reason text is the
    sandbox's wording); a date not after now → error-invalid-date "expiresAt must be a future
    date" (PR #41048). Kept at JavaScript's millisecond precision.
    """
    if not value:
        return None
    parsed = parse_date(value)
    if parsed is None:
        raise MeteorError(
            "error-invalid-date", "Invalid expiresAt date string", {"method": "users.setStatus"}
        )
    parsed = parsed.replace(microsecond=parsed.microsecond // 1000 * 1000)
    if parsed <= state.clock():
        raise MeteorError(
            "error-invalid-date", "expiresAt must be a future date", {"method": "users.setStatus"}
        )
    return parsed


@route("POST", "users.setStatus")
async def set_status(req: ApiRequest) -> dict[str, Any]:
    """POST users.setStatus {status?, message?, expiresAt? (8.6), userId|username|user?}.

    8.6 validates the body with AJV first and answers `statusExpiresAt` for a timed status;
    its route limiter allows 5 calls a minute (sandbox.ratelimit).
    """
    state, body = req.state, req.body
    if state.at_least(*TYPED_USERS_ENDPOINTS):
        validate_set_status_86(body)
    _check_set_status_body(body)
    if not state.settings.get("Accounts_AllowUserStatusMessageChange"):
        raise MeteorError(
            "error-not-allowed", "Change status is not allowed", {"method": "users.setStatus"}
        )
    assert req.user is not None
    if is_user_from_params(body, req.user):
        target = req.user
    elif permissions.has_permission(state, req.user_id, "edit-other-user-info"):
        target = user_from_params(state, body)
    else:
        raise RawResponse(403, {"success": False, "error": "unauthorized"})
    status, message = body.get("status"), body.get("message")
    if not state.at_least(*PRESENCE_ENGINE):
        user_status.set_status_rest_7x(state, target, status, message)
        return success()
    expires_at = status_expiry(state, body.get("expiresAt"))
    user_status.set_status_rest_86(state, target, status, message, expires_at)
    return success({"statusExpiresAt": iso(expires_at)} if expires_at else None)


def _status_answer(state: Any, user: dict[str, Any], own: bool) -> dict[str, Any]:
    answer: dict[str, Any] = {"_id": user["_id"]}
    engine = state.at_least(*PRESENCE_ENGINE)
    if not engine and user.get("statusText") is not None:
        answer["message"] = user["statusText"]
    if own:
        answer["connectionStatus"] = user.get("statusConnection") or "offline"
    answer["status"] = user.get("status") or "offline"
    if engine and user.get("statusSource"):
        answer["statusSource"] = user["statusSource"]
    if engine and isinstance(user.get("statusExpiresAt"), datetime):
        answer["statusExpiresAt"] = iso(user["statusExpiresAt"])
    return answer


@route("GET", "users.getStatus")
async def get_status(req: ApiRequest) -> dict[str, Any]:
    """GET users.getStatus[?userId|username|user]: {_id, message (7.x), connectionStatus (own
    only), status, statusSource and statusExpiresAt (8.6, when set)}."""
    assert req.user is not None
    if is_user_from_params(req.query, req.user):
        return success(_status_answer(req.state, req.user, own=True))
    return success(_status_answer(req.state, user_from_params(req.state, req.query), own=False))


@route("GET", "users.getPresence")
async def get_presence(req: ApiRequest) -> dict[str, Any]:
    """GET users.getPresence[?userId|username|user]: {presence}; for the caller's own also
    connectionStatus and lastLogin (when they logged in). The same in 7.4 and 8.6."""
    assert req.user is not None
    if not is_user_from_params(req.query, req.user):
        user = user_from_params(req.state, req.query)
        return success({"presence": user.get("status") or "offline"})
    own = req.user
    answer: dict[str, Any] = {
        "presence": own.get("status") or "offline",
        "connectionStatus": own.get("statusConnection") or "offline",
    }
    if isinstance(own.get("lastLogin"), datetime):
        answer["lastLogin"] = iso(own["lastLogin"])
    return success(answer)


def _requested_ids(req: ApiRequest) -> list[str] | None:
    values = req.http.query.getall("ids", [])
    if not values or values == [""]:
        return None
    return values if len(values) > 1 else values[0].split(",")


def _has_custom_status(user: dict[str, Any]) -> bool:
    return bool(user.get("statusText")) or isinstance(user.get("statusExpiresAt"), datetime)


@route("GET", "users.presence")
async def users_presence(req: ApiRequest) -> dict[str, Any]:
    """GET users.presence[?ids=a,b | ?from=ISO]: who is not offline, or who changed lately.

    `ids` → those users when not offline (8.6, PR #41087: also offline ones that keep a status
    text or expiry), `full: false`; `from` less than 10 minutes ago → every other user updated
    since, `full: false`; else every user not offline, `full: true`. Empty while
    Presence_broadcast_disabled is on.
    """
    state = req.state
    if state.settings.get("Presence_broadcast_disabled"):
        return success({"users": [], "full": True})
    engine = state.at_least(*PRESENCE_ENGINE)
    fields = PRESENCE_FIELDS_86 if engine else PRESENCE_FIELDS
    everyone = [user for user in state.users.values() if user.get("username")]

    def shown(users: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [{key: user[key] for key in fields if key in user} for user in users]

    ids = _requested_ids(req)
    if ids is not None:
        wanted = set(ids)
        found = [
            user
            for user in state.users.values()
            if user["_id"] in wanted
            and (user.get("status") in NOT_OFFLINE or (engine and _has_custom_status(user)))
        ]
        return success({"users": shown(found), "full": False})
    since = parse_date(req.query.get("from")) if req.query.get("from") else None
    if since is not None and (state.clock() - since).total_seconds() / 60 < 10:
        changed = [
            user
            for user in everyone
            if user["_id"] != req.user_id
            and isinstance(user.get("_updatedAt"), datetime)
            and user["_updatedAt"] >= since
        ]
        return success({"users": shown(changed), "full": False})
    online = [user for user in everyone if user.get("status") in NOT_OFFLINE]
    return success({"users": shown(online), "full": True})


@ddp_method("setUserStatus")
async def ddp_set_user_status(
    session: DdpSession, status_type: Any = None, status_text: Any = None
) -> None:
    """DDP setUserStatus(statusType, statusText): limited to 1 call a second per user
    (RateLimiter.limitMethod), then setUserStatusMethod as the version has it."""
    state = session.state
    ratelimit.check_ddp(
        state, f"setUserStatus:userId{session.user_id}", 1, 1000, rule="setUserStatus"
    )
    user = state.users.get(session.user_id or "")
    if user is None:
        raise MeteorError("error-invalid-user", "Invalid user", {"method": "setUserStatus"})
    try:
        user_status.set_user_status(state, user, status_type, status_text)
    finally:
        state.save()
