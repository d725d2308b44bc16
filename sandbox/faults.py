"""Fault injection for tests: sandbox-own endpoints (reference §11), never a Rocket.Chat one.

Rocket.Chat's own routes stay faithful; a test arms a fault here and the next matching calls
misbehave as a sick server, a proxy or a network would:

    POST /sandbox/faults   {"endpoint": "users.updateOwnBasicInfo", "status": 503, "count": 2}
        The next `count` REST calls of /api/v1/<endpoint> (optional: only `http_method`, only
        by `user`, a username) wait `delay` seconds, then answer `status` instead of running:
        a 5xx as a proxy sends it (500: Rocket.Chat's JSON "Internal server error"), or 429
        with Rocket.Chat's rate-limit body and X-RateLimit-Reset `reset_ms` from now. Without
        `status` the call only waits, then runs (a slow server).
    POST /sandbox/faults   {"method": "sendMessage", "error": "too-many-requests", "count": 1}
        The same for a DDP method: an error frame (rate-limit errors carry
        `details.timeToReset` = `reset_ms`), or only a delay. `user` matches the session's
        logged-in user, so a `login` call (nobody yet) only matches a fault without one.
    GET /sandbox/faults    every armed fault with what is left of `count` and how often it fired.
    DELETE /sandbox/faults disarms them all.
    POST /sandbox/drop-websockets  {"user": "profilebot"} (optional) closes every DDP
        connection (of that user), as a server restart or a cut network does.

Faults live in `state.runtime` (never saved), so a restarted sandbox starts healthy.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import math
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

from aiohttp import web

from sandbox import ddp_methods
from sandbox.api import json_response
from sandbox.errors import MeteorError
from sandbox.ratelimit import METHOD_LIMIT_TEXT, REST_LIMIT_TEXT
from sandbox.state import SandboxState, to_ms

RUNTIME_KEY = "faults"
RATE_LIMIT_ERRORS = frozenset({"too-many-requests", "error-too-many-requests"})
_REST_PREFIX = "/api/v1/"
_WRAPPED = "__sandbox_fault_wrapper__"


class FaultError(ValueError):
    """A fault description that cannot be armed; the message says which field is wrong."""


@dataclass
class Fault:
    """One armed fault: the next `count` matching calls misbehave."""

    kind: str  # "rest" or "ddp"
    name: str  # REST endpoint (users.info) or DDP method (sendMessage)
    count: int
    delay: float = 0.0
    status: int | None = None  # REST only
    error: str | None = None  # DDP only
    reset_ms: int = 1000
    http_method: str | None = None
    user: str | None = None  # username, as given
    user_id: str | None = None
    fired: int = 0

    def matches(self, kind: str, name: str, user_id: str | None, http_method: str) -> bool:
        return (
            self.count > 0
            and self.kind == kind
            and self.name == name
            and (self.user_id is None or self.user_id == user_id)
            and (self.http_method is None or self.http_method == http_method)
        )

    def describe(self) -> dict[str, Any]:
        shown: dict[str, Any] = {
            "endpoint" if self.kind == "rest" else "method": self.name,
            "count": self.count,
            "fired": self.fired,
            "delay": self.delay,
            "reset_ms": self.reset_ms,
        }
        for key in ("status", "error", "http_method", "user"):
            if getattr(self, key) is not None:
                shown[key] = getattr(self, key)
        return shown


def armed(state: SandboxState) -> list[Fault]:
    """The faults armed on this sandbox (a live list)."""
    faults: list[Fault] = state.runtime.setdefault(RUNTIME_KEY, [])
    return faults


def take(
    state: SandboxState, kind: str, name: str, user_id: str | None, http_method: str = ""
) -> Fault | None:
    """The first armed fault matching this call, with one use spent; None if there is none."""
    for fault in armed(state):
        if fault.matches(kind, name, user_id, http_method):
            fault.count -= 1
            fault.fired += 1
            return fault
    return None


def _number(body: dict[str, Any], key: str, default: float, *, low: float = 0) -> float:
    value = body.get(key, default)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < low:
        raise FaultError(f"{key} must be a number of at least {low:g}")
    return float(value)


def parse_fault(state: SandboxState, body: Any) -> Fault:
    """A Fault from a POST /sandbox/faults body; FaultError says what is wrong."""
    if not isinstance(body, dict):
        raise FaultError("the body must be a JSON object")
    endpoint, method = body.get("endpoint"), body.get("method")
    if (endpoint is None) == (method is None):
        raise FaultError("give exactly one of endpoint (REST) or method (DDP)")
    name = endpoint if endpoint is not None else method
    if not isinstance(name, str) or not name:
        raise FaultError("endpoint/method must be a non-empty string")
    kind = "rest" if endpoint is not None else "ddp"
    fault = Fault(
        kind=kind,
        name=name.removeprefix(_REST_PREFIX),
        count=int(_number(body, "count", 1, low=1)),
        delay=_number(body, "delay", 0.0),
        reset_ms=int(_number(body, "reset_ms", 1000)),
    )
    status, error = body.get("status"), body.get("error")
    if kind == "rest":
        if error is not None:
            raise FaultError("error is for DDP methods; REST faults take a status")
        if status is not None and (
            isinstance(status, bool) or status not in (429, *range(500, 600))
        ):
            raise FaultError("status must be 429 or a 5xx code")
        fault.status = status
        http_method = body.get("http_method")
        if http_method is not None and not isinstance(http_method, str):
            raise FaultError("http_method must be a string such as POST")
        fault.http_method = http_method.upper() if http_method else None
    else:
        if status is not None:
            raise FaultError("status is for REST endpoints; DDP faults take an error")
        if error is not None and (not isinstance(error, str) or not error):
            raise FaultError("error must be a Meteor error code such as too-many-requests")
        fault.error = error
        if name not in ddp_methods.METHODS:
            raise FaultError(f"there is no DDP method {name}")
        _wrap_method(ddp_methods.METHODS[name])
    if fault.status is None and fault.error is None and not fault.delay:
        raise FaultError("a fault needs a status, an error or a delay")
    user = body.get("user")
    if user is not None:
        found = state.user_by_username(user) if isinstance(user, str) else None
        if found is None:
            raise FaultError(f"there is no user {user!r}")
        fault.user, fault.user_id = user, str(found["_id"])
    return fault


# -- REST -------------------------------------------------------------------------------------


def _rest_answer(state: SandboxState, fault: Fault) -> web.Response:
    assert fault.status is not None
    if fault.status == 429:
        seconds = max(1, math.ceil(fault.reset_ms / 1000))
        headers = {
            "X-RateLimit-Limit": "10",
            "X-RateLimit-Remaining": "0",
            "X-RateLimit-Reset": str(to_ms(state.clock()) + fault.reset_ms),
        }
        text = REST_LIMIT_TEXT.format(seconds=seconds)
        return json_response({"success": False, "error": text}, 429, headers)
    if fault.status == 500:
        return json_response({"success": False, "error": "Internal server error"}, 500)
    try:
        phrase = HTTPStatus(fault.status).phrase
    except ValueError:
        phrase = "Server Error"
    page = (
        f"<html><head><title>{fault.status} {phrase}</title></head><body><center>"
        f"<h1>{fault.status} {phrase}</h1></center><hr><center>nginx</center></body></html>"
    )
    return web.Response(status=fault.status, text=page, content_type="text/html")


def rest_middleware(state: SandboxState) -> Callable[..., Awaitable[web.StreamResponse]]:
    """An aiohttp middleware that spoils the REST calls an armed fault matches."""

    @web.middleware
    async def faults(
        request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        if armed(state) and request.path.startswith(_REST_PREFIX):
            name = request.path[len(_REST_PREFIX) :]
            user_id = request.headers.get("X-User-Id")
            fault = take(state, "rest", name, user_id, request.method)
            if fault is not None:
                if fault.delay:
                    # A slow server has the request already: a client that gives up meanwhile
                    # (a timeout, a killed process) does not stop it from being applied.
                    await request.read()
                    await asyncio.sleep(fault.delay)
                if fault.status is not None:
                    return _rest_answer(state, fault)
        return await handler(request)

    return faults


# -- DDP --------------------------------------------------------------------------------------


def _ddp_error(fault: Fault) -> MeteorError:
    assert fault.error is not None
    if fault.error in RATE_LIMIT_ERRORS:
        seconds = max(1, math.ceil(fault.reset_ms / 1000))
        reason = METHOD_LIMIT_TEXT.format(seconds=seconds)
        details: dict[str, Any] = {"timeToReset": fault.reset_ms}
        if fault.error == "error-too-many-requests":  # limitFunction's error also has `seconds`
            details["seconds"] = seconds
        return MeteorError(fault.error, reason, details)
    return MeteorError(fault.error, "Injected failure")


def _wrap_method(entry: ddp_methods.DdpMethod) -> None:
    """Let faults reach one DDP method; the wrapper keeps the handler's signature (arity)."""
    original = entry.handler
    if getattr(original, _WRAPPED, False):
        return

    @functools.wraps(original)
    async def handler(session: ddp_methods.DdpSession, *params: Any) -> Any:
        fault = take(session.state, "ddp", entry.name, session.user_id)
        if fault is not None:
            if fault.delay:
                await asyncio.sleep(fault.delay)
            if fault.error is not None:
                raise _ddp_error(fault)
        result = original(session, *params)
        return await result if inspect.isawaitable(result) else result

    setattr(handler, _WRAPPED, True)
    entry.handler = handler


