"""User accounts as Rocket.Chat creates them (Accounts.createUser + insertUserDoc).

Passwords and login tokens live in `sandbox.credentials`, the login method in `sandbox.login`.
"""

from __future__ import annotations

from typing import Any

from sandbox import credentials, rooms
from sandbox.state import SandboxState, random_id


def has_admin(state: SandboxState) -> bool:
    """Rocket.Chat's `findOneByRolesAndType('admin', 'user')`."""
    return any(
        "admin" in (user.get("roles") or []) and user.get("type", "user") == "user"
        for user in state.users.values()
    )


def create_user(
    state: SandboxState,
    *,
    username: str | None,
    email: str | None,
    password: str | None,
    name: str | None = None,
    roles: list[str] | None = None,
    user_type: str = "user",
    verified: bool = False,
    active: bool = True,
    join_default_channels: bool = True,
    email2fa_opt_in: bool = True,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Insert a user the way Accounts.createUser + Rocket.Chat's insertUserDoc do.

    Roles default to `Accounts_Registration_Users_Default_Roles`; while no admin exists, a
    new 'user'-type account also becomes admin (fresh-server behaviour). With e-mail 2FA
    auto opt-in on (and `email2fa_opt_in`), `services.email2fa.enabled` is set. The user joins
    GENERAL unless `join_default_channels` is false. Checks (availability, policy) are the
    caller's job. Returns the stored document.
    """
    created = state.clock()
    if roles:
        user_roles = list(dict.fromkeys(roles))
    else:
        configured = str(state.settings.get("Accounts_Registration_Users_Default_Roles") or "user")
        user_roles = [role.strip() for role in configured.split(",") if role.strip()] or ["user"]
    if user_type == "user" and "admin" not in user_roles and not has_admin(state):
        user_roles.append("admin")
    services: dict[str, Any] = {}
    if password is not None:
        services["password"] = {"bcrypt": credentials.hash_password(state, password)}
    if (
        email2fa_opt_in
        and state.settings.get("Accounts_TwoFactorAuthentication_By_Email_Auto_Opt_In")
        and user_type == "user"
    ):
        services["email2fa"] = {"enabled": True, "changedAt": created}
    user: dict[str, Any] = {
        "_id": random_id(),
        "createdAt": created,
        "services": services,
        "type": user_type,
        "status": "offline",
        "active": active,
        "roles": user_roles,
        "_updatedAt": created,
    }
    if username:
        user["username"] = username
    if email:
        user["emails"] = [{"address": email.strip().lower(), "verified": bool(verified)}]
    if name is not None:
        user["name"] = name
    user["settings"] = {}
    if extra:
        user.update(extra)
    state.users[user["_id"]] = user
    if join_default_channels and username:
        join_general(state, user)
    return user


def join_general(state: SandboxState, user: dict[str, Any]) -> None:
    """Add the user to the default channel GENERAL (rooms.add_user_to_room)."""
    if rooms.GENERAL_ID in state.rooms:
        rooms.add_user_to_room(state, rooms.GENERAL_ID, user)
