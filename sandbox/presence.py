"""Connection-based presence, as Rocket.Chat's Presence service keeps it.

A user is connected while at least one logged-in DDP session is open (REST calls do not count).
`status` is then the user's `statusDefault` ('online' unless they chose away/busy/offline), and
'offline' once the last session closes. Both modelled versions compute it alike (7.x
processPresenceAndStatus; 8.6 presenceEngine.ts `processPresence` without a claim); what 8.6
adds on top, status claims, is `sandbox.presence_engine`.

A change is announced on stream-notify-logged `user-status` (listeners.module.ts): 7.x sends
`[[uid, username, 0-3, statusText, name, roles]]`; 8.6 sends
`[[uid, username, 0-3, statusText, statusSource, statusExpiresAt]]`, the shape Rocket.Chat's
mobile client reads from 8.6 on (Rocket.Chat.ReactNative app/lib/services/connect.ts, PR #7392).
"""

from __future__ import annotations

from typing import Any

from sandbox.state import SandboxState
from sandbox.versions import PRESENCE_ENGINE

STATUS_CODES = {"offline": 0, "online": 1, "away": 2, "busy": 3, "disabled": 0}


def _sessions(state: SandboxState) -> dict[str, int]:
    return state.runtime.setdefault("ddp_online", {})


def is_connected(state: SandboxState, user_id: str) -> bool:
    """At least one logged-in DDP session of this user is open."""
    return _sessions(state).get(user_id, 0) > 0


def session_logged_in(state: SandboxState, user_id: str) -> None:
    """A DDP session is now logged in as `user_id`."""
    sessions = _sessions(state)
    sessions[user_id] = sessions.get(user_id, 0) + 1
    refresh(state, user_id)


def session_logged_out(state: SandboxState, user_id: str) -> None:
    """A DDP session of `user_id` logged out or closed."""
    sessions = _sessions(state)
    left = sessions.get(user_id, 0) - 1
    if left > 0:
        sessions[user_id] = left
    else:
        sessions.pop(user_id, None)
    refresh(state, user_id)


def shown_status(connected: bool, status_default: Any) -> str:
    """What others see: offline without a connection; else the chosen status, where 'online'
    defers to the connection (processStatus / presenceEngine.ts `computeStatus`)."""
    if not connected:
        return "offline"
    return str(status_default or "online")


def refresh(state: SandboxState, user_id: str) -> None:
    """Recompute `statusConnection` and `status`; announce `user-status` when it changed."""
    user = state.users.get(user_id)
    if user is None:
        return
    connected = is_connected(state, user_id)
    status = shown_status(connected, user.get("statusDefault"))
    connection = "online" if connected else "offline"
    changed = user.get("status") != status
    if changed or user.get("statusConnection") != connection:
        user["_updatedAt"] = state.clock()
    user["statusConnection"] = connection
    if changed:
        user["status"] = status
        notify_status(state, user)


def notify_status(state: SandboxState, user: dict[str, Any]) -> None:
    """stream-notify-logged `user-status` for the user's current status."""
    status = user.get("status") or "offline"
    head = [user["_id"], user.get("username"), STATUS_CODES.get(status, 0), user.get("statusText")]
    if state.at_least(*PRESENCE_ENGINE):
        tail = [user.get("statusSource"), user.get("statusExpiresAt")]
    else:
        tail = [user.get("name"), user.get("roles") or []]
    state.bus.notify_logged("user-status", [head + tail])
