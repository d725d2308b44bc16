"""Rocket.Chat's rules for the profile fields, checked on our side before any round trip.

They mirror `saveUserProfile`, `setStatusText`, `saveUserIdentity` and `validateCustomFields`
(see docs/rocketchat-protocol.md §4): lengths are JavaScript string lengths (UTF-16 code units,
so an emoji counts 2), values are trimmed, and a custom field is validated against the
workspace's `Accounts_CustomFields` definitions. Every failure is a `UserError` sentence that
names the field and says how to fix it. Pure functions only: no I/O, no settings lookups.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from bot.core.errors import UserError

MAX_BIO: Final = 260
MAX_NICKNAME: Final = 120
MAX_STATUS_TEXT: Final = 120
NAME_FORBIDDEN: Final = "<>\\/"
_LINE_BREAKS: Final = re.compile(r"\s*[\r\n\u2028\u2029]+\s*")


def js_length(text: str) -> int:
    """The length JavaScript's `String.length` gives: UTF-16 code units."""
    return len(text.encode("utf-16-le")) // 2


def one_line(text: str) -> str:
    """Join the lines of `text` with single spaces (for single-line fields) and trim it."""
    return _LINE_BREAKS.sub(" ", text).strip()


def _characters(count: int) -> str:
    return f"{count} character" if count == 1 else f"{count} characters"


def _too_long(label: str, length: int, limit: int) -> UserError:
    return UserError(
        f"Your {label} is {_characters(length)} long, but Rocket.Chat allows at most {limit}. "
        f"Please shorten it by {_characters(length - limit)}."
    )


def check_bio(text: str) -> str:
    """The bio as Rocket.Chat stores it (trimmed), or a UserError when it is over 260."""
    value = text.strip()
    if js_length(value) > MAX_BIO:
        raise _too_long("bio", js_length(value), MAX_BIO)
    return value


def check_nickname(text: str) -> str:
    """The nickname on one line and trimmed, or a UserError when it is over 120."""
    value = one_line(text)
    if js_length(value) > MAX_NICKNAME:
        raise _too_long("nickname", js_length(value), MAX_NICKNAME)
    return value


def check_status_text(text: str) -> str:
    """The status text on one line and trimmed; over 120 is refused, not cut.

    Rocket.Chat would silently cut it at 120 characters; we refuse instead, so that what the
    user sees is exactly what they wrote.
    """
    value = one_line(text)
    if js_length(value) > MAX_STATUS_TEXT:
        raise _too_long("status text", js_length(value), MAX_STATUS_TEXT)
    return value


_PERCENT_ESCAPES: Final = re.compile(r"(?:%[0-9A-Fa-f]{2})+")
_URI_RESERVED: Final = frozenset(";/?:@&=+$,#")


def _js_decode_uri(text: str) -> str:
    """JavaScript's `decodeURI`; raises ValueError where it would throw a URIError."""
    if re.search(r"%(?![0-9A-Fa-f]{2})", text):
        raise ValueError("malformed escape")

    def decode(match: re.Match[str]) -> str:
        escapes = match.group(0)
        data = bytes.fromhex(escapes.replace("%", ""))
        decoded = data.decode("utf-8")  # UnicodeDecodeError is a ValueError
        if len(decoded) == len(escapes) // 3:
            # decodeURI keeps the escape of reserved ASCII characters (%2F stays %2F)
            return "".join(
                escapes[i * 3 : i * 3 + 3] if ch in _URI_RESERVED else ch
                for i, ch in enumerate(decoded)
            )
        return decoded

    return _PERCENT_ESCAPES.sub(decode, text)


def check_display_name(text: str) -> str:
    """The display name on one line and trimmed; refused when empty or with `< > \\ /`.

    Newer Rocket.Chat refuses names containing those characters, also after `decodeURI`, and a
    name that `decodeURI` cannot read ("100%") with "Name contains invalid characters".
    """
    value = one_line(text)
    if not value:
        raise UserError("A display name can't be empty. Tell me the name you want to be shown.")
    try:
        decoded = _js_decode_uri(value)
    except ValueError:
        decoded = None
    if decoded is None or any(ch in NAME_FORBIDDEN for ch in value + decoded):
        raise UserError(
            "Rocket.Chat does not accept display names with the characters < > \\ or /, "
            "or with a % that is not followed by two hexadecimal digits. "
            "Please choose a name without them."
        )
    return value


