"""Sandbox-own controls (reference §11), never a Rocket.Chat route: the clock and presence claims.

GET  /sandbox/clock    {"now": ISO, "offset": seconds ahead of real time, "version": "8.6.0"}
POST /sandbox/clock    {"advance": seconds} or {"to": ISO}: move the sandbox clock forward
    and run what came due on the way (8.6's status-expiration job), then answer as GET.
    Time-dependent rules (expiry, 2FA windows, rate limits) all read this clock, so a test
    moves time instead of sleeping. The clock never goes back.
POST /sandbox/presence-claims  (8.6+ only) a claim from a source other than the user, as
    a call, a conference or a calendar makes it through Presence.setActiveState /
    endActiveState:
    {"user": "alice", "claim": "set", "statusDefault": "busy", "statusSource": "external",
     "statusText": "In a meeting", "statusExpiresAt": ISO, "statusId": "calendar"}
    {"user": "alice", "claim": "end", "statusId": "calendar"}
    → {"success": true, "applied": bool, "user": {the user's status fields}}
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from aiohttp import web

from sandbox import presence_engine
from sandbox.api import json_response
from sandbox.errors import PlainError
from sandbox.state import SandboxState, iso, parse_date
from sandbox.versions import PRESENCE_ENGINE

STATUS_FIELDS = ("status", "statusDefault", "statusText", "statusSource", "statusExpiresAt")


class ControlError(ValueError):
    """A request the control cannot carry out; the message says why."""


def _clock(state: SandboxState) -> dict[str, Any]:
    return {
        "now": iso(state.clock()),
        "offset": float(state.runtime.get("clock_offset", 0)),
        "version": str(state.version),
    }


def move_clock(state: SandboxState, body: Any) -> dict[str, Any]:
    """Apply a `POST /sandbox/clock` body; ControlError when it is not one."""
    if not isinstance(body, dict) or len(body.keys() & {"advance", "to"}) != 1:
        raise ControlError('send {"advance": seconds} or {"to": "<ISO date>"}')
    if "advance" in body:
        seconds = body["advance"]
        if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or seconds < 0:
            raise ControlError('"advance" is a number of seconds, 0 or more')
    else:
        target = parse_date(body["to"])
        if target is None:
            raise ControlError('"to" is an ISO date such as 2030-01-01T09:00:00Z')
        seconds = (target - state.clock()).total_seconds()
        if seconds < 0:
            raise ControlError(f"the sandbox clock only moves forward (now {iso(state.clock())})")
    state.advance_clock(float(seconds))
    return _clock(state)


def _expiry(value: Any) -> datetime | None:
    if value is None:
        return None
    parsed = parse_date(value)
    if parsed is None:
        raise ControlError('"statusExpiresAt" is an ISO date')
    return parsed


def apply_claim(state: SandboxState, body: Any) -> dict[str, Any]:
    """Apply a `POST /sandbox/presence-claims` body; ControlError when it is not one."""
    if not state.at_least(*PRESENCE_ENGINE):
        raise ControlError(f"status claims need Rocket.Chat 8.6+; this sandbox is {state.version}")
    if not isinstance(body, dict):
        raise ControlError("send a JSON object")
    user = state.user_by_username(str(body.get("user") or ""))
    if user is None:
        raise ControlError('"user" names no user')
    status_id = body.get("statusId")
    if status_id is not None and not isinstance(status_id, str):
        raise ControlError('"statusId" is a string')
    if body.get("claim") == "end":
        applied = presence_engine.end_active_state(state, user, status_id)
    elif body.get("claim") == "set":
        source = body.get("statusSource")
        if source not in presence_engine.SOURCES:
            raise ControlError('"statusSource" is internal, manual or external')
        if body.get("statusDefault") not in ("online", "away", "busy", "offline"):
            raise ControlError('"statusDefault" is online, away, busy or offline')
        text = body.get("statusText")
        if text is not None and not isinstance(text, str):
            raise ControlError('"statusText" is a string')
        claim = {"statusDefault": body["statusDefault"], "statusSource": source}
        claim.update({"statusText": text} if text is not None else {})
        claim.update({"statusId": status_id} if status_id else {})
        expires_at = _expiry(body.get("statusExpiresAt"))
        claim.update({"statusExpiresAt": expires_at} if expires_at else {})
        try:
            applied = presence_engine.set_active_state(state, user, claim)
        except PlainError as exc:
            raise ControlError(exc.message) from None
    else:
        raise ControlError('"claim" is "set" or "end"')
    state.save()
    shown = {key: user[key] for key in STATUS_FIELDS if key in user}
    return {"success": True, "applied": applied, "user": shown}


def install(app: web.Application, state: SandboxState) -> None:
    """Add /sandbox/clock and /sandbox/presence-claims."""

    async def read(request: web.Request) -> Any:
        try:
            return await request.json()
        except ValueError:
            return None

    async def show_clock(request: web.Request) -> web.StreamResponse:
        return json_response(_clock(state))

    async def post_clock(request: web.Request) -> web.StreamResponse:
        try:
            return json_response(move_clock(state, await read(request)))
        except ControlError as exc:
            return json_response({"success": False, "error": str(exc)}, 400)

    async def post_claim(request: web.Request) -> web.StreamResponse:
        try:
            return json_response(apply_claim(state, await read(request)))
        except ControlError as exc:
            return json_response({"success": False, "error": str(exc)}, 400)

    app.router.add_route("GET", "/sandbox/clock", show_clock)
    app.router.add_route("POST", "/sandbox/clock", post_clock)
    app.router.add_route("POST", "/sandbox/presence-claims", post_claim)
