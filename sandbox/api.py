"""The REST pipeline: one decorator declares a route, one function runs Rocket.Chat's order.

Order for every `/api/v1/` request (reference §1): auth 401 → rate limit 429 → validateParams 400
→ permissionsRequired 403 → 2FA (`twoFactorRequired`) → handler, and one catch block that maps
what the handler throws to Rocket.Chat's bodies and status codes.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from sandbox import permissions, ratelimit, twofactor
from sandbox.digests import hash_login_token
from sandbox.errors import CoreMeteorError, Failure, MeteorError, PlainError, RawResponse
from sandbox.state import SandboxState, rest_dumps
from sandbox.twofactor import TwoFactorOptions

Handler = Callable[["ApiRequest"], Awaitable[dict[str, Any]]]
Validator = Callable[[Any], None]  # raises MeteorError('invalid-params', ...) on bad input

NOT_LOGGED_IN = "You must be logged in to do this."
MAX_BODY_BYTES = 100 * 1024 * 1024  # Rocket.Chat's body-parser limit for JSON is generous


@dataclass
class Route:
    method: str
    name: str  # e.g. "users.updateOwnBasicInfo", or a pattern such as "settings/:_id"
    handler: Handler
    auth_required: bool
    permissions: tuple[str, ...]
    two_factor: TwoFactorOptions | None
    validate: Validator | None
    rate_limited: bool
    version: str | None = "v1"  # None: Rocket.Chat's API.default, served at /api/<name>

    def match(self, name: str) -> dict[str, str] | None:
        """The URL params if `name` matches this route's pattern (":param" segments)."""
        if ":" not in self.name:
            return {} if name == self.name else None
        wanted, given = self.name.split("/"), name.split("/")
        if len(wanted) != len(given):
            return None
        params: dict[str, str] = {}
        for pattern, part in zip(wanted, given):
            if pattern.startswith(":"):
                if not part:
                    return None
                params[pattern[1:]] = part
            elif pattern != part:
                return None
        return params


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
    url_params: dict[str, str] = field(default_factory=dict)  # ":param" parts of the route

    @property
    def user_id(self) -> str:
        assert self.user is not None
        return str(self.user["_id"])

    @property
    def client_address(self) -> str:
        """api.ts `getRequestIP` with HTTP_FORWARDED_COUNT unset: X-Real-IP, else the peer.

        X-Forwarded-For is ignored, as Rocket.Chat ignores it by default.
        """
        return self.http.headers.get("X-Real-IP") or self.http.remote or "127.0.0.1"

    @property
    def user_agent(self) -> str:
        return self.http.headers.get("User-Agent", "")


ROUTES: dict[tuple[str, str], Route] = {}  # /api/v1/<name>
DEFAULT_ROUTES: dict[tuple[str, str], Route] = {}  # /api/<name> (API.default: no rate limiter)


def route(
    method: str,
    name: str,
    *,
    auth: bool = True,
    permissions: tuple[str, ...] = (),
    two_factor: TwoFactorOptions | None = None,
    validate: Validator | None = None,
    rate_limited: bool = True,
    version: str | None = "v1",
) -> Callable[[Handler], Handler]:
    """Declare `/api/v1/<name>` (or `/api/<name>` with version=None) with Rocket.Chat's options.

    `name` may hold ":param" segments (e.g. "settings/:_id"); their values land in
    `ApiRequest.url_params`.
    """

    def register(handler: Handler) -> Handler:
        table = ROUTES if version else DEFAULT_ROUTES
        key = (method.upper(), name)
        if key in table:
            raise RuntimeError(f"route {method} {name} declared twice")
        table[key] = Route(
            method.upper(),
            name,
            handler,
            auth,
            permissions,
            two_factor,
            validate,
            rate_limited and version is not None,
            version,
        )
        return handler

    return register


def find_route(
    table: dict[tuple[str, str], Route], method: str, name: str
) -> tuple[Route, dict[str, str]] | None:
    """The route for an HTTP method and path name, with its URL params; exact names first."""
    exact = table.get((method, name))
    if exact is not None:
        return exact, {}
    for (route_method, _), candidate in table.items():
        if route_method == method and ":" in candidate.name:
            params = candidate.match(name)
            if params is not None:
                return candidate, params
    return None


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


