"""Rocket.Chat's password policy (packages/password-policies/src/PasswordPolicy.ts).

`validate` raises `PasswordPolicyError` (error `error-password-policy-not-met`, details: the
list of every rule broken) with the settings `Accounts_Password_Policy_*`.
"""

from __future__ import annotations

import re
from typing import Any

from sandbox.errors import CoreMeteorError
from sandbox.state import SandboxState

NOT_MET = "error-password-policy-not-met"
NOT_MET_MESSAGE = "The password provided does not meet the server's password policy."


class PasswordPolicyError(CoreMeteorError):
    """A plain `Error` subclass carrying `error` and `details`: REST shows the message as is."""

    @property
    def rest_message(self) -> str:
        return str(self.reason)


def _setting(state: SandboxState, name: str) -> Any:
    return state.settings.get(f"Accounts_Password_Policy_{name}")


def _int(value: Any, default: int) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


def reasons(state: SandboxState, password: str) -> list[dict[str, str]]:
    """Every rule `password` breaks, as `{error, message}` in Rocket.Chat's order."""
    found: list[dict[str, str]] = []

    def add(rule: str, message: str) -> None:
        found.append({"error": f"{NOT_MET}-{rule}", "message": message})

    min_length = _int(_setting(state, "MinLength"), -1)
    max_length = _int(_setting(state, "MaxLength"), -1)
    if min_length >= 1 and len(password) < min_length:
        add("minLength", "The password does not meet the minimum length password policy.")
    if max_length >= 1 and len(password) > max_length:
        add("maxLength", "The password does not meet the maximum length password policy.")
    repeat = _int(_setting(state, "ForbidRepeatingCharactersCount"), 3)
    if _setting(state, "ForbidRepeatingCharacters") and re.search(
        rf"(.)\1{{{repeat},}}", password
    ):
        add(
            "repeatingCharacters",
            "The password contains repeating characters which is against the password policy.",
        )
    checks = (
        ("AtLeastOneLowercase", "[a-z]", "oneLowercase", "lowercase character"),
        ("AtLeastOneUppercase", "[A-Z]", "oneUppercase", "uppercase character"),
        ("AtLeastOneNumber", "[0-9]", "oneNumber", "numerical character"),
        ("AtLeastOneSpecialCharacter", "[^A-Za-z0-9 ]", "oneSpecial", "special character"),
    )
    for setting, pattern, rule, what in checks:
        if _setting(state, setting) and not re.search(pattern, password):
            add(
                rule,
                f"The password does not contain at least one {what} which is against the "
                "password policy.",
            )
    return found


def validate(state: SandboxState, password: Any) -> None:
    """`passwordPolicy.validate(password)`: raise PasswordPolicyError when it is not met."""
    if not isinstance(password, str) or not password.strip():
        raise PasswordPolicyError(NOT_MET, NOT_MET_MESSAGE)
    if not _setting(state, "Enabled"):
        return
    broken = reasons(state, password)
    if broken:
        raise PasswordPolicyError(NOT_MET, NOT_MET_MESSAGE, broken)
