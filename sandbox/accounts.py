"""Users, passwords and login tokens, as Meteor's accounts packages and Rocket.Chat keep them.

* Passwords are stored as `services.password.bcrypt` = bcrypt(sha256_hex(password)), the
  way Meteor hashes them; a client may log in with the plain text or the SHA-256 digest.
* Login tokens are `Random.secret()` strings; only `base64(sha256(token))` is stored, in
  `services.resume.loginTokens` as `{when, hashedToken}` (PATs have no `when`).
* `login(...)` is Meteor's `login` method (handlers totp → resume → password, then Rocket.Chat's
  validateLoginAttempt hooks, 2FA included); REST `/login` and DDP `login` both call it.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import bcrypt

from sandbox import login_attempts
from sandbox.api import TwoFactorOptions, hash_login_token
from sandbox.errors import MeteorError
from sandbox.state import SandboxState, random_id, random_secret

GENERAL_ROOM_ID = "GENERAL"
DEFAULT_BCRYPT_ROUNDS = 10
LOGGED_OUT = "You've been logged out by the server. Please log in again."


class MatchFailed(MeteorError):
    """Meteor's `Match.Error` from `check()`: DDP sends 400 "Match failed"; it is not a
    Meteor.Error, so REST `login` answers it with a 500."""

    def __init__(self, detail: str = "") -> None:
        super().__init__(400, "Match failed")
        self.detail = detail


def bcrypt_rounds(state: SandboxState) -> int:
    """bcrypt cost: `runtime["bcrypt_rounds"]` (SANDBOX_BCRYPT_ROUNDS), default 10."""
    try:
        return max(4, min(31, int(state.runtime.get("bcrypt_rounds", DEFAULT_BCRYPT_ROUNDS))))
    except (TypeError, ValueError):
        return DEFAULT_BCRYPT_ROUNDS


def sha256_hex(text: str) -> str:
    """Meteor's `SHA256(text)`: lower-case hex of the UTF-8 bytes."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def bcrypt_hash(state: SandboxState, secret: str) -> str:
    """bcrypt of a string with the sandbox's cost."""
    return bcrypt.hashpw(secret.encode("utf-8"), bcrypt.gensalt(bcrypt_rounds(state))).decode()


def bcrypt_matches(secret: str, hashed: Any) -> bool:
    """`bcrypt.compare`: False for a missing or malformed hash."""
    if not isinstance(hashed, str) or not hashed:
        return False
    try:
        return bcrypt.checkpw(secret.encode("utf-8"), hashed.encode("utf-8"))
    except ValueError:
        return False


def hash_password(state: SandboxState, plain: str) -> str:
    """What Meteor stores for a password: bcrypt of its SHA-256 hex digest."""
    return bcrypt_hash(state, sha256_hex(plain))


def password_digest(password: Any) -> str | None:
    """Meteor's `getPasswordString`: a plain string is hashed, `{digest, algorithm}` passes."""
    if isinstance(password, str):
        return sha256_hex(password)
    if isinstance(password, dict) and password.get("algorithm") == "sha-256":
        digest = password.get("digest")
        return digest if isinstance(digest, str) else None
    return None


def check_password(user: dict[str, Any], password: Any) -> bool:
    """`Accounts._checkPasswordAsync`: the plain password or `{digest, algorithm}` matches."""
    digest = password_digest(password)
    stored = user.get("services", {}).get("password", {}).get("bcrypt")
    return digest is not None and bcrypt_matches(digest, stored)


def set_password(state: SandboxState, user: dict[str, Any], plain: str) -> None:
    """`Accounts.setPasswordAsync(uid, plain, {logout: false})`."""
    services = user.setdefault("services", {})
    services["password"] = {"bcrypt": hash_password(state, plain)}
    user["_updatedAt"] = state.clock()


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
        services["password"] = {"bcrypt": hash_password(state, password)}
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
    from sandbox import rooms  # written by the realtime helper; imported late

    if GENERAL_ROOM_ID in state.rooms:
        rooms.add_user_to_room(state, GENERAL_ROOM_ID, user)


# --- login tokens -------------------------------------------------------------------------


def login_tokens(user: dict[str, Any]) -> list[dict[str, Any]]:
    """The user's `services.resume.loginTokens` list (created if missing)."""
    resume = user.setdefault("services", {}).setdefault("resume", {})
    return resume.setdefault("loginTokens", [])


