"""Logging in and out: REST `login`/`logout`/`me`/`info`, `/api/info`, DDP `login`/`logout`."""

from __future__ import annotations

from typing import Any

from sandbox import credentials, user_views
from sandbox import login as meteor_login  # the route below is named `login`
from sandbox.api import ApiRequest, route, success
from sandbox.ddp_methods import DdpSession, ddp_method
from sandbox.errors import MeteorError, RawResponse

SERVER_VERSION = "7.4.0"
MINIMUM_CLIENT_VERSIONS = {"desktop": "3.9.6", "mobile": "4.39.0"}
_LOGIN_KEYS = {"user", "username", "email", "password", "code"}


def base_url(req: ApiRequest) -> str:
    """The server's own URL as the client reached it (for avatarUrl when Site_Url is unset)."""
    return f"{req.http.scheme}://{req.http.host}"


def login_compatibility(body: dict[str, Any], headers: Any) -> dict[str, Any]:
    """api.ts `loginCompatibility`: turn {user|username|email, password, code} into `login`
    options (plain password, 2FA code from the body or the x-2fa-code header)."""
    password = body.get("password")
    if password is None or set(body) - _LOGIN_KEYS:
        return body
    code = body.get("code") or headers.get("x-2fa-code")
    auth: dict[str, Any] = {"password": password}
    user, username, email = body.get("user"), body.get("username"), body.get("email")
    if isinstance(user, str):
        auth["user"] = {"email": user} if "@" in user else {"username": user}
    elif username:
        auth["user"] = {"username": username}
    elif email:
        auth["user"] = {"email": email}
    else:
        return body
    if code:
        return {"totp": {"code": code, "login": auth}}
    return auth


@route("POST", "login", auth=False)
async def login(req: ApiRequest) -> dict[str, Any]:
    """POST /api/v1/login (reference §2): success, or 401 with the Meteor error's fields."""
    body = req.body if isinstance(req.body, dict) else {}
    options = login_compatibility(body, req.http.headers)
    try:
        outcome = meteor_login.login(req.state, options, req.client_address)
    except meteor_login.MatchFailed:
        req.state.save()
        raise RawResponse(500, {"success": False, "error": "Internal server error"}) from None
    except MeteorError as exc:
        req.state.save()  # a 2FA e-mail code generated on the way must be kept
        failure: dict[str, Any] = {
            "success": False,
            "error": exc.error,
            "status": "error",
            "message": exc.reason or exc.message,
        }
        if exc.details is not None:
            failure["details"] = exc.details
        if exc.reason == "User not found":
            failure["error"] = failure["message"] = "Unauthorized"
        raise RawResponse(401, failure) from None
    return success(
        {
            "status": "success",
            "data": {
                "userId": outcome.user["_id"],
                "authToken": outcome.token,
                "me": user_views.user_info(req.state, outcome.user, base_url(req)),
            },
        }
    )


async def _logout(req: ApiRequest) -> dict[str, Any]:
    assert req.user is not None and req.login_token is not None
    credentials.remove_token(req.user, req.login_token["hashedToken"])
    return success({"status": "success", "data": {"message": "You've been logged out!"}})


@route("POST", "logout")
async def logout(req: ApiRequest) -> dict[str, Any]:
    """POST /api/v1/logout: drop the login token (or PAT) used for this call."""
    return await _logout(req)


@route("GET", "logout")
async def logout_get(req: ApiRequest) -> dict[str, Any]:
    """GET /api/v1/logout (Restivus' deprecated form)."""
    result = await _logout(req)
    req.state.save()  # the pipeline only saves after non-GET calls
    return result


@route("GET", "me")
async def me(req: ApiRequest) -> dict[str, Any]:
    """GET /api/v1/me: getUserInfo of the caller (reference §6)."""
    assert req.user is not None
    return success(user_views.user_info(req.state, req.user, base_url(req)))


@route("GET", "info", auth=False)
async def info_v1(req: ApiRequest) -> dict[str, Any]:
    """GET /api/v1/info (6.x misc.ts): the version only."""
    return success({"info": {"version": SERVER_VERSION}})


@route("GET", "info", auth=False, version=None)
async def info(req: ApiRequest) -> dict[str, Any]:
    """GET /api/info (getServerInfo without a user): "major.minor" and client minimums."""
    short = ".".join(SERVER_VERSION.split(".")[:2])
    return success({"version": short, "minimumClientVersions": dict(MINIMUM_CLIENT_VERSIONS)})


@ddp_method("login")
async def ddp_login(session: DdpSession, *params: Any) -> dict[str, Any]:
    """DDP `login` (reference §2): resume token/PAT, password digest, or `{totp: ...}`."""
    options = params[0] if params else None
    try:
        outcome = meteor_login.login(session.state, options, session.client_address)
    finally:
        session.state.save()
    session.set_login(outcome.user["_id"], outcome.entry)
    return outcome.result(session.state)


@ddp_method("logout")
async def ddp_logout(session: DdpSession, *params: Any) -> None:
    """DDP `logout`: Meteor destroys the connection's token, then forgets the user."""
    user = session.state.users.get(session.user_id or "")
    if user is not None and session.login_token is not None:
        credentials.remove_token(user, session.login_token.get("hashedToken", ""))
        session.state.save()
    session.set_login(None, None)
