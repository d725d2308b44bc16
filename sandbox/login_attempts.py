"""Rocket.Chat's brute-force guard (authentication/server/lib/restrictLoginAttempts.ts).

Every failed login is recorded (IP, username given); once a user (10) or an IP (50) has failed
that often since its last successful login, further logins — right password or not — are
refused until 5 minutes after the last failed attempt. Settings: Block_Multiple_Failed_Logins_*.
Records live in `state.runtime` (Rocket.Chat keeps them in ServerEvents).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sandbox.errors import MeteorError
from sandbox.state import SandboxState

_PREFIX = "Block_Multiple_Failed_Logins_"


def _setting(state: SandboxState, name: str) -> Any:
    return state.settings.get(_PREFIX + name)


def _failures(state: SandboxState) -> list[dict[str, Any]]:
    return state.runtime.setdefault("failed_logins", [])


def _ip_logins(state: SandboxState) -> dict[str, datetime]:
    return state.runtime.setdefault("ip_last_login", {})


def login_username(options: Any) -> str | None:
    """`login.methodArguments[0].user?.username` (None for e-mail, resume or totp forms)."""
    if isinstance(options, dict) and isinstance(options.get("user"), dict):
        username = options["user"].get("username")
        return username if isinstance(username, str) else None
    return None


def _blocked(
    state: SandboxState,
    attempts: list[datetime],
    since: datetime | None,
    limit_setting: str,
    minutes_setting: str,
) -> bool:
    counted = [ts for ts in attempts if since is None or ts > since]
    try:
        limit = int(_setting(state, limit_setting) or 0)
        minutes = int(_setting(state, minutes_setting) or 0)
    except (TypeError, ValueError):
        return False
    if limit and len(counted) < limit:
        return False
    if not attempts:
        return False
    return state.clock() < max(attempts) + timedelta(minutes=minutes)


def check(state: SandboxState, options: Any, client_address: str | None) -> None:
    """Raise the 'temporarily blocked' error when the IP or the user is blocked."""
    if not _setting(state, "Enabled"):
        return
    failures = _failures(state)
    whitelist = [entry.strip() for entry in str(_setting(state, "Ip_Whitelist") or "").split(",")]
    if _setting(state, "By_Ip") and client_address and client_address not in whitelist:
        attempts = [f["ts"] for f in failures if f["ip"] == client_address]
        since = _ip_logins(state).get(client_address)
        if _blocked(
            state,
            attempts,
            since,
            "Attempts_Until_Block_By_Ip",
            "Time_To_Unblock_By_Ip_In_Minutes",
        ):
            raise MeteorError(
                "error-login-blocked-for-ip",
                "Login has been temporarily blocked For IP",
                {"function": "Accounts.validateLoginAttempt"},
            )
    username = login_username(options)
    if _setting(state, "By_User") and username:
        attempts = [f["ts"] for f in failures if f["username"] == username]
        user = state.user_by_exact_username(username)
        since = user.get("lastLogin") if user else None
        if _blocked(
            state,
            attempts,
            since if isinstance(since, datetime) else None,
            "Attempts_Until_Block_by_User",
            "Time_To_Unblock_By_User_In_Minutes",
        ):
            raise MeteorError(
                "error-login-blocked-for-user",
                "Login has been temporarily blocked For User",
                {"function": "Accounts.validateLoginAttempt"},
            )


def record_failure(state: SandboxState, options: Any, client_address: str | None) -> None:
    """Accounts.onLoginFailure → saveFailedLoginAttempts."""
    if not _setting(state, "Enabled"):
        return
    failures = _failures(state)
    failures.append(
        {"ip": client_address, "username": login_username(options), "ts": state.clock()}
    )
    del failures[:-10_000]  # keep memory bounded


def record_success(state: SandboxState, client_address: str | None) -> None:
    """A successful login resets the IP's count (Sessions' last login by IP)."""
    if client_address:
        _ip_logins(state)[client_address] = state.clock()
