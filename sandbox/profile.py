"""Rocket.Chat's profile-editing functions (saveUserProfile and what it calls).

Kept apart from the route so REST `users.updateOwnBasicInfo` and the DDP `saveUserProfile`
method share one implementation of reference §4 steps 4-14:
validateUserEditing → saveUserIdentity → status text/type → bio → nickname → setEmail →
password → custom fields. Each function raises Rocket.Chat's exact error.
"""

from __future__ import annotations

import json
import re
from typing import Any

from sandbox import credentials, outbox, password_policy, permissions, ratelimit
from sandbox.digests import sha256_hex
from sandbox.errors import CoreMeteorError, MeteorError
from sandbox.state import SandboxState, random_secret
from sandbox.user_status import set_user_status
from sandbox.validation import js_string
from sandbox.versions import ROUTE_LIMITS_REPLACE_FUNCTION_LIMITS

MISSING: Any = object()  # a key that was not sent (JavaScript `undefined`)
MAX_BIO_LENGTH = 260
MAX_NICKNAME_LENGTH = 120
_EMAIL = re.compile(
    r"^(([^<>()\[\]\\.,;:\s@\"]+(\.[^<>()\[\]\\.,;:\s@\"]+)*)|(\".+\"))@"
    r"((\[[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}])|(([a-zA-Z\-0-9]+\.)+[a-zA-Z]{2,}))$"
)
DEFAULT_BLOCKED_DOMAINS = (
    "0-mail.com",
    "10minutemail.com",
    "guerrillamail.com",
    "mailinator.com",
    "trashmail.com",
    "yopmail.com",
    "sharklasers.com",
    "tempmail.com",
    "throwawaymail.com",
    "dispostable.com",
)


def truthy(value: Any) -> bool:
    """JavaScript truthiness (MISSING is undefined)."""
    if value is MISSING:
        return False
    if isinstance(value, (dict, list)):
        return True
    return bool(value)


# --- validateUserEditing ------------------------------------------------------------------


def _editing(previous: Any, new: Any) -> bool:
    return new is not MISSING and new != previous


def validate_user_editing(state: SandboxState, user_id: str, data: dict[str, Any]) -> None:
    """validateUserEditing.ts for a user editing themselves (`data` uses MISSING for absent)."""
    can_edit_others = permissions.has_permission(state, user_id, "edit-other-user-info")
    can_edit_password = permissions.has_permission(state, user_id, "edit-other-user-password")
    user = state.users.get(user_id)
    if user is None:
        raise CoreMeteorError("error-invalid-user", "Invalid user")
    settings = state.settings

    def refuse(reason: str) -> None:
        raise CoreMeteorError(
            "error-action-not-allowed",
            reason,
            {"method": "insertOrUpdateUser", "action": "Update_user"},
        )

    if (
        not settings.get("Accounts_AllowUserProfileChange")
        and not can_edit_others
        and not can_edit_password
    ):
        refuse("Edit user profile is not allowed")
    if _editing(user.get("username"), data["username"]) and not settings.get(
        "Accounts_AllowUsernameChange"
    ):
        refuse("Edit username is not allowed")
    if _editing(user.get("statusText"), data["statusText"]) and not settings.get(
        "Accounts_AllowUserStatusMessageChange"
    ):
        refuse("Edit user status is not allowed")
    if _editing(user.get("name"), data["name"]) and not settings.get(
        "Accounts_AllowRealNameChange"
    ):
        refuse("Edit user real name is not allowed")
    emails = user.get("emails") or []
    if (
        emails
        and _editing(emails[0].get("address"), data["email"])
        and not settings.get("Accounts_AllowEmailChange")
    ):
        refuse("Edit user email is not allowed")
    if truthy(data["password"]) and not settings.get("Accounts_AllowPasswordChange"):
        refuse("Edit user password is not allowed")


# --- identity -----------------------------------------------------------------------------


def _js_escape_regexp(text: str) -> str:
    return re.sub(r"[.*+?^${}()|[\]\\]", lambda m: "\\" + m.group(0), text)


def validate_username(state: SandboxState, username: str) -> bool:
    """`^<UTF8_User_Names_Validation>$` (falls back to Rocket.Chat's default pattern)."""
    pattern = str(state.settings.get("UTF8_User_Names_Validation") or "")
    try:
        compiled = re.compile(f"^{pattern}$")
    except re.error:
        compiled = re.compile(r"^[0-9a-zA-Z-_.]+$")
    return compiled.search(username) is not None


