"""The REST pipeline: one decorator declares a route, one function runs Rocket.Chat's order.

Order for every `/api/v1/` request (reference §1): auth 401 → rate limit 429 → validateParams 400
→ permissionsRequired 403 → 2FA (`twoFactorRequired`) → handler, and one catch block that maps
what the handler throws to Rocket.Chat's bodies and status codes.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from sandbox.errors import CoreMeteorError, Failure, MeteorError, PlainError
from sandbox.state import SandboxState, rest_dumps

Handler = Callable[["ApiRequest"], Awaitable[dict[str, Any]]]
Validator = Callable[[Any], None]  # raises MeteorError('invalid-params', ...) on bad input

NOT_LOGGED_IN = "You must be logged in to do this."
MAX_BODY_BYTES = 100 * 1024 * 1024  # Rocket.Chat's body-parser limit for JSON is generous


@dataclass(frozen=True)
class TwoFactorOptions:
    """The `twoFactorOptions` of a route (or a DDP method)."""

    require_second_factor: bool = False
    disable_remember_me: bool = False
    disable_password_fallback: bool = False


@dataclass
class Route:
    method: str
    name: str  # e.g. "users.updateOwnBasicInfo"
    handler: Handler
    auth_required: bool
    permissions: tuple[str, ...]
    two_factor: TwoFactorOptions | None
    validate: Validator | None
    rate_limited: bool


@dataclass
class ApiRequest:
    """What a REST handler sees: the state, the caller and what they sent."""

    state: SandboxState
    route: Route
    http: web.Request
    body: Any
    query: dict[str, str]
    user: dict[str, Any] | None = None
    login_token: dict[str, Any] | None = None  # the loginTokens entry that authenticated
    headers_out: dict[str, str] = field(default_factory=dict)

    @property
    def user_id(self) -> str:
        assert self.user is not None
        return str(self.user["_id"])

    @property
    def client_address(self) -> str:
        forwarded = self.http.headers.get("X-Forwarded-For")
        if forwarded:
            return forwarded.split(",")[0].strip()
        return self.http.remote or "127.0.0.1"

    @property
    def user_agent(self) -> str:
        return self.http.headers.get("User-Agent", "")


ROUTES: dict[tuple[str, str], Route] = {}


def route(
    method: str,
    name: str,
    *,
    auth: bool = True,
    permissions: tuple[str, ...] = (),
    two_factor: TwoFactorOptions | None = None,
    validate: Validator | None = None,
    rate_limited: bool = True,
) -> Callable[[Handler], Handler]:
    """Declare `/api/v1/<name>` for an HTTP method, with Rocket.Chat's route options."""

    def register(handler: Handler) -> Handler:
        key = (method.upper(), name)
        if key in ROUTES:
            raise RuntimeError(f"route {method} {name} declared twice")
        ROUTES[key] = Route(
            method.upper(), name, handler, auth, permissions, two_factor, validate, rate_limited
        )
        return handler

    return register


def hash_login_token(token: str) -> str:
    """`Accounts._hashLoginToken`: base64(sha256(token))."""
    return base64.b64encode(hashlib.sha256(token.encode()).digest()).decode()


def find_login(
    state: SandboxState, user_id: str | None, token: str | None
) -> tuple[dict[str, Any], dict[str, Any]] | None:
    """The user and loginTokens entry for X-User-Id + X-Auth-Token (login token or PAT)."""
    if not user_id or not token:
        return None
    user = state.users.get(user_id)
    if user is None or user.get("active") is False:
        return None
    hashed = hash_login_token(token)
    for entry in user.get("services", {}).get("resume", {}).get("loginTokens", []):
        if entry.get("hashedToken") == hashed:
            return user, entry
    return None


def json_response(payload: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(
        text=rest_dumps(payload), status=status, content_type="application/json", headers=headers
    )


def success(payload: dict[str, Any] | None = None) -> dict[str, Any]:
    """`API.v1.success(payload)`."""
    return {**(payload or {}), "success": True}


def error_response(exc: BaseException, headers: dict[str, str] | None = None) -> web.Response:
    """The catch block of Rocket.Chat's api.ts."""
    if isinstance(exc, Failure):
        return json_response({"success": False, "error": exc.text}, exc.status, headers)
    if isinstance(exc, PlainError):
        return json_response({"success": False, "error": exc.message}, 400, headers)
    if isinstance(exc, MeteorError):
        message = exc.rest_message if isinstance(exc, CoreMeteorError) else exc.message
        if exc.error == "error-too-many-requests":
            return json_response({"success": False, "error": message}, 429, headers)
        if exc.error in ("unauthorized", "error-unauthorized"):
            return json_response({"success": False, "error": message}, 403, headers)
        body: dict[str, Any] = {"success": False, "error": message}
        if exc.error:
            body["errorType"] = exc.error
        details = exc.details
        if isinstance(details, str):
            try:
                details = json.loads(details)
            except ValueError:
                pass
        if details:
            body["details"] = details
        return json_response(body, 400, headers)
    raise exc


def unauthorized_response() -> web.Response:
    message = NOT_LOGGED_IN
    return json_response(
        {"success": False, "error": message, "status": "error", "message": message}, 401
    )


def forbidden(message: str = "unauthorized") -> web.Response:
    return json_response({"success": False, "error": message}, 403)


async def _read_body(http: web.Request) -> Any:
    if http.method in ("GET", "HEAD", "DELETE"):
        return {}
    raw = await http.read()
    if not raw:
        return {}
    content_type = http.content_type
    if content_type == "application/x-www-form-urlencoded":
        form = await http.post()
        return {key: value for key, value in form.items()}
    try:
        return json.loads(raw)
    except ValueError as exc:
        raise Failure(f"Unexpected token in JSON: {exc.msg}") from None


async def dispatch(state: SandboxState, http: web.Request) -> web.Response:
    """Run one `/api/v1/<name>` request through the pipeline."""
    # Imported here: these modules register routes that import this one.
    from sandbox import permissions, ratelimit, twofactor

    name = http.match_info["name"]
    found = ROUTES.get((http.method, name))
    if found is None:
        if any(key[1] == name for key in ROUTES):
            return json_response({"success": False, "error": "Method not allowed"}, 405)
        return json_response({"success": False, "error": "API endpoint not found"}, 404)
    try:
        body = await _read_body(http)
    except Failure as exc:
        return error_response(exc)
    request = ApiRequest(state=state, route=found, http=http, body=body, query=dict(http.query))
    login = find_login(state, http.headers.get("X-User-Id"), http.headers.get("X-Auth-Token"))
    if login is not None:
        request.user, request.login_token = login
    if found.auth_required and login is None:
        return unauthorized_response()
    try:
        if found.rate_limited:
            ratelimit.check_rest(request)
        params = body if found.method != "GET" else request.query
        if found.validate is not None:
            found.validate(params)
        if found.permissions and not permissions.has_all(
            state, request.user_id if request.user else None, found.permissions
        ):
            return forbidden(
                "User does not have the permissions required for this action [error-unauthorized]"
            )
        if found.two_factor is not None:
            twofactor.check_for_rest(request, found.two_factor)
        payload = await found.handler(request)
    except (MeteorError, PlainError, Failure) as exc:
        if http.method != "GET":
            state.save()
        return error_response(exc, request.headers_out)
    if http.method != "GET":
        state.save()
    return json_response(payload, 200, request.headers_out)
