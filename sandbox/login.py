"""Meteor's `login` method: handlers totp → resume → password, then Rocket.Chat's
validateLoginAttempt hooks (brute-force guard, active user, 2FA). REST `/login` and DDP `login`
both call `login(...)`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sandbox import login_attempts, twofactor
from sandbox.credentials import check_password, find_token, issue_login_token, token_expires
from sandbox.digests import hash_login_token
from sandbox.errors import MeteorError
from sandbox.state import SandboxState

LOGGED_OUT = "You've been logged out by the server. Please log in again."


class MatchFailed(MeteorError):
    """Meteor's `Match.Error` from `check()`: DDP sends 400 "Match failed"; it is not a
    Meteor.Error, so REST `login` answers it with a 500."""

    def __init__(self, detail: str = "") -> None:
        super().__init__(400, "Match failed")
        self.detail = detail


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
        # Exactly, else ignoring case; usernames are unique ignoring case, so one lookup.
        return state.user_by_username(query["username"])
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
        options=twofactor.TwoFactorOptions(disable_password_fallback=True),
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
