"""Two-factor authentication: Rocket.Chat's `checkCodeForUser` (reference §3 steps 1-11).

Methods: `totp` (pyotp with the server's parameters: base32 secret, 30 s steps, ±MaxDelta; an
8-character code is a single-use backup code) and `email` (6 digits, bcrypt-stored, mailed to
the outbox); `password` (the SHA-256 hex of the current password) is only a fallback and is
never listed in `availableMethods`. TOTP codes are not remembered once used: Rocket.Chat
(speakeasy) accepts the same code again within its window.

Entry point: `check_code_for_user` (the procedure), given the caller's `Connection`. The
transports describe their callers: `sandbox.api.check_for_rest` (route `twoFactorRequired`,
X-2FA-Code/X-2FA-Method headers) and `sandbox.ddp_methods.check_for_ddp` (methods wrapped by
`twoFactorRequired`: the last param may be `{twoFactorCode, twoFactorMethod}`).
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol
from urllib.parse import quote

import pyotp

from sandbox import credentials, outbox
from sandbox.digests import sha256_hex
from sandbox.errors import MeteorError
from sandbox.state import SandboxState, random_id

TOTP_STEP_SECONDS = 30
_SECRET_SYMBOLS = (
    "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz!@#$%^&*()<>?/[]{},.:;"
)


@dataclass(frozen=True)
class TwoFactorOptions:
    """The `twoFactorOptions` of a route (or a DDP method)."""

    require_second_factor: bool = False
    disable_remember_me: bool = False
    disable_password_fallback: bool = False


@dataclass(frozen=True)
class Connection:
    """What checkCodeForUser knows of the caller's connection (REST request or DDP session)."""

    login_token_hash: str | None  # Accounts._getLoginToken(connection.id)
    user_agent: str | None
    client_address: str
    headers: Mapping[str, str] = field(default_factory=dict)  # lower-case names


def fingerprint(connection: Connection) -> str:
    """md5 of JSON {userAgent, clientAddress}, as `getFingerprintFromConnection` computes it."""
    data: dict[str, str] = {}
    if connection.user_agent is not None:
        data["userAgent"] = connection.user_agent
    data["clientAddress"] = connection.client_address
    text = json.dumps(data, separators=(",", ":"), ensure_ascii=False)
    return hashlib.md5(text.encode("utf-8")).hexdigest()


def js_truthy(value: Any) -> bool:
    """JavaScript truthiness for JSON values."""
    if isinstance(value, (dict, list)):
        return True
    return bool(value)


def _setting_int(state: SandboxState, setting_id: str, default: int = 0) -> int:
    try:
        return int(state.settings.get(setting_id, default))
    except (TypeError, ValueError):
        return default


# --- the methods --------------------------------------------------------------------------


class CodeCheck(Protocol):
    """ICodeCheck: one second-factor method."""

    name: str

    def is_enabled(self, state: SandboxState, user: dict[str, Any]) -> bool: ...
    def verify(
        self, state: SandboxState, user: dict[str, Any], code: str, force: bool
    ) -> bool: ...
    def process_invalid_code(
        self, state: SandboxState, user: dict[str, Any]
    ) -> dict[str, Any]: ...
    def max_attempts_reached(self, state: SandboxState, user: dict[str, Any]) -> bool: ...


def _js_parse_int(text: str) -> int | None:
    match = re.match(r"\s*([+-]?\d+)", text)
    return int(match.group(1)) if match else None


def totp_verify(state: SandboxState, secret: Any, token: Any) -> bool:
    """speakeasy `totp.verify`/`verifyDelta` with the server's window (±MaxDelta steps)."""
    if not isinstance(secret, str) or not secret:
        return False
    text = token if isinstance(token, str) else json.dumps(token)
    if len(text) != 6:
        return False
    wanted = _js_parse_int(text)
    if wanted is None:
        return False
    try:
        totp = pyotp.TOTP(secret)
        counter = int(state.clock().timestamp()) // TOTP_STEP_SECONDS
        window = max(0, _setting_int(state, "Accounts_TwoFactorAuthentication_MaxDelta", 1))
        return any(
            int(totp.generate_otp(counter + delta)) == wanted
            for delta in range(-window, window + 1)
            if counter + delta >= 0
        )
    except (ValueError, TypeError):  # a corrupt secret never verifies
        return False


