"""Personal access tokens (reference §5): REST `users.*PersonalAccessToken*` and the
`personalAccessTokens:*` DDP methods. A PAT is a loginTokens entry without `when`."""

from __future__ import annotations

from typing import Any

from sandbox import credentials, permissions
from sandbox.api import ApiRequest, route, success
from sandbox.ddp_methods import DdpSession, check_for_ddp, ddp_method
from sandbox.digests import hash_login_token
from sandbox.errors import Failure, MeteorError
from sandbox.state import SandboxState, random_secret
from sandbox.twofactor import TwoFactorOptions

PAT = "personalAccessToken"


def _not_authorized(method: str) -> MeteorError:
    return MeteorError(
        "not-authorized", "Not Authorized", {"method": f"personalAccessTokens:{method}"}
    )


def find_pat(user: dict[str, Any], name: Any) -> dict[str, Any] | None:
    """The user's PAT entry called `name`."""
    for entry in credentials.login_tokens(user):
        if entry.get("type") == PAT and entry.get("name") == name:
            return entry
    return None


def generate(state: SandboxState, user: dict[str, Any], name: Any, bypass: Any) -> str:
    """generatePersonalAccessTokenOfUser: permission, unique name, new secret."""
    if not permissions.has_permission(state, user["_id"], "create-personal-access-tokens"):
        raise _not_authorized("generateToken")
    token = random_secret()
    if find_pat(user, name) is not None:
        raise MeteorError(
            "error-token-already-exists",
            "A token with this name already exists",
            {"method": "personalAccessTokens:generateToken"},
        )
    entry: dict[str, Any] = {
        "hashedToken": hash_login_token(token),
        "type": PAT,
        "createdAt": state.clock(),
        "lastTokenPart": token[-6:],
        "name": name,
    }
    if bypass is not None:
        entry["bypassTwoFactor"] = bypass
    credentials.login_tokens(user).append(entry)
    return token


def _existing(state: SandboxState, user: dict[str, Any], name: Any, method: str) -> dict[str, Any]:
    if not permissions.has_permission(state, user["_id"], "create-personal-access-tokens"):
        raise _not_authorized(method)
    entry = find_pat(user, name)
    if entry is None:
        raise MeteorError(
            "error-token-does-not-exists",
            "Token does not exist",
            {"method": f"personalAccessTokens:{method}"},
        )
    return entry


def remove(state: SandboxState, user: dict[str, Any], name: Any) -> None:
    """personalAccessTokens:removeToken."""
    _existing(state, user, name, "removeToken")
    credentials.login_tokens(user)[:] = [
        entry
        for entry in credentials.login_tokens(user)
        if not (entry.get("type") == PAT and entry.get("name") == name)
    ]


def regenerate(state: SandboxState, user: dict[str, Any], name: Any) -> str:
    """personalAccessTokens:regenerateToken: remove, then generate with the old bypass flag."""
    entry = _existing(state, user, name, "regenerateToken")
    bypass = entry.get("bypassTwoFactor")
    remove(state, user, name)
    return generate(state, user, name, bypass)


def _token_name(req: ApiRequest) -> Any:
    body = req.body if isinstance(req.body, dict) else {}
    name = body.get("tokenName")
    if not name:
        raise Failure("The 'tokenName' param is required")
    return name


@route("POST", "users.generatePersonalAccessToken", two_factor=TwoFactorOptions())
async def generate_route(req: ApiRequest) -> dict[str, Any]:
    """POST users.generatePersonalAccessToken {tokenName, bypassTwoFactor?} → {token}."""
    name = _token_name(req)
    assert req.user is not None
    return success({"token": generate(req.state, req.user, name, req.body.get("bypassTwoFactor"))})


@route("POST", "users.regeneratePersonalAccessToken", two_factor=TwoFactorOptions())
async def regenerate_route(req: ApiRequest) -> dict[str, Any]:
    """POST users.regeneratePersonalAccessToken {tokenName} → {token}."""
    name = _token_name(req)
    assert req.user is not None
    return success({"token": regenerate(req.state, req.user, name)})


@route("POST", "users.removePersonalAccessToken", two_factor=TwoFactorOptions())
async def remove_route(req: ApiRequest) -> dict[str, Any]:
    """POST users.removePersonalAccessToken {tokenName}."""
    name = _token_name(req)
    assert req.user is not None
    remove(req.state, req.user, name)
    return success()


@route("GET", "users.getPersonalAccessTokens", permissions=("create-personal-access-tokens",))
async def list_route(req: ApiRequest) -> dict[str, Any]:
    """GET users.getPersonalAccessTokens → {tokens: [{name, createdAt, lastTokenPart,
    bypassTwoFactor}]} (403 error-unauthorized without the permission, as 7.x does)."""
    assert req.user is not None
    tokens = [
        {
            "name": entry.get("name"),
            "createdAt": entry.get("createdAt"),
            "lastTokenPart": entry.get("lastTokenPart"),
            "bypassTwoFactor": bool(entry.get("bypassTwoFactor")),
        }
        for entry in credentials.login_tokens(req.user)
        if entry.get("type") == PAT
    ]
    return success({"tokens": tokens})


def _ddp_user(session: DdpSession, method: str) -> dict[str, Any]:
    user = session.state.users.get(session.user_id or "")
    if user is None:
        raise _not_authorized(method)
    return user


def _ddp_params(params: list[Any]) -> dict[str, Any]:
    return params[0] if params and isinstance(params[0], dict) else {}


@ddp_method("personalAccessTokens:generateToken")
async def ddp_generate(session: DdpSession, *params: Any) -> str:
    """DDP personalAccessTokens:generateToken({tokenName, bypassTwoFactor}, [2fa])."""
    rest = check_for_ddp(session, TwoFactorOptions(), params)
    args = _ddp_params(rest)
    token = generate(
        session.state,
        _ddp_user(session, "generateToken"),
        args.get("tokenName"),
        args.get("bypassTwoFactor"),
    )
    session.state.save()
    return token


@ddp_method("personalAccessTokens:regenerateToken")
async def ddp_regenerate(session: DdpSession, *params: Any) -> str:
    """DDP personalAccessTokens:regenerateToken({tokenName}, [2fa])."""
    rest = check_for_ddp(session, TwoFactorOptions(), params)
    user = _ddp_user(session, "regenerateToken")
    token = regenerate(session.state, user, _ddp_params(rest).get("tokenName"))
    session.state.save()
    return token


@ddp_method("personalAccessTokens:removeToken")
async def ddp_remove(session: DdpSession, *params: Any) -> None:
    """DDP personalAccessTokens:removeToken({tokenName}, [2fa])."""
    rest = check_for_ddp(session, TwoFactorOptions(), params)
    remove(session.state, _ddp_user(session, "removeToken"), _ddp_params(rest).get("tokenName"))
    session.state.save()