# checkUsernameAvailability.ts puts these in front of Accounts_BlockedUsernameList, always:
# they are the @all and @here mentions.
ALWAYS_BLOCKED_USERNAMES = ("all", "here")


def check_username_availability(state: SandboxState, username: str) -> bool:
    """checkUsernameAvailability.ts: `all`, `here`, Accounts_BlockedUsernameList and (through
    validateName) Accounts_SystemBlockedUsernameList raise; taken names (any case) are False."""
    configured = str(state.settings.get("Accounts_BlockedUsernameList") or "")
    blocked = [*ALWAYS_BLOCKED_USERNAMES, *configured.split(",")]
    # Each entry becomes /^<escaped entry, trimmed>$/i, tested on the *escaped* name: so an
    # entry with a dot never matches, as upstream.
    candidate = _js_escape_regexp(username).strip().lower()
    listed = any(entry.strip().lower() == candidate for entry in blocked)
    if listed or _system_blocked(state, username):
        raise MeteorError(
            "error-blocked-username",
            f"{_escape_html(username)} is blocked and can't be used!",
            {"method": "checkUsernameAvailability", "field": username},
        )
    return state.user_by_username(username) is None


def _escape_html(text: str) -> str:
    return (
        text.replace("&", "&amp;")
        .replace("<", "&lt;")
        .replace(">", "&gt;")
        .replace('"', "&quot;")
        .replace("'", "&#x27;")
    )


def _system_blocked(state: SandboxState, username: str) -> bool:
    blocked = state.settings.get("Accounts_SystemBlockedUsernameList")
    if not blocked or not isinstance(blocked, str):
        return False
    return username.lower() in blocked.split(",")


def _set_username(state: SandboxState, user: dict[str, Any], raw: str) -> bool:
    username = raw.strip()
    if not username or not validate_username(state, username):
        return False
    if user.get("username") == username:
        return True
    previous = user.get("username")
    same_owner = bool(previous) and username.lower() == str(previous).lower()
    if not same_owner and not check_username_availability(state, username):
        return False
    state.set_username(user, username)
    _rename_references(state, user, previous)
    state.bus.notify_logged(
        "Users:NameChanged", [{"_id": user["_id"], "name": user.get("name"), "username": username}]
    )
    return True


def _rename_references(state: SandboxState, user: dict[str, Any], previous: Any) -> None:
    """Messages and subscriptions carry the username too (updateUsernameReferences)."""
    uid, username = user["_id"], user["username"]
    for message in state.messages.values():
        sender = message.get("u")
        if isinstance(sender, dict) and sender.get("_id") == uid:
            sender["username"] = username
    for subscription in state.subscriptions.values():
        owner = subscription.get("u")
        if isinstance(owner, dict) and owner.get("_id") == uid:
            owner["username"] = username
        if subscription.get("t") == "d" and previous and subscription.get("name") == previous:
            subscription["name"] = username


def _set_real_name(state: SandboxState, user: dict[str, Any], name: str) -> bool:
    if state.settings.get("Accounts_RequireNameForSignUp") and not name:
        return False
    if user.get("name") == name:
        return True
    if name:
        user["name"] = name
    else:
        user.pop("name", None)
    for subscription in state.subscriptions.values():
        if subscription.get("t") == "d" and subscription.get("name") == user.get("username"):
            subscription["fname"] = name
    state.bus.notify_logged(
        "Users:NameChanged", [{"_id": user["_id"], "name": name, "username": user.get("username")}]
    )
    return True


def save_user_identity(state: SandboxState, user_id: str, name: Any, username: Any) -> bool:
    """saveUserIdentity.ts: values go through JS `String()` and trim (so null → "null")."""
    user = state.users.get(user_id)
    if user is None:
        return False
    new_name = js_string(name).strip()
    new_username = js_string(username).strip()
    if username is not MISSING and user.get("username") != new_username:
        if _system_blocked(state, new_username):
            return False
        if not _set_username(state, user, new_username):
            return False
    changes_name = name is not MISSING and user.get("name") != new_name
    return not (changes_name and not _set_real_name(state, user, new_name))


# --- e-mail -------------------------------------------------------------------------------