def backup_code_used(user: dict[str, Any], token: Any) -> bool | None:
    """An 8-character code is a backup code: True (and consumed) if it matches, else False.

    None when `token` is not a backup-code attempt.
    """
    backup = user.get("services", {}).get("totp", {}).get("hashedBackup")
    if not (isinstance(token, str) and len(token) == 8 and isinstance(backup, list)):
        return None
    hashed = sha256_hex(token)
    if hashed in backup:
        backup.remove(hashed)
        return True
    return False


class TotpCheck:
    """TOTPCheck: the authenticator app."""

    name = "totp"

    def is_enabled(self, state: SandboxState, user: dict[str, Any]) -> bool:
        if not state.settings.get("Accounts_TwoFactorAuthentication_By_TOTP_Enabled"):
            return False
        return user.get("services", {}).get("totp", {}).get("enabled") is True

    def verify(self, state: SandboxState, user: dict[str, Any], code: str, force: bool) -> bool:
        if not self.is_enabled(state, user):
            return False
        backup = backup_code_used(user, code)
        if backup is not None:
            return backup
        return totp_verify(state, user["services"]["totp"].get("secret"), code)

    def process_invalid_code(self, state: SandboxState, user: dict[str, Any]) -> dict[str, Any]:
        return {"codeGenerated": False}

    def max_attempts_reached(self, state: SandboxState, user: dict[str, Any]) -> bool:
        return False


def verified_emails(user: dict[str, Any]) -> list[str]:
    """Addresses of the user's verified e-mails."""
    emails = user.get("emails")
    if not isinstance(emails, list):
        return []
    return [entry["address"] for entry in emails if entry.get("verified") and entry.get("address")]


class EmailCheck:
    """EmailCheck: a 6-digit code mailed to the user's verified addresses."""

    name = "email"

    def is_enabled(self, state: SandboxState, user: dict[str, Any]) -> bool:
        if not state.settings.get("Accounts_TwoFactorAuthentication_By_Email_Enabled"):
            return False
        if not user.get("services", {}).get("email2fa", {}).get("enabled"):
            return False
        return bool(verified_emails(user))

    def verify(self, state: SandboxState, user: dict[str, Any], code: str, force: bool) -> bool:
        if not self.is_enabled(state, user):
            return False
        email_code = user.get("services", {}).get("emailCode")
        if not isinstance(email_code, dict):
            return False
        digits = re.sub(r"\D", "", code)
        expire = email_code.get("expire")
        if not isinstance(expire, datetime) or expire < state.clock():
            return False
        if credentials.bcrypt_matches(digits, email_code.get("code")):
            user["services"].pop("emailCode", None)
            return True
        email_code["attempts"] = int(email_code.get("attempts", 0)) + 1
        return False

    def send_email_code(self, state: SandboxState, user: dict[str, Any]) -> None:
        """Generate, store (bcrypt) and mail a fresh code, replacing any previous one."""
        code = "".join(secrets.choice("0123456789") for _ in range(6))
        expiration = _setting_int(
            state, "Accounts_TwoFactorAuthentication_By_Email_Code_Expiration", 3600
        )
        user.setdefault("services", {})["emailCode"] = {
            "code": credentials.bcrypt_hash(state, code),
            "expire": state.clock() + timedelta(seconds=expiration),
            "attempts": 0,
        }
        shown = f"{code[:3]}-{code[3:]}"
        text = (
            "\nHere is your authentication code:\n\n"
            f"{shown}\n\n"
            "Do not provide this code to anyone.\n"
            "If you didn't try to login in your account please ignore this email.\n"
        )
        for address in verified_emails(user):
            outbox.send_email(state, address, "Authentication code", text)

    def process_invalid_code(self, state: SandboxState, user: dict[str, Any]) -> dict[str, Any]:
        services = user.setdefault("services", {})
        email_code = services.get("emailCode")
        now = state.clock()
        if isinstance(email_code, dict):
            expire = email_code.get("expire")
            if not isinstance(expire, datetime) or expire < now:  # removeExpiredEmailCode
                services.pop("emailCode", None)
                email_code = None
        emails = verified_emails(user)
        email_or_username = user.get("username") or (emails[0] if emails else None)
        if (
            isinstance(email_code, dict)
            and email_code["expire"] > now + timedelta(minutes=5)
            and not self.max_attempts_reached(state, user)
        ):
            return {
                "emailOrUsername": email_or_username,
                "codeGenerated": False,
                "codeExpires": email_code["expire"],
            }
        self.send_email_code(state, user)
        return {"codeGenerated": True, "emailOrUsername": email_or_username}

    def max_attempts_reached(self, state: SandboxState, user: dict[str, Any]) -> bool:
        email_code = user.get("services", {}).get("emailCode")
        if not isinstance(email_code, dict):
            return False
        limit = _setting_int(
            state, "Accounts_TwoFactorAuthentication_Max_Invalid_Email_Code_Attempts", 5
        )
        return int(email_code.get("attempts", 0)) >= limit