def rest_connection(request: ApiRequest) -> twofactor.Connection:
    """The Meteor connection api.ts builds for a REST call (client IP, headers, login token)."""
    headers = {key.lower(): value for key, value in request.http.headers.items()}
    token = request.login_token.get("hashedToken") if request.login_token else None
    return twofactor.Connection(token, headers.get("user-agent"), request.client_address, headers)


def check_for_rest(request: ApiRequest, options: TwoFactorOptions) -> None:
    """api.ts `processTwoFactor` for a route with `twoFactorRequired`."""
    if request.user is None:
        return
    code = request.http.headers.get("X-2FA-Code") or None
    method = request.http.headers.get("X-2FA-Method") or None
    twofactor.check_code_for_user(
        request.state,
        request.user_id,
        code=code,
        method=method,
        options=options,
        connection=rest_connection(request),
    )


def json_response(
    payload: Any, status: int = 200, headers: dict[str, str] | None = None
) -> web.Response:
    return web.Response(
        text=rest_dumps(payload), status=status, content_type="application/json", headers=headers
    )


def success(payload: dict[str, Any] | None = None) -> dict[str, Any]:
    """`API.v1.success(payload)`."""
    return {**(payload or {}), "success": True}


def error_response(exc: BaseException, headers: dict[str, str] | None = None) -> web.Response:
    """The catch block of Rocket.Chat's api.ts."""
    if isinstance(exc, RawResponse):
        return json_response(exc.body, exc.status, headers)
    if isinstance(exc, Failure):
        failure: dict[str, Any] = {"success": False, "error": exc.text}
        if exc.error_type:
            failure["errorType"] = exc.error_type
        return json_response(failure, exc.status, headers)
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
    if http.content_type == "multipart/form-data":
        return {}  # no bodyParams: the route reads its files itself (getUploadFormData)
    raw = await http.read()
    if not raw:
        return {}
    content_type = http.content_type
    if content_type == "application/x-www-form-urlencoded":
        form = await http.post()
        return {key: value for key, value in form.items()}
    try:
        return json.loads(raw)
    except ValueError as exc:  # JSONDecodeError, or bytes that are not UTF-8
        raise Failure(f"Unexpected token in JSON: {getattr(exc, 'msg', exc)}") from None


async def dispatch(
    state: SandboxState, http: web.Request, table: dict[tuple[str, str], Route] | None = None
) -> web.Response:
    """Run one `/api/v1/<name>` (or, with DEFAULT_ROUTES, `/api/<name>`) request."""
    routes = ROUTES if table is None else table
    name = http.match_info["name"]
    matched = find_route(routes, http.method, name)
    if matched is None:
        if any(other.match(name) is not None for other in routes.values()):
            return json_response({"success": False, "error": "Method not allowed"}, 405)
        return json_response({"success": False, "error": "API endpoint not found"}, 404)
    found, url_params = matched
    try:
        body = await _read_body(http)
    except Failure as exc:
        return error_response(exc)
    request = ApiRequest(
        state=state,
        route=found,
        http=http,
        body=body,
        query=dict(http.query),
        url_params=url_params,
    )
    # Rocket.Chat only looks at X-User-Id/X-Auth-Token on routes that require auth.
    login = None
    if found.auth_required:
        login = find_login(state, http.headers.get("X-User-Id"), http.headers.get("X-Auth-Token"))
        if login is None:
            return unauthorized_response()
        request.user, request.login_token = login
    try:
        if found.rate_limited:
            ratelimit.check_rest(
                state,
                route_name=found.name,
                http_method=found.method,
                client_address=request.client_address,
                user_id=request.user_id if request.user else None,
                headers_out=request.headers_out,
            )
        params = body if found.method != "GET" else request.query
        if found.validate is not None:
            found.validate(params)
        if found.permissions and not permissions.has_all(
            state, request.user_id if request.user else None, found.permissions
        ):
            return json_response(
                {
                    "success": False,
                    "error": "User does not have the permissions required for this action"
                    " [error-unauthorized]",
                },
                403,
                request.headers_out,
            )
        if found.two_factor is not None:
            check_for_rest(request, found.two_factor)
        payload = await found.handler(request)
    except (MeteorError, PlainError, Failure, RawResponse) as exc:
        if http.method != "GET":
            state.save()
        return error_response(exc, request.headers_out)
    if http.method != "GET":
        state.save()
    return json_response(payload, 200, request.headers_out)
