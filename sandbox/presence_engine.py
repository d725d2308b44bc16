"""Rocket.Chat 8.6's presence engine: status claims resolved against the DDP connections.

Follows ee/packages/presence/src/lib/presenceEngine.ts and ee/packages/presence/src/Presence.ts
(PR #40274, with #41035, #41047 and #41048). A claim comes from a source: `internal` (a call or
a conference) beats `manual` (the user) beats `external` (a calendar); the system's own
connection status ranks below all. The winning claim sets `statusDefault`, `statusText`,
`statusSource` and optionally `statusExpiresAt` and `statusId`; a displaced or a lower claim
waits in `previousState` (one slot). A manual claim never waits and clears the slot. When a
claim ends (its expiry, or its source ending it) the waiting one comes back if it has not
expired itself; otherwise the user returns to system-managed "online" with no text.

What others see (`status`) still follows the connections: offline without one, except that a
bot or app keeps a claimed status, and clearing a claim shows the reset status. Only 8.6 runs
this module; 7.x writes `statusDefault` directly (sandbox.profile).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from sandbox import presence
from sandbox.errors import PlainError
from sandbox.state import SandboxState, clone

PRIORITY = {"internal": 1, "manual": 2, "external": 3}
NO_PRIORITY = 4  # system states (auto-away, connection-driven online)
SOURCES = tuple(PRIORITY)
STATUS_TEXT_MAX_LENGTH = 120  # normalizeStatusText.ts
CLAIM_FIELDS = ("statusDefault", "statusSource", "statusText", "statusExpiresAt", "statusId")
# What a client can see change: a change of any of these is broadcast as `user-status`.
_VISIBLE = ("status", "statusText", "statusSource", "statusExpiresAt")
WAKEUP_KEY = "presence:wakeup"  # set by sandbox.status_expiry: re-plan the next expiry


@dataclass(frozen=True)
class Claim:
    """presenceEngine.ts `ClaimUpdate`."""

    kind: Literal["setActive", "endActive", "clearActive"]
    new_state: dict[str, Any] = field(default_factory=dict)
    status_id: str | None = None


@dataclass
class Intent:
    """The fields a claim writes (`set`) and removes (`unset`)."""

    set: dict[str, Any]
    unset: list[str]


def _reset_to_online() -> Intent:
    return Intent(
        {"statusDefault": "online", "statusText": ""},
        ["statusSource", "statusExpiresAt", "previousState", "statusId"],
    )


def _is_expired(when: Any, now: datetime) -> bool:
    return isinstance(when, datetime) and when < now


def _unset_for(claim_state: dict[str, Any], extra: list[str]) -> list[str]:
    """fieldsToUnset: the extra fields, plus statusExpiresAt when the state has none."""
    fields = list(dict.fromkeys(extra))
    if not claim_state.get("statusExpiresAt") and "statusExpiresAt" not in fields:
        fields.append("statusExpiresAt")
    return fields


def _claim_values(claim_state: dict[str, Any]) -> dict[str, Any]:
    """The fields of a claim as they are written: text when not null, expiry and id when set."""
    values = {
        "statusDefault": claim_state.get("statusDefault"),
        "statusSource": claim_state.get("statusSource"),
    }
    if claim_state.get("statusText") is not None:
        values["statusText"] = claim_state["statusText"]
    if claim_state.get("statusExpiresAt"):
        values["statusExpiresAt"] = claim_state["statusExpiresAt"]
    if claim_state.get("statusId"):
        values["statusId"] = claim_state["statusId"]
    return {key: value for key, value in values.items() if value is not None}


def _end(user: dict[str, Any], claim: Claim, now: datetime) -> Intent | None:
    if claim.status_id:
        matches_active = user.get("statusId") == claim.status_id
        waiting = user.get("previousState") or {}
        matches_waiting = waiting.get("statusId") == claim.status_id
        if matches_waiting and not matches_active:  # the waiting claim ended: drop it
            return Intent({}, ["previousState"])
        if not matches_active and not matches_waiting:
            return None
    previous = user.get("previousState")
    if isinstance(previous, dict) and not _is_expired(previous.get("statusExpiresAt"), now):
        extra = ["previousState"] if previous.get("statusId") else ["previousState", "statusId"]
        return Intent(_claim_values(previous), _unset_for(previous, extra))
    return _reset_to_online()


def _set(user: dict[str, Any], new_state: dict[str, Any], now: datetime) -> Intent | None:
    current_default = user.get("statusDefault") or "online"
    source = new_state.get("statusSource")
    if current_default == "offline" and source != "manual":
        return None  # an invisible user's status changes by their own hand only
    current_priority = PRIORITY.get(user.get("statusSource") or "", NO_PRIORITY)
    new_priority = PRIORITY.get(source or "", NO_PRIORITY)
    manual = source == "manual"
    status_id = new_state.get("statusId")
    if new_priority <= current_priority:
        same_source = user.get("statusSource") == source
        stash = (
            not manual
            and bool(user.get("statusSource"))
            and (not same_source or source == "internal")
        )
        values = _claim_values(new_state)
        if stash:
            waiting = {
                "statusDefault": current_default,
                "statusText": user.get("statusText") or "",
                "statusSource": user.get("statusSource"),
                "statusExpiresAt": user.get("statusExpiresAt"),
                "statusId": user.get("statusId"),
            }
            values["previousState"] = {k: v for k, v in waiting.items() if v is not None}
        extra = (["previousState"] if manual else []) + ([] if status_id else ["statusId"])
        return Intent(values, _unset_for(new_state, extra))
    waiting = _claim_values(new_state)
    current_waiting = user.get("previousState")
    if not isinstance(current_waiting, dict) or _is_expired(
        current_waiting.get("statusExpiresAt"), now
    ):
        return Intent({"previousState": waiting}, [])
    waiting_source = current_waiting.get("statusSource")
    if source and waiting_source and PRIORITY[source] <= PRIORITY.get(waiting_source, 4):
        return Intent({"previousState": waiting}, [])
    return None  # lower than the active claim and the waiting one: nowhere to keep it


def resolve_intent(user: dict[str, Any], claim: Claim, now: datetime) -> Intent | None:
    """presenceEngine.ts `resolveIntent`: what a claim writes, or None when it is rejected."""
    if claim.kind == "clearActive":
        return _reset_to_online()
    if claim.kind == "endActive":
        return _end(user, claim, now)
    return _set(user, claim.new_state, now)


def _is_service_user(user: dict[str, Any]) -> bool:
    return user.get("type") in ("bot", "app") or "bot" in (user.get("roles") or [])


def process_presence(
    user: dict[str, Any], connected: bool, claim: Claim, now: datetime
) -> tuple[dict[str, Any], list[str]] | None:
    """presenceEngine.ts `processPresence` for a claim: (fields to set, fields to remove), or
    None when the claim changes nothing."""
    intent = resolve_intent(user, claim, now)
    if intent is None:
        return None
    status_default = intent.set.get("statusDefault") or user.get("statusDefault") or "online"
    if connected:
        status = presence.shown_status(True, status_default)
    elif claim.kind == "clearActive" or claim.kind == "setActive" and _is_service_user(user):
        status = status_default
    else:
        status = "offline"
    values = {
        **intent.set,
        "status": status,
        "statusConnection": "online" if connected else "offline",
    }
    return values, intent.unset


def apply(state: SandboxState, user: dict[str, Any], claim: Claim) -> bool:
    """Presence `updatePresenceAndReschedule`: write the claim's outcome, announce a visible
    change on `user-status`, and re-plan the expiry job. False when the claim was rejected."""
    outcome = process_presence(
        user, presence.is_connected(state, user["_id"]), claim, state.clock()
    )
    if outcome is None:
        _wake_expiry_job(state)
        return False
    values, unset = outcome
    before = {key: user.get(key) for key in _VISIBLE}
    for key, value in values.items():
        user[key] = clone(value)
    for key in unset:
        user.pop(key, None)
    user["_updatedAt"] = state.clock()
    if any(user.get(key) != before[key] for key in _VISIBLE):
        presence.notify_status(state, user)
    _wake_expiry_job(state)
    return True


def _wake_expiry_job(state: SandboxState) -> None:
    wake = state.runtime.get(WAKEUP_KEY)
    if callable(wake):
        wake()


def normalize_status_text(text: Any) -> str:
    """normalizeStatusText.ts: trimmed, at most 120 characters (a non-string crashes there)."""
    if not isinstance(text, str):
        raise TypeError("text.trim is not a function")
    return text.strip()[:STATUS_TEXT_MAX_LENGTH]


def set_active_state(state: SandboxState, user: dict[str, Any], new_state: dict[str, Any]) -> bool:
    """Presence.setActiveState: a future expiry only (a plain Error otherwise), text normalized."""
    expires_at = new_state.get("statusExpiresAt")
    if expires_at is not None and (
        not isinstance(expires_at, datetime) or expires_at <= state.clock()
    ):
        raise PlainError("statusExpiresAt must be a future date")
    claim_state = {key: new_state[key] for key in CLAIM_FIELDS if key in new_state}
    if claim_state.get("statusText") is not None:
        claim_state["statusText"] = normalize_status_text(claim_state["statusText"])
    return apply(state, user, Claim("setActive", claim_state))


def end_active_state(
    state: SandboxState, user: dict[str, Any], status_id: str | None = None
) -> bool:
    """Presence.endActiveState: end the active claim (or the one with `status_id`)."""
    return apply(state, user, Claim("endActive", status_id=status_id))


def clear_active_state(state: SandboxState, user: dict[str, Any]) -> bool:
    """Presence.clearActiveState: drop every claim; back to "online" with no text."""
    return apply(state, user, Claim("clearActive"))


def set_manual_status(
    state: SandboxState,
    user: dict[str, Any],
    status_default: str,
    status_text: str | None = None,
    expires_at: datetime | None = None,
) -> bool:
    """A user's own choice (users.setStatus, setUserStatus): 'online' without text clears
    every claim; anything else is a manual claim."""
    if status_default == "online" and not status_text:
        return clear_active_state(state, user)
    new_state: dict[str, Any] = {"statusDefault": status_default, "statusSource": "manual"}
    if status_text is not None:
        new_state["statusText"] = status_text
    if expires_at is not None:
        new_state["statusExpiresAt"] = expires_at
    return set_active_state(state, user, new_state)


def next_expiry(state: SandboxState) -> datetime | None:
    """Users.findNextStatusExpiration: the soonest `statusExpiresAt`, overdue ones included."""
    found = [
        user["statusExpiresAt"]
        for user in state.users.values()
        if isinstance(user.get("statusExpiresAt"), datetime)
    ]
    return min(found, default=None)


def process_expired(state: SandboxState) -> int:
    """Presence `processExpiredStatuses`: end every claim whose expiry has come (the job the
    service runs at the soonest `statusExpiresAt`). Returns how many users it touched."""
    now = state.clock()
    due = [
        user
        for user in state.users.values()
        if isinstance(user.get("statusExpiresAt"), datetime) and user["statusExpiresAt"] <= now
    ]
    for user in due:
        apply(state, user, Claim("endActive"))
    if due:
        state.save()
    return len(due)