class PasswordCheckFallback:
    """The password fallback: the code is the SHA-256 hex of the current password."""

    name = "password"

    def is_enabled(self, state: SandboxState, user: dict[str, Any], force: bool = False) -> bool:
        if force:
            return True
        if state.settings.get("Accounts_TwoFactorAuthentication_Enforce_Password_Fallback"):
            return bool(user.get("services", {}).get("password", {}).get("bcrypt"))
        return False

    def verify(self, state: SandboxState, user: dict[str, Any], code: str, force: bool) -> bool:
        if not self.is_enabled(state, user, force):
            return False
        return credentials.check_password(user, {"digest": code.lower(), "algorithm": "sha-256"})

    def process_invalid_code(self, state: SandboxState, user: dict[str, Any]) -> dict[str, Any]:
        return {"codeGenerated": False}

    def max_attempts_reached(self, state: SandboxState, user: dict[str, Any]) -> bool:
        return False


TOTP = TotpCheck()
EMAIL = EmailCheck()
PASSWORD = PasswordCheckFallback()
CHECK_METHODS: dict[str, CodeCheck] = {TOTP.name: TOTP, EMAIL.name: EMAIL}


def available_methods(state: SandboxState, user: dict[str, Any]) -> list[str]:
    """Names of the enabled totp/email methods (never "password")."""
    return [name for name, method in CHECK_METHODS.items() if method.is_enabled(state, user)]


def second_factor_method(
    state: SandboxState, user: dict[str, Any], method: str | None, options: TwoFactorOptions
) -> CodeCheck | None:
    """`getSecondFactorMethod`: the named totp/email method, else the first enabled one, else
    the password fallback when required or allowed, else None (no check at all)."""
    if method and method in CHECK_METHODS:
        return CHECK_METHODS[method]
    for candidate in CHECK_METHODS.values():
        if candidate.is_enabled(state, user):
            return candidate
    if options.require_second_factor:
        return PASSWORD
    if not options.disable_password_fallback and PASSWORD.is_enabled(state, user, False):
        return PASSWORD
    return None


# --- remember-me --------------------------------------------------------------------------


def remember_date(state: SandboxState, start: datetime | None = None) -> datetime | None:
    """`getRememberDate`: start + RememberFor seconds, or None when RememberFor <= 0."""
    seconds = _setting_int(state, "Accounts_TwoFactorAuthentication_RememberFor", 1800)
    if seconds <= 0:
        return None
    return (start or state.clock()) + timedelta(seconds=seconds)


def is_authorized_for_token(
    state: SandboxState, connection: Connection, user: dict[str, Any], options: TwoFactorOptions
) -> bool:
    """Step 5: the connection's login token already counts as second factor."""
    if not connection.login_token_hash:
        return False
    entry = credentials.find_token(user, connection.login_token_hash)
    if entry is None:
        return False
    if options.require_second_factor:
        return False
    if entry.get("bypassTwoFactor") is True:
        return True
    if options.disable_remember_me:
        return False
    created = user.get("createdAt")
    if isinstance(created, datetime):
        after_registration = remember_date(state, created)
        if after_registration is not None and after_registration >= state.clock():
            return True
    until = entry.get("twoFactorAuthorizedUntil")
    hashed = entry.get("twoFactorAuthorizedHash")
    if not isinstance(until, datetime) or not hashed:
        return False
    if until < state.clock():
        return False
    return bool(hashed == fingerprint(connection))


