"""Passwords and login tokens, stored as Meteor's accounts packages keep them.

* Passwords are stored as `services.password.bcrypt` = bcrypt(sha256_hex(password)), the
  way Meteor hashes them; a client may log in with the plain text or the SHA-256 digest.
* Login tokens are `Random.secret()` strings; only `base64(sha256(token))` is stored, in
  `services.resume.loginTokens` as `{when, hashedToken}` (PATs have no `when`).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import bcrypt

from sandbox.digests import hash_login_token, sha256_hex
from sandbox.state import SandboxState, random_secret

DEFAULT_BCRYPT_ROUNDS = 10


def bcrypt_rounds(state: SandboxState) -> int:
    """bcrypt cost: `runtime["bcrypt_rounds"]` (SANDBOX_BCRYPT_ROUNDS), default 10."""
    try:
        return max(4, min(31, int(state.runtime.get("bcrypt_rounds", DEFAULT_BCRYPT_ROUNDS))))
    except (TypeError, ValueError):
        return DEFAULT_BCRYPT_ROUNDS


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
