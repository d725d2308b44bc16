"""Logging in and out: REST `login`/`logout`/`me`/`info`, `/api/info`, DDP `login`/`logout`."""

from __future__ import annotations

from typing import Any

from sandbox import credentials, permissions, user_views
from sandbox import login as meteor_login  # the route below is named `login`
from sandbox.api import ApiRequest, find_login, route, success
from sandbox.ddp_methods import DdpSession, ddp_method
from sandbox.errors import MeteorError, RawResponse
from sandbox.versions import ServerVersion

# package.json `rocketchat.minimumClientVersions` as 7.4 ships it (kept for 8.6: its own values
# are not known to the sandbox).
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
    return success({"info": {"version": str(req.state.version)}})


def build_info(version: ServerVersion) -> dict[str, Any]:
    """The `Info` object the build writes into rocketchat.info (rocketchat-version's
    compile-version.js): the version, the build machine, the Apps-Engine version, the commit.

    The sandbox is not a build of Rocket.Chat: build and commit hold a fixed stamp of the
    same shape (the commit's tag is the release).
    """
    return {
        "version": str(version),
        "build": {
            "date": "2026-07-15T12:00:00.000Z",
            "nodeVersion": "v22.16.0",
            "arch": "x64",
            "platform": "linux",
            "osRelease": "6.8.0",
            "totalMemory": 16_777_216_000,
            "freeMemory": 8_388_608_000,
            "cpus": 4,
        },
        "marketplaceApiVersion": "1.55.0" if version.at_least(8) else "1.48.0",
        "commit": {
            "hash": "0" * 40,
            "date": "Wed Jul 15 12:00:00 2026 +0000",
            "author": "sandbox",
            "subject": f"Release {version}",
            "tag": str(version),
            "branch": "HEAD",
        },
    }


@route("GET", "info", auth=False, version=None)
async def info(req: ApiRequest) -> dict[str, Any]:
    """GET /api/info: getServerInfo(getLoggedInUser(request)?._id).

    Anyone gets "major.minor" and the client minimums; a caller whose X-User-Id/X-Auth-Token
    are valid and who has `view-statistics` also gets `info` and the full version
    (app/api/server/default/info.ts, app/api/server/lib/getServerInfo.ts).
    """
    state = req.state
    answer: dict[str, Any] = {"version": state.version.short}
    login = find_login(
        state, req.http.headers.get("X-User-Id"), req.http.headers.get("X-Auth-Token")
    )
    if login is not None and permissions.has_permission(state, login[0]["_id"], "view-statistics"):
        answer = {"version": str(state.version), "info": build_info(state.version)}
    answer["minimumClientVersions"] = dict(MINIMUM_CLIENT_VERSIONS)
    return success(answer)


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