# -- the endpoints ----------------------------------------------------------------------------


def _drop_websockets(state: SandboxState, username: str | None) -> int:
    user_id = None
    if username is not None:
        found = state.user_by_username(username)
        if found is None:
            return 0
        user_id = found["_id"]
    dropped = 0
    for listener in list(state.bus.listeners):
        if user_id is not None and getattr(listener, "user_id", None) != user_id:
            continue
        close = getattr(listener, "close", None)
        if close is not None:
            close(1001)  # "going away", as a restarting server says it
            dropped += 1
    return dropped


def install(app: web.Application, state: SandboxState) -> None:
    """Add the fault middleware and the /sandbox/faults and /sandbox/drop-websockets routes."""

    async def arm(request: web.Request) -> web.StreamResponse:
        try:
            body = await request.json()
        except ValueError:
            body = None
        try:
            fault = parse_fault(state, body)
        except FaultError as exc:
            return json_response({"success": False, "error": str(exc)}, 400)
        armed(state).append(fault)
        return json_response({"success": True, "fault": fault.describe()})

    async def show(request: web.Request) -> web.StreamResponse:
        return json_response({"faults": [fault.describe() for fault in armed(state)]})

    async def disarm(request: web.Request) -> web.StreamResponse:
        armed(state).clear()
        return json_response({"success": True})

    async def drop(request: web.Request) -> web.StreamResponse:
        body = await request.json() if request.can_read_body else {}
        username = body.get("user") if isinstance(body, dict) else None
        dropped = _drop_websockets(state, username if isinstance(username, str) else None)
        return json_response({"success": True, "dropped": dropped})

    app.middlewares.append(rest_middleware(state))
    app.router.add_route("POST", "/sandbox/faults", arm)
    app.router.add_route("GET", "/sandbox/faults", show)
    app.router.add_route("DELETE", "/sandbox/faults", disarm)
    app.router.add_route("POST", "/sandbox/drop-websockets", drop)