def issue_login_token(state: SandboxState, user: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """Meteor's `_generateStampedLoginToken` + `_insertLoginToken`: (token, stored entry)."""
    token = random_secret()
    entry = {"when": state.clock(), "hashedToken": hash_login_token(token)}
    login_tokens(user).append(entry)
    return token, entry


def find_token(user: dict[str, Any], hashed: str) -> dict[str, Any] | None:
    """The loginTokens entry (login token or PAT) with this hash."""
    for entry in user.get("services", {}).get("resume", {}).get("loginTokens", []):
        if entry.get("hashedToken") == hashed:
            return entry
    return None


def remove_token(user: dict[str, Any], hashed: str) -> bool:
    """`$pull` one loginTokens entry by hash; True if it was there."""
    tokens = login_tokens(user)
    kept = [entry for entry in tokens if entry.get("hashedToken") != hashed]
    removed = len(kept) != len(tokens)
    tokens[:] = kept
    return removed


def remove_other_tokens(user: dict[str, Any], keep_hashed: str | None) -> None:
    """`removeOtherTokens`/`removeNonPATLoginTokensExcept`: drop other sessions, keep PATs."""
    login_tokens(user)[:] = [
        entry
        for entry in login_tokens(user)
        if entry.get("type") == "personalAccessToken" or entry.get("hashedToken") == keep_hashed
    ]


def token_expires(state: SandboxState, entry: dict[str, Any]) -> datetime | None:
    """`Accounts._tokenExpiration(when)`; None for PATs (no `when`: Meteor's Invalid Date)."""
    when = entry.get("when")
    if not isinstance(when, datetime):
        return None
    days = state.settings.get("Accounts_LoginExpiration") or 90
    try:
        return when + timedelta(days=float(days))
    except (TypeError, ValueError):
        return when + timedelta(days=90)


# --- the login method ---------------------------------------------------------------------


@dataclass
class LoginOutcome:
    """A successful login: who, with which token, and the `login` method's result."""

    user: dict[str, Any]
    token: str
    entry: dict[str, Any]
    login_type: str  # "password" | "resume"

    def result(self, state: SandboxState) -> dict[str, Any]:
        """`{id, token, tokenExpires, type}` as the DDP `login` method returns it."""
        return {
            "id": self.user["_id"],
            "token": self.token,
            "tokenExpires": token_expires(state, self.entry),
            "type": self.login_type,
        }


def _find_user_by_query(state: SandboxState, query: dict[str, Any]) -> dict[str, Any] | None:
    """`Accounts._findUserByQuery`: by id, username (exact, else unique case-insensitive),
    or email (case-insensitive)."""
    if "id" in query:
        return state.users.get(query["id"])
    if "username" in query:
        wanted = query["username"]
        for user in state.users.values():
            if user.get("username") == wanted:
                return user
        matches = [
            user
            for user in state.users.values()
            if str(user.get("username", "")).lower() == wanted.lower()
        ]
        return matches[0] if len(matches) == 1 else None
    if "email" in query:
        return state.user_by_email(query["email"])
    return None


def _check_password_options(options: dict[str, Any]) -> None:
    """The accounts-password `check(options, {user, password, code?})`."""
    if set(options) - {"user", "password", "code"}:
        raise MatchFailed("Unknown key")
    user = options.get("user")
    if not isinstance(user, dict) or len(user) != 1:
        raise MatchFailed("User property must have exactly one field")
    ((key, value),) = user.items()
    if key not in ("id", "username", "email") or not isinstance(value, str) or not value:
        raise MatchFailed("Invalid user query")
    password = options.get("password")
    if isinstance(password, str):
        if len(password) > 256:
            raise MatchFailed("Password too long")
    elif isinstance(password, dict):
        digest = password.get("digest")
        if (
            set(password) != {"digest", "algorithm"}
            or password.get("algorithm") != "sha-256"
            or not isinstance(digest, str)
            or len(digest) != 64
        ):
            raise MatchFailed("Invalid password")
    else:
        raise MatchFailed("Invalid password")
    if "code" in options and (not isinstance(options["code"], str) or not options["code"]):
        raise MatchFailed("Invalid code")


def _password_handler(state: SandboxState, options: dict[str, Any]) -> dict[str, Any]:
    _check_password_options(options)
    user = _find_user_by_query(state, options["user"])
    if user is None:
        raise MeteorError(403, "User not found")
    if not user.get("services", {}).get("password", {}).get("bcrypt"):
        raise MeteorError(403, "User has no password set")
    if not check_password(user, options["password"]):
        # loginErrorMessageOverride: never tell a wrong password from an unknown user.
        raise MeteorError(403, "User not found")
    return user


def _validate_login(
    state: SandboxState, user: dict[str, Any], login_type: str, totp_code: str | None
) -> None:
    """Rocket.Chat's validateLoginAttempt hooks: active user, then 2FA for non-resume logins."""
    from sandbox import twofactor

    if user.get("active") is not True:
        raise MeteorError(
            "error-user-is-not-activated",
            "User is not activated",
            {"function": "Accounts.validateLoginAttempt"},
        )
    if login_type == "resume":
        return
    twofactor.check_code_for_user(
        state,
        user,
        code=totp_code,
        method=None,
        options=TwoFactorOptions(disable_password_fallback=True),
        connection=None,
    )


def login(state: SandboxState, options: Any, client_address: str | None = None) -> LoginOutcome:
    """Meteor's `login` method for one options object (resume, password, or totp-wrapped).

    Order: login handler → Rocket.Chat's validateLoginAttempt (brute-force block, which wins
    over the handler's own error; then active user and 2FA) → new token for password logins.
    Failures are recorded for the brute-force guard. Raises MeteorError (or MatchFailed).
    """
    try:
        outcome = _attempt(state, options, client_address)
    except MeteorError:
        login_attempts.record_failure(state, options, client_address)
        raise
    login_attempts.record_success(state, client_address)
    return outcome


def _attempt(state: SandboxState, options: Any, client_address: str | None) -> LoginOutcome:
    handler_error: MeteorError | None = None
    found: LoginOutcome | dict[str, Any] | None = None
    totp_code: str | None = None
    try:
        found, totp_code = _run_handlers(state, options)
    except MeteorError as exc:
        handler_error = exc
    login_attempts.check(state, options, client_address)
    if handler_error is not None:
        raise handler_error
    if isinstance(found, LoginOutcome):
        _validate_login(state, found.user, "resume", None)
        return found
    assert found is not None
    _validate_login(state, found, "password", totp_code)
    token, entry = issue_login_token(state, found)
    found["lastLogin"] = state.clock()
    return LoginOutcome(found, token, entry, "password")


def _run_handlers(
    state: SandboxState, options: Any
) -> tuple[LoginOutcome | dict[str, Any], str | None]:
    """The login handlers (totp → resume → password): a resume outcome or the user found."""
    if not isinstance(options, dict):
        raise MatchFailed("Expected object")
    totp_code: str | None = None
    if isinstance(options.get("totp"), dict) and options["totp"].get("code"):
        totp_code = options["totp"]["code"]
        if not isinstance(totp_code, str):
            raise MatchFailed("Expected string")
        options = options["totp"].get("login")
        if not isinstance(options, dict):
            raise MeteorError(400, "Unrecognized options for login request")
    if options.get("resume"):
        return _resume(state, options["resume"]), None
    if options.get("password"):
        return _password_handler(state, options), totp_code
    raise MeteorError(400, "Unrecognized options for login request")


def _resume(state: SandboxState, token: Any) -> LoginOutcome:
    if not isinstance(token, str):
        raise MatchFailed("Expected string")
    hashed = hash_login_token(token)
    for user in state.users.values():
        entry = find_token(user, hashed)
        if entry is None:
            continue
        expires = token_expires(state, entry)
        if expires is not None and state.clock() >= expires:
            raise MeteorError(403, "Your session has expired. Please log in again.")
        return LoginOutcome(user, token, entry, "resume")
    raise MeteorError(403, LOGGED_OUT)


def login_with_password(
    state: SandboxState, user_query: dict[str, str], password: Any, code: str | None = None
) -> LoginOutcome:
    """A password login (plain text or `{digest, algorithm}`), with an optional 2FA code."""
    options: dict[str, Any] = {"user": user_query, "password": password}
    if code:
        options = {"totp": {"code": code, "login": options}}
    return login(state, options)


def login_with_resume(state: SandboxState, token: str) -> LoginOutcome:
    """A resume login with a login token or a PAT."""
    return login(state, {"resume": token})