def validate_email_domain(state: SandboxState, email: str) -> None:
    """validateEmailDomain: format, allowed list, blocked lists."""
    if not _EMAIL.match(email):
        raise MeteorError(
            "error-invalid-email",
            f"Invalid email {email}",
            {"function": "RocketChat.validateEmailDomain", "email": email},
        )
    domain = email[email.rfind("@") + 1 :].lower()
    allowed = [
        item.strip().lower()
        for item in str(state.settings.get("Accounts_AllowedDomainsList") or "").split(",")
        if item.strip()
    ]
    if allowed and domain not in allowed:
        raise MeteorError(
            "error-invalid-domain",
            "The email domain is not allowed",
            {"function": "RocketChat.validateEmailDomain"},
        )
    blocked = [
        item.strip().lower()
        for item in str(state.settings.get("Accounts_BlockedDomainsList") or "").split(",")
        if item.strip()
    ]
    if state.settings.get("Accounts_UseDefaultBlockedDomainsList"):
        blocked.extend(DEFAULT_BLOCKED_DOMAINS)
    if domain in blocked:
        raise MeteorError(
            "error-email-domain-blacklisted",
            "The email domain is blacklisted",
            {"function": "RocketChat.validateEmailDomain"},
        )


def send_verification_email(state: SandboxState, user: dict[str, Any], address: str) -> None:
    """Accounts.sendVerificationEmail: a token on the user and a mail in the outbox."""
    token = random_secret()
    services = user.setdefault("services", {})
    email_service = services.setdefault("email", {})
    email_service.setdefault("verificationTokens", []).append(
        {"token": token, "address": address, "when": state.clock()}
    )
    site = str(state.settings.get("Site_Url") or "").rstrip("/")
    outbox.send_email(
        state,
        address,
        "Verify Your Email",
        f"Click the link below to verify your email address:\n\n{site}/#/verify-email/{token}\n",
    )


def set_email(state: SandboxState, user: dict[str, Any], email: str) -> None:
    """setEmailFunction + setEmail + _setEmail (7.x: rate-limited 1/60 s unless privileged;
    8.x dropped that function limiter, PR #38354)."""
    if not state.settings.get("Accounts_AllowEmailChange"):
        raise MeteorError(
            "error-action-not-allowed",
            "Changing email is not allowed",
            {"method": "setEmail", "action": "Changing_email"},
        )
    emails = user.get("emails") or []
    if emails and emails[0].get("address") == email:
        return
    if not state.at_least(*ROUTE_LIMITS_REPLACE_FUNCTION_LIMITS):
        ratelimit.limit_unless_privileged(state, "setEmail", user["_id"], 1, 60_000)
    email = email.strip()
    if not email:
        raise MeteorError("error-invalid-email", "Invalid email", {"function": "_setEmail"})
    validate_email_domain(state, email)
    if emails and emails[0].get("address") == email:
        return
    if state.user_by_email(email) is not None:
        raise MeteorError(
            "error-field-unavailable",
            f"{email} is already in use :(",
            {"function": "_setEmail", "field": email},
        )
    if emails:
        outbox.send_email(
            state,
            emails[0]["address"],
            "Email address changed",
            f"Your email address has been changed to {email}.\n",
        )
    state.set_emails(user, [{"address": email, "verified": False}])
    user["_updatedAt"] = state.clock()
    send_verification_email(state, user, email)


# --- password -----------------------------------------------------------------------------


def change_password(
    state: SandboxState, user: dict[str, Any], new_password: str, keep_token: str | None
) -> None:
    """saveUserProfile's password block: same/history/policy checks, set, drop other sessions."""
    if credentials.check_password(user, new_password):
        raise MeteorError(
            "error-password-same-as-current",
            "Entered password same as current password",
            {"method": "saveUserProfile"},
        )
    history = user.get("services", {}).get("passwordHistory")
    if history and state.settings.get("Accounts_Password_History_Enabled"):
        digest = sha256_hex(new_password)
        if any(credentials.bcrypt_matches(digest, old) for old in history):
            raise MeteorError(
                "error-password-in-history",
                "Entered password has been previously used",
                {"method": "saveUserProfile"},
            )
    password_policy.validate(state, new_password)
    previous = user["services"]["password"]["bcrypt"]
    credentials.set_password(state, user, new_password)
    amount = state.settings.get("Accounts_Password_History_Amount") or 5
    services = user["services"]
    services["passwordHistory"] = [*services.get("passwordHistory", []), previous][-int(amount) :]
    credentials.remove_other_tokens(user, keep_token)


# --- custom fields ------------------------------------------------------------------------


def custom_fields_meta(state: SandboxState) -> dict[str, Any] | None:
    """The parsed `Accounts_CustomFields`, or None when none are configured."""
    raw = str(state.settings.get("Accounts_CustomFields") or "").strip()
    if not raw:
        return None
    try:
        meta = json.loads(raw)
    except ValueError:
        raise MeteorError(
            "error-invalid-customfield-json", "Invalid JSON for Custom Fields"
        ) from None
    return meta if isinstance(meta, dict) else {}


