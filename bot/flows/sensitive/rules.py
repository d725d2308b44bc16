"""The rules a sensitive change is checked against before it goes to Rocket.Chat, as Rocket.Chat
itself checks them: an e-mail address's shape, a username's pattern, the password policy.

Checking first means a person hears at once what to fix; Rocket.Chat still checks everything
again, and what it refuses is explained as well.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, ClassVar, Final, Self

from bot.core.errors import UsageError
from bot.core.values import WHITESPACE

ALLOW_USERNAME_CHANGE: Final = "Accounts_AllowUsernameChange"
ALLOW_EMAIL_CHANGE: Final = "Accounts_AllowEmailChange"
ALLOW_PASSWORD_CHANGE: Final = "Accounts_AllowPasswordChange"
USERNAME_PATTERN: Final = "UTF8_User_Names_Validation"
DEFAULT_USERNAME_PATTERN: Final = "[0-9a-zA-Z-_.]+"
_POLICY: Final = "Accounts_Password_Policy_"
POLICY_SETTINGS: Final = tuple(
    _POLICY + name
    for name in (
        "Enabled",
        "MinLength",
        "MaxLength",
        "ForbidRepeatingCharacters",
        "ForbidRepeatingCharactersCount",
        "AtLeastOneLowercase",
        "AtLeastOneUppercase",
        "AtLeastOneNumber",
        "AtLeastOneSpecialCharacter",
    )
)

# Rocket.Chat's validateEmail (packages/tools).
_EMAIL: Final = re.compile(
    r"(([^<>()\[\]\\.,;:\s@\"]+(\.[^<>()\[\]\\.,;:\s@\"]+)*)|(\".+\"))@"
    r"((\[[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}])|(([a-zA-Z\-0-9]+\.)+[a-zA-Z]{2,}))"
)


class EmailAddress(str):
    """A new e-mail address, checked the way Rocket.Chat checks it."""

    metavar: ClassVar[str] = "new address"

    @classmethod
    def convert(cls, raw: str) -> Self:
        value = raw.strip(WHITESPACE).strip("<>")
        value = value.removeprefix("mailto:")
        if len(value) > 254 or not _EMAIL.fullmatch(value):
            raise UsageError(
                "That is not an e-mail address I can use: write it like name@example.com."
            )
        return cls(value)


class NewUsername(str):
    """A new username, without the @ people often type in front of it."""

    metavar: ClassVar[str] = "new username"

    @classmethod
    def convert(cls, raw: str) -> Self:
        value = raw.strip(WHITESPACE).removeprefix("@")
        if not value:
            raise UsageError("The new username is missing.")
        return cls(value)


def mask_email(address: str) -> str:
    """alice@example.com → a…@e….com: enough to recognise it, not to read it."""
    local, _, domain = address.partition("@")
    name, dot, top = domain.rpartition(".")
    if not local or not name:
        return "…"
    return f"{local[:1]}…@{name[:1]}…{dot}{top}"


def _int(value: Any, default: int) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


def join_words(parts: list[str]) -> str:
    if len(parts) <= 1:
        return "".join(parts)
    return ", ".join(parts[:-1]) + " and " + parts[-1]


def policy_problems(password: str, settings: Mapping[str, Any]) -> list[str]:
    """What `password` lacks under the workspace's password policy (Rocket.Chat's rules), as
    phrases that complete "it needs …"; [] when it passes or the policy is unknown or off."""
    if not settings.get(_POLICY + "Enabled"):
        return []
    needs: list[str] = []
    minimum = _int(settings.get(_POLICY + "MinLength"), -1)
    maximum = _int(settings.get(_POLICY + "MaxLength"), -1)
    if minimum >= 1 and len(password) < minimum:
        needs.append(f"at least {minimum} characters")
    if maximum >= 1 and len(password) > maximum:
        needs.append(f"at most {maximum} characters")
    repeat = _int(settings.get(_POLICY + "ForbidRepeatingCharactersCount"), 3)
    if settings.get(_POLICY + "ForbidRepeatingCharacters") and re.search(
        rf"(.)\1{{{repeat},}}", password
    ):
        needs.append(f"no character more than {repeat} times in a row")
    for setting, pattern, phrase in (
        ("AtLeastOneLowercase", "[a-z]", "a lowercase letter"),
        ("AtLeastOneUppercase", "[A-Z]", "an uppercase letter"),
        ("AtLeastOneNumber", "[0-9]", "a digit"),
        ("AtLeastOneSpecialCharacter", "[^A-Za-z0-9 ]", "a special character such as ! or #"),
    ):
        if settings.get(_POLICY + setting) and not re.search(pattern, password):
            needs.append(phrase)
    return needs


def policy_summary(settings: Mapping[str, Any]) -> str:
    """The policy in one sentence (empty when it is off or unknown)."""
    if not settings.get(_POLICY + "Enabled"):
        return ""
    needs = policy_problems("", {**settings, _POLICY + "MaxLength": -1})
    return f"This workspace wants {join_words(needs)}." if needs else ""


_SERVER_POLICY_RULES: Final = {
    "minLength": "more characters",
    "maxLength": "fewer characters",
    "repeatingCharacters": "fewer repeated characters in a row",
    "oneLowercase": "a lowercase letter",
    "oneUppercase": "an uppercase letter",
    "oneNumber": "a digit",
    "oneSpecial": "a special character such as ! or #",
}


def server_policy_needs(details: Any) -> list[str]:
    """The phrases for Rocket.Chat's error-password-policy-not-met details."""
    needs: list[str] = []
    for item in details if isinstance(details, list) else []:
        error = str(item.get("error", "")) if isinstance(item, Mapping) else ""
        rule = error.removeprefix("error-password-policy-not-met-")
        if rule in _SERVER_POLICY_RULES:
            needs.append(_SERVER_POLICY_RULES[rule])
    return needs


def username_pattern(settings: Mapping[str, Any]) -> re.Pattern[str] | None:
    """The workspace's username rule (UTF8_User_Names_Validation), or None if unusable here."""
    raw = settings.get(USERNAME_PATTERN)
    pattern = raw if isinstance(raw, str) and raw else DEFAULT_USERNAME_PATTERN
    try:
        return re.compile(f"(?:{pattern})")
    except re.error:
        return None  # a JavaScript-only construct: leave the check to the server


def current_email(me: Mapping[str, Any]) -> str:
    """The account's (first) e-mail address, or "" when it has none."""
    emails = me.get("emails")
    first = emails[0] if isinstance(emails, list) and emails else None
    return str(first.get("address", "")) if isinstance(first, Mapping) else ""
