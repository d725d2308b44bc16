"""A user's own status: setStatusText, setUserStatusMethod and users.setStatus, per version.

7.x writes the choice into the user document (Presence.setStatus, or directly in
users.setStatus); 8.6 turns it into a manual claim of the presence engine
(sandbox.presence_engine, PR #40274). The status-text limiter follows the version too: 7.x's
setStatusText is rate-limited, 8.x's is not (PR #38354).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sandbox import presence, presence_engine, ratelimit
from sandbox.check import check
from sandbox.errors import MeteorError
from sandbox.state import SandboxState
from sandbox.versions import PRESENCE_ENGINE, ROUTE_LIMITS_REPLACE_FUNCTION_LIMITS

MAX_STATUS_TEXT_LENGTH = 120
STATUS_TYPES = ("online", "away", "offline", "busy")


def broadcast_status(state: SandboxState, user: dict[str, Any]) -> None:
    """stream-notify-logged `user-status` with the user's current status (sandbox.presence)."""
    presence.notify_status(state, user)


def set_status_text(state: SandboxState, user: dict[str, Any], text: str) -> None:
    """setStatusText.ts: trimmed, cut to 120 characters, announced when it changed.

    7.x wraps it in RateLimiter.limitFunction (5 calls a minute per user, unless the caller
    may edit-other-user-info); 8.x dropped that limiter (PR #38354) for route limits on
    users.setStatus and users.updateOwnBasicInfo (sandbox.ratelimit).
    """
    if not state.at_least(*ROUTE_LIMITS_REPLACE_FUNCTION_LIMITS):
        ratelimit.limit_unless_privileged(state, "setStatusText", user["_id"], 5, 60_000)
    cut = text.strip()[:MAX_STATUS_TEXT_LENGTH]
    if user.get("statusText") == cut:
        return
    user["statusText"] = cut
    user["_updatedAt"] = state.clock()
    broadcast_status(state, user)


def refuse_invisible(state: SandboxState, status_type: Any, method: str) -> None:
    """'offline' (invisible) needs Accounts_AllowInvisibleStatusOption."""
    if status_type == "offline" and not state.settings.get("Accounts_AllowInvisibleStatusOption"):
        raise MeteorError(
            "error-status-not-allowed", "Invisible status is disabled", {"method": method}
        )


def _refuse_text_change(state: SandboxState) -> None:
    if not state.settings.get("Accounts_AllowUserStatusMessageChange"):
        raise MeteorError("error-not-allowed", "Not allowed", {"method": "setUserStatus"})


def set_presence_7x(state: SandboxState, user: dict[str, Any], status_type: str) -> None:
    """7.x Presence.setStatus: the choice becomes statusDefault; what others see (`status`)
    follows the user's connections (offline while no DDP session is open)."""
    user["statusDefault"] = status_type
    user["_updatedAt"] = state.clock()
    presence.refresh(state, user["_id"])


def set_user_status(
    state: SandboxState, user: dict[str, Any], status_type: Any, status_text: Any
) -> None:
    """setUserStatusMethod (app/user-status/server/methods/setUserStatus.ts), per version.

    `None` stands for a value not given. 7.x: a type goes to Presence.setStatus (offline needs
    the invisible option), then a text (any string, "" included) to setStatusText, refused
    while status messages are disabled. 8.6 (PR #40274): a given text is refused first while
    status messages are disabled; a type becomes a manual claim carrying the text ('online'
    without text clears every claim instead, text included); a text alone still goes to
    setStatusText. A truthy text that is not a string fails meteor/check.
    """
    engine = state.at_least(*PRESENCE_ENGINE)
    if engine and status_text is not None:
        _refuse_text_change(state)
    if status_type:
        refuse_invisible(state, status_type, "setUserStatus")
        if engine:
            presence_engine.set_manual_status(state, user, status_type, status_text)
            return
        set_presence_7x(state, user, status_type)
    if status_text or status_text == "":
        check(status_text, str)
        if not engine:
            _refuse_text_change(state)
        set_status_text(state, user, status_text)


def set_status_rest_7x(
    state: SandboxState, user: dict[str, Any], status: str | None, message: str | None
) -> None:
    """7.x users.setStatus after its checks: the message through setStatusText, the status
    written straight into `status` and `statusDefault` (whatever the connections say)."""
    if isinstance(message, str):
        set_status_text(state, user, message)
    if not status:
        return
    if status not in STATUS_TYPES:
        raise MeteorError(
            "error-invalid-status",
            "Valid status types include online, away, offline, and busy.",
            {"method": "users.setStatus"},
        )
    refuse_invisible(state, status, "users.setStatus")
    user["status"] = status
    user["statusDefault"] = status
    user["_updatedAt"] = state.clock()
    broadcast_status(state, user)


def set_status_rest_86(
    state: SandboxState,
    user: dict[str, Any],
    status: str | None,
    message: str | None,
    expires_at: datetime | None,
) -> None:
    """8.6 users.setStatus after its checks: a status is a manual claim with the message and
    the expiry; a message alone goes to setStatusText (the expiry is then not kept)."""
    if status:
        refuse_invisible(state, status, "users.setStatus")
        presence_engine.set_manual_status(state, user, status, message, expires_at)
    elif message is not None:
        set_status_text(state, user, message)
