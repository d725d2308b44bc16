"""Two-factor set-up: REST `users.2fa.*` and the TOTP enrolment DDP methods `2fa:*`."""

from __future__ import annotations

from typing import Any

from sandbox import credentials, twofactor
from sandbox.api import ApiRequest, route, success
from sandbox.ddp_methods import DdpSession, ddp_method
from sandbox.errors import CoreMeteorError, MeteorError, PlainError
from sandbox.twofactor import TwoFactorOptions


@route("POST", "users.2fa.enableEmail")
async def enable_email(req: ApiRequest) -> dict[str, Any]:
    """Turn e-mail 2FA on (all e-mails must be verified); other non-PAT sessions end."""
    user = req.user
    assert user is not None and req.login_token is not None
    if any(not entry.get("verified") for entry in user.get("emails") or []):
        raise CoreMeteorError(
            "error-invalid-user", "You need to verify your emails before setting up 2FA"
        )
    user.setdefault("services", {})["email2fa"] = {"enabled": True, "changedAt": req.state.clock()}
    credentials.remove_other_tokens(user, req.login_token["hashedToken"])
    return success()


@route(
    "POST",
    "users.2fa.disableEmail",
    two_factor=TwoFactorOptions(disable_remember_me=True),
)
async def disable_email(req: ApiRequest) -> dict[str, Any]:
    """Turn e-mail 2FA off (needs a second factor; remember-me does not count)."""
    assert req.user is not None
    req.user.setdefault("services", {})["email2fa"] = {
        "enabled": False,
        "changedAt": req.state.clock(),
    }
    return success()


@route("POST", "users.2fa.sendEmailCode", auth=False)
async def send_email_code(req: ApiRequest) -> dict[str, Any]:
    """{emailOrUsername} → always success; mails a fresh code when the user exists."""
    body = req.body if isinstance(req.body, dict) else {}
    wanted = body.get("emailOrUsername")
    if not wanted:
        raise MeteorError("error-parameter-required", "emailOrUsername is required")
    if isinstance(wanted, list):  # Array.prototype.includes exists: a lookup that finds nobody
        return success()
    if not isinstance(wanted, str):  # a TypeError in Rocket.Chat's handler
        raise PlainError("emailOrUsername.includes is not a function")
    text = wanted
    if "@" in text:
        user = req.state.user_by_email(text)
    else:
        user = req.state.user_by_exact_username(text)
    if user is not None:
        twofactor.EMAIL.send_email_code(req.state, user)
    return success()


def _logged_user(session: DdpSession) -> dict[str, Any]:
    if not session.user_id:
        raise MeteorError("not-authorized")
    user = session.state.users.get(session.user_id)
    if user is None:
        raise MeteorError("error-invalid-user", "Invalid user")
    return user


@ddp_method("2fa:enable")
async def totp_enable(session: DdpSession, *params: Any) -> dict[str, str]:
    """Start TOTP enrolment: a temporary secret and its otpauth:// URL."""
    user = _logged_user(session)
    if not user.get("username"):
        raise MeteorError("error-invalid-user", "Invalid user", {"method": "2fa:enable"})
    if any(not entry.get("verified") for entry in user.get("emails") or []):
        raise MeteorError(
            "error-invalid-user",
            "You need to verify your emails before setting up 2FA",
            {"method": "2fa:enable"},
        )
    secret = twofactor.generate_totp_secret()
    user.setdefault("services", {})["totp"] = {"enabled": False, "tempSecret": secret}
    session.state.save()
    return {"secret": secret, "url": twofactor.otpauth_url(secret, user["username"])}


@ddp_method("2fa:validateTempToken")
async def totp_validate(session: DdpSession, *params: Any) -> dict[str, list[str]]:
    """Finish enrolment with a code of the temporary secret: TOTP on, 12 backup codes back;
    other non-PAT sessions end."""
    user = _logged_user(session)
    totp = user.get("services", {}).get("totp") or {}
    temp = totp.get("tempSecret")
    if not temp:
        raise MeteorError("invalid-totp")
    if not twofactor.totp_verify(session.state, temp, params[0] if params else None):
        raise MeteorError("invalid-totp")
    codes, hashed = twofactor.generate_backup_codes()
    user["services"]["totp"] = {"enabled": True, "secret": temp, "hashedBackup": hashed}
    if session.login_token is not None:
        credentials.remove_other_tokens(user, session.login_token.get("hashedToken"))
    session.state.save()
    return {"codes": codes}


@ddp_method("2fa:disable")
async def totp_disable(session: DdpSession, *params: Any) -> bool:
    """Turn TOTP off with a current code or a backup code; False when the code is wrong."""
    user = _logged_user(session)
    totp = user.get("services", {}).get("totp") or {}
    code = params[0] if params else None
    backup = twofactor.backup_code_used(user, code)
    verified = (
        backup
        if backup is not None
        else twofactor.totp_verify(session.state, totp.get("secret"), code)
    )
    if not verified:
        session.state.save()
        return False
    changed = totp != {"enabled": False}
    user["services"]["totp"] = {"enabled": False}
    session.state.save()
    return changed


@ddp_method("2fa:checkCodesRemaining")
async def totp_codes_remaining(session: DdpSession, *params: Any) -> dict[str, int]:
    """How many backup codes are left."""
    user = _logged_user(session)
    totp = user.get("services", {}).get("totp") or {}
    if not totp.get("enabled"):
        raise MeteorError("invalid-totp")
    return {"remaining": len(totp.get("hashedBackup") or [])}


@ddp_method("2fa:regenerateCodes")
async def totp_regenerate_codes(session: DdpSession, *params: Any) -> dict[str, list[str]]:
    """New backup codes, given a valid TOTP (or backup) code."""
    user = _logged_user(session)
    totp = user.get("services", {}).get("totp") or {}
    if not totp.get("enabled"):
        raise MeteorError("invalid-totp")
    code = params[0] if params else None
    backup = twofactor.backup_code_used(user, code)
    verified = (
        backup
        if backup is not None
        else twofactor.totp_verify(session.state, totp.get("secret"), code)
    )
    if not verified:
        raise MeteorError("invalid-totp")
    codes, hashed = twofactor.generate_backup_codes()
    totp["hashedBackup"] = hashed
    session.state.save()
    return {"codes": codes}