def validate_custom_fields(state: SandboxState, fields: dict[str, Any]) -> None:
    """validateCustomFields.ts: required, select options, min/max length."""
    meta = custom_fields_meta(state)
    if meta is None:
        return
    for name, field in meta.items():
        if not isinstance(field, dict):
            continue
        value = fields.get(name)
        text = value.strip() if isinstance(value, str) else ""

        def refuse(reason: str) -> None:
            raise MeteorError(
                "error-user-registration-custom-field", reason, {"method": "registerUser"}
            )

        if field.get("required") and text == "":
            refuse(f"Field {name} is required")
        if field.get("type") == "select" and value not in (field.get("options") or []):
            refuse(f"Value for field {name} is invalid")
        if field.get("maxLength") and len(text) > int(field["maxLength"]):
            refuse(f"Max length of field {name} {field['maxLength']}")
        if field.get("minLength") and len(text) < int(field["minLength"]):
            refuse(f"Min length of field {name} {field['minLength']}")


def save_custom_fields(state: SandboxState, user: dict[str, Any], fields: dict[str, Any]) -> None:
    """saveCustomFields: ignored when none are configured; keeps only configured keys."""
    meta = custom_fields_meta(state)
    if meta is None:
        return
    validate_custom_fields(state, fields)
    user["customFields"] = {name: fields[name] for name in meta if name in fields}
    user["_updatedAt"] = state.clock()


# --- saveUserProfile ----------------------------------------------------------------------


def save_user_profile(
    state: SandboxState,
    user_id: str,
    data: dict[str, Any],
    custom_fields: Any,
    keep_token: str | None,
) -> None:
    """saveUserProfile.ts after its 2FA wrapper: `data` holds email, username, realname,
    newPassword, statusText, statusType, bio, nickname (MISSING when not sent)."""
    if not state.settings.get("Accounts_AllowUserProfileChange"):
        raise MeteorError("error-not-allowed", "Not allowed", {"method": "saveUserProfile"})
    validate_user_editing(
        state,
        user_id,
        {
            "email": data["email"],
            "username": data["username"],
            "name": data["realname"],
            "password": data["newPassword"],
            "statusText": data["statusText"],
        },
    )
    user = state.users[user_id]
    identity = truthy(data["realname"]) or truthy(data["username"])
    if identity and not save_user_identity(state, user_id, data["realname"], data["username"]):
        raise MeteorError(
            "error-could-not-save-identity",
            "Could not save user identity",
            {"method": "saveUserProfile"},
        )
    status_text = data["statusText"]
    if truthy(status_text) or status_text == "":
        set_user_status(state, user, None, status_text)
    if truthy(data["statusType"]):
        set_user_status(state, user, data["statusType"], None)
    bio = data["bio"]
    if bio is not MISSING:
        if not isinstance(bio, str):
            raise MeteorError("error-invalid-field", "bio", {"method": "saveUserProfile"})
        if len(bio) > MAX_BIO_LENGTH:
            raise MeteorError(
                "error-bio-size-exceeded",
                f"Bio size exceeds {MAX_BIO_LENGTH} characters",
                {"method": "saveUserProfile"},
            )
        user["bio"] = bio.strip()
    nickname = data["nickname"]
    if truthy(nickname):
        if not isinstance(nickname, str):
            raise MeteorError("error-invalid-field", "nickname", {"method": "saveUserProfile"})
        if len(nickname) > MAX_NICKNAME_LENGTH:
            raise MeteorError(
                "error-nickname-size-exceeded",
                f"Nickname size exceeds {MAX_NICKNAME_LENGTH} characters",
                {"method": "saveUserProfile"},
            )
        user["nickname"] = nickname.strip()
    if truthy(data["email"]):
        set_email(state, user, str(data["email"]))
    new_password = data["newPassword"]
    has_bcrypt = bool(user.get("services", {}).get("password", {}).get("bcrypt"))
    if (
        truthy(new_password)
        and state.settings.get("Accounts_AllowPasswordChange") is True
        and has_bcrypt
    ):
        change_password(state, user, str(new_password), keep_token)
    user.setdefault("settings", {})["profile"] = {}
    if isinstance(custom_fields, dict) and custom_fields:
        save_custom_fields(state, user, custom_fields)
    user["_updatedAt"] = state.clock()