def remember_authorization(
    state: SandboxState, connection: Connection, user: dict[str, Any]
) -> None:
    """Step 11: store the fingerprint and its expiry on the connection's login token."""
    expires = remember_date(state)
    if expires is None or not connection.login_token_hash:
        return
    entry = credentials.find_token(user, connection.login_token_hash)
    if entry is not None:
        entry["twoFactorAuthorizedHash"] = fingerprint(connection)
        entry["twoFactorAuthorizedUntil"] = expires


# --- the procedure ------------------------------------------------------------------------


def _details(method: CodeCheck, data: dict[str, Any], available: list[str]) -> dict[str, Any]:
    return {"method": method.name, **data, "availableMethods": available}


def check_code_for_user(
    state: SandboxState,
    user: dict[str, Any] | str,
    *,
    code: Any = None,
    method: Any = None,
    options: TwoFactorOptions | None = None,
    connection: Connection | None = None,
) -> None:
    """`checkCodeForUser`: return when the call may proceed, else raise totp-* errors.

    Step order of reference §3: (TEST_MODE is never on) → 2FA globally off → user → headers →
    remember-me/bypass → method → processInvalidCode → no code → verify → max attempts/invalid
    → remember.
    """
    options = options or TwoFactorOptions()
    if not state.settings.get("Accounts_TwoFactorAuthentication_Enabled"):
        return
    existing = state.users.get(user) if isinstance(user, str) else user
    if existing is None:
        raise MeteorError("totp-user-not-found", "TOTP User not found")
    if connection is not None and not js_truthy(code) and not js_truthy(method):
        header_code = connection.headers.get("x-2fa-code")
        header_method = connection.headers.get("x-2fa-method")
        if header_code and header_method:
            code, method = header_code, header_method
    if connection is not None and is_authorized_for_token(state, connection, existing, options):
        return
    selected = second_factor_method(
        state, existing, method if isinstance(method, str) else None, options
    )
    if selected is None:
        return
    data = selected.process_invalid_code(state, existing)
    available = available_methods(state, existing)
    if not js_truthy(code):
        state.save()  # a generated e-mail code must survive a restart
        raise MeteorError("totp-required", "TOTP Required", _details(selected, data, available))
    text = code if isinstance(code, str) else json.dumps(code)
    if not selected.verify(state, existing, text, options.require_second_factor):
        state.save()
        if selected.max_attempts_reached(state, existing):
            raise MeteorError(
                "totp-max-attempts",
                "TOTP Maximun Failed Attempts Reached",
                _details(selected, data, available),
            )
        raise MeteorError("totp-invalid", "TOTP Invalid", _details(selected, data, available))
    if not options.disable_remember_me and connection is not None:
        remember_authorization(state, connection, existing)


# --- TOTP enrolment -----------------------------------------------------------------------


def generate_totp_secret() -> str:
    """speakeasy `generateSecret()`: 32 random characters, returned base32-encoded (no '=')."""
    ascii_secret = "".join(secrets.choice(_SECRET_SYMBOLS) for _ in range(32))
    return base64.b32encode(ascii_secret.encode()).decode().rstrip("=")


def otpauth_url(secret_base32: str, username: str) -> str:
    """speakeasy `otpauthURL({secret, label: 'Rocket.Chat:<username>'})`."""
    return f"otpauth://totp/{quote('Rocket.Chat:' + username, safe='')}?secret={secret_base32}"


def generate_backup_codes() -> tuple[list[str], list[str]]:
    """12 backup codes (`Random.id(8)`) and their SHA-256 hex digests."""
    codes = [random_id(8) for _ in range(12)]
    return codes, [sha256_hex(code) for code in codes]
