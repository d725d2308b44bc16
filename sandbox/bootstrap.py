"""Start-up: what a Rocket.Chat container does before it accepts connections.

Default settings and permissions are added where missing (a reloaded world keeps its values),
`OVERWRITE_SETTING_<id>=<value>` variables are applied on every start (converted to the
setting's type), the GENERAL channel exists, and `ADMIN_USERNAME`/`ADMIN_PASS`/`ADMIN_EMAIL`
create an administrator while the server has none. Without those variables, the first user to
register becomes admin (accounts.create_user). `SANDBOX_BCRYPT_ROUNDS` sets the bcrypt cost
(speed only: tests use 4).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping

from sandbox import accounts, permissions, rooms, settings_defaults
from sandbox.state import SandboxState

log = logging.getLogger("sandbox.bootstrap")
OVERWRITE_PREFIX = "OVERWRITE_SETTING_"


def bootstrap(state: SandboxState, environ: Mapping[str, str], fresh: bool) -> None:
    """Bring `state` (fresh or reloaded from the data file) to a served, consistent world."""
    rounds = environ.get("SANDBOX_BCRYPT_ROUNDS")
    if rounds:
        try:
            state.runtime["bcrypt_rounds"] = int(rounds)
        except ValueError:
            log.warning("SANDBOX_BCRYPT_ROUNDS=%r is not a number; using 10", rounds)
    for setting_id, value in settings_defaults.default_values().items():
        state.settings.setdefault(setting_id, value)
    apply_overwrites(state, environ)
    permissions.seed(state)
    rooms.ensure_general(state)
    create_admin_from_environment(state, environ)
    if fresh:
        log.info("fresh sandbox state created")


def apply_overwrites(state: SandboxState, environ: Mapping[str, str]) -> None:
    """`OVERWRITE_SETTING_<id>=<value>`: set the setting, typed like its default."""
    for key, raw in environ.items():
        if not key.startswith(OVERWRITE_PREFIX):
            continue
        setting_id = key[len(OVERWRITE_PREFIX) :]
        try:
            state.settings[setting_id] = settings_defaults.convert(setting_id, raw)
        except ValueError as exc:
            log.warning("ignoring %s: %s", key, exc)


def create_admin_from_environment(state: SandboxState, environ: Mapping[str, str]) -> None:
    """Rocket.Chat's initialData: with ADMIN_PASS and no admin yet, create one.

    ADMIN_USERNAME (default "admin") must match UTF8_User_Names_Validation and be free;
    ADMIN_EMAIL is used when it looks like an address and is free (verified only with
    ADMIN_EMAIL_VERIFIED=true); ADMIN_NAME defaults to "Administrator".
    """
    password = environ.get("ADMIN_PASS")
    if not password or accounts.has_admin(state):
        return
    username = "admin"
    wanted = environ.get("ADMIN_USERNAME")
    if wanted:
        pattern = str(state.settings.get("UTF8_User_Names_Validation") or "[0-9a-zA-Z-_.]+")
        try:
            valid = re.fullmatch(pattern, wanted) is not None
        except re.error:
            valid = re.fullmatch(r"[0-9a-zA-Z-_.]+", wanted) is not None
        if valid and state.user_by_username(wanted) is None:
            username = wanted
    email = environ.get("ADMIN_EMAIL")
    if email and (
        not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", email) or state.user_by_email(email)
    ):
        email = None
    accounts.create_user(
        state,
        username=username,
        email=email,
        password=password,
        name=environ.get("ADMIN_NAME") or "Administrator",
        roles=["admin"],
        verified=environ.get("ADMIN_EMAIL_VERIFIED") == "true",
        email2fa_opt_in=False,  # inserted directly, not through insertUserDoc
    )