@dataclass(frozen=True)
class CustomFieldRule:
    """One entry of `Accounts_CustomFields`: {"type", "required", "minLength", "maxLength"}."""

    name: str
    type: str = "text"
    required: bool = False
    min_length: int | None = None
    max_length: int | None = None
    options: tuple[str, ...] = ()

    @classmethod
    def from_setting(cls, name: str, spec: Any) -> CustomFieldRule:
        """Read one field's definition; anything unexpected is read leniently."""
        spec = spec if isinstance(spec, Mapping) else {}
        options = spec.get("options")
        return cls(
            name=name,
            type=str(spec.get("type") or "text"),
            required=bool(spec.get("required")),
            min_length=_positive_int(spec.get("minLength")),
            max_length=_positive_int(spec.get("maxLength")),
            options=tuple(str(o) for o in options) if isinstance(options, list) else (),
        )

    def describe(self) -> str:
        """A short description for listings: `team (text, 2-30 characters, required)`."""
        details = [self.type]
        if self.type == "select" and self.options:
            details = ["one of " + ", ".join(self.options)]
        if self.min_length and self.max_length:
            details.append(f"{self.min_length}-{self.max_length} characters")
        elif self.max_length:
            details.append(f"at most {self.max_length} characters")
        elif self.min_length:
            details.append(f"at least {self.min_length} characters")
        if self.required:
            details.append("required")
        return f"{self.name} ({', '.join(details)})"


def _positive_int(value: Any) -> int | None:
    try:
        number = int(value)
    except (TypeError, ValueError):
        return None
    return number if number > 0 else None


class CustomFieldsBroken(UserError):
    """The workspace's Accounts_CustomFields setting is not valid JSON."""


def parse_custom_field_rules(raw: Any) -> dict[str, CustomFieldRule]:
    """The workspace's custom fields from the `Accounts_CustomFields` setting (JSON text)."""
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return {}
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except ValueError:
            raw = None
    if not isinstance(raw, Mapping):
        raise CustomFieldsBroken(
            "This workspace's custom field settings (Accounts_CustomFields) are not valid JSON, "
            "so Rocket.Chat can't save custom fields right now. Please tell an admin."
        )
    return {str(name): CustomFieldRule.from_setting(str(name), spec) for name, spec in raw.items()}


def find_field(rules: Mapping[str, CustomFieldRule], name: str) -> CustomFieldRule | None:
    """The field called `name`: exactly, or else the only one equal ignoring case."""
    if name in rules:
        return rules[name]
    matches = [rule for key, rule in rules.items() if key.casefold() == name.casefold()]
    return matches[0] if len(matches) == 1 else None


def check_custom_field(rule: CustomFieldRule, value: str) -> str:
    """The value Rocket.Chat would accept for `rule` (trimmed; "" clears), or a UserError."""
    value = value.strip()
    label = f"the field {rule.name}"
    if not value and rule.required:
        raise UserError(f"{label.capitalize()} is required on this workspace; it can't be empty.")
    if rule.type == "select":
        if value in rule.options:
            return value
        same = [o for o in rule.options if o.strip().casefold() == value.casefold()]
        if value and len(same) == 1:
            return same[0]
        choices = ", ".join(o for o in rule.options if o) or "(no options are defined)"
        if not value:
            raise UserError(f"{label.capitalize()} can't be left empty; choose one of: {choices}.")
        raise UserError(f"{label.capitalize()} must be one of: {choices}.")
    if not value:
        return value
    length = js_length(value)
    if rule.max_length and length > rule.max_length:
        raise UserError(
            f"That value for {label} is {_characters(length)} long; it may have at most "
            f"{rule.max_length}. Please shorten it."
        )
    if rule.min_length and length < rule.min_length:
        raise UserError(
            f"That value for {label} is {_characters(length)} long; it needs at least "
            f"{rule.min_length}."
        )
    return value


def other_field_problems(
    rules: Mapping[str, CustomFieldRule], values: Mapping[str, Any], changed: str
) -> list[str]:
    """Fields other than `changed` whose current values Rocket.Chat would reject on save.

    The server validates every defined field whenever custom fields are saved, so a required
    field left empty (or a select field with no valid option) blocks changing any other field.
    """
    problems = []
    for name, rule in rules.items():
        if name == changed:
            continue
        current = values.get(name)
        text = current.strip() if isinstance(current, str) else ""
        missing = rule.required and not text
        invalid_option = rule.type == "select" and current not in rule.options
        if missing or invalid_option:
            problems.append(name)
    return problems
