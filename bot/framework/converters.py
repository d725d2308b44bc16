"""Converters: the annotations of command parameters, turning raw words into checked values.

A converter is a class with a `convert(raw: str)` classmethod (and, optionally, a `metavar`
string for usage lines). It raises `UsageError` when the input has the wrong shape (the user
then sees the usage line) and `UserError` when it breaks one of Rocket.Chat's rules (the
sentence says which and how to fix it). Nothing else may escape: the property tests feed them
arbitrary text.

Values that end a line (`Bio`, `Nickname`, `StatusText`, `DisplayName`, `FieldValue`) receive the
rest of the line as written: the single word `clear` clears the field (where that is allowed),
and a value that is one quoted string as a whole is unquoted (`/bio "clear"` is still `clear`,
the word, not a bio).

Time: `Duration` reads `30m`, `2h`, `1d`, `1w` or combinations (`1h30m`); `Expiry` is either
`for <duration>` or `until <HH:MM>` (a wall-clock time, resolved in the user's time zone when
the change is made). `StatusLine` takes either one off the end of the line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, ClassVar, Final, Protocol, Self, runtime_checkable

from bot.core.errors import UsageError, UserError
from bot.core.fields import (
    check_bio,
    check_display_name,
    check_nickname,
    check_status_text,
)
from bot.core.values import (
    WHITESPACE,
    Duration,
    Expiry,
    StatusType,
    parse_clock_time,
)
from bot.framework.parser import split_words, unquote_whole

CLEAR: Final = "clear"
_QUOTES: Final = "\"'“„"


@runtime_checkable
class Converter(Protocol):
    """What the registry accepts as a parameter annotation besides str, int, enums and Literal."""

    @classmethod
    def convert(cls, raw: str) -> Any: ...


def is_clear(raw: str) -> bool:
    """True for the word `clear` (any case), which clears a field."""
    return raw.strip(WHITESPACE).casefold() == CLEAR


def _text_value(raw: str, label: str) -> str | None:
    """None for `clear`; otherwise the unquoted text, refused when empty."""
    if is_clear(raw):
        return None
    value = unquote_whole(raw)
    if not value.strip():
        raise UsageError(f"The {label} is empty. To remove it, use the word {CLEAR}.")
    return value


class Bio(str):
    """A bio of at most 260 characters; `clear` gives the empty bio."""

    @classmethod
    def convert(cls, raw: str) -> Self:
        value = _text_value(raw, "bio")
        return cls("" if value is None else check_bio(value))


class Nickname(str):
    """A nickname of at most 120 characters on one line; `clear` gives the empty nickname."""

    @classmethod
    def convert(cls, raw: str) -> Self:
        value = _text_value(raw, "nickname")
        return cls("" if value is None else check_nickname(value))


class StatusText(str):
    """A status text of at most 120 characters on one line; `clear` gives the empty text."""

    @classmethod
    def convert(cls, raw: str) -> Self:
        value = _text_value(raw, "status text")
        return cls("" if value is None else check_status_text(value))


class DisplayName(str):
    """A display name: not empty, on one line, without `< > \\ /` (it can't be cleared)."""

    metavar: ClassVar[str] = "display name"

    @classmethod
    def convert(cls, raw: str) -> Self:
        if is_clear(raw):
            raise UserError(
                "A display name can't be removed, only changed. Tell me the new name instead."
            )
        return cls(check_display_name(unquote_whole(raw)))


class FieldName(str):
    """The name of one of the workspace's custom fields (checked against them later)."""

    @classmethod
    def convert(cls, raw: str) -> Self:
        value = raw.strip(WHITESPACE)
        if not value:
            raise UsageError("The field name is empty.")
        return cls(value)


class FieldValue(str):
    """A custom field's new value as written; `clear` gives "" (rules are checked later)."""

    @classmethod
    def convert(cls, raw: str) -> Self:
        value = _text_value(raw, "value")
        return cls("" if value is None else value.strip())


# `… for 2h` / `… until 17:30` at the very end of a line (the value starts with a digit).
_EXPIRY_SUFFIX: Final = re.compile(
    r"(?:^|\s)(for|until)\s+(\d\S*(?:\s*[ap]m)?)\s*$", re.IGNORECASE | re.DOTALL
)


def split_expiry(text: str) -> tuple[str, Expiry | None]:
    """`"away At lunch for 1h"` → (`"away At lunch"`, Expiry(1h)); no suffix → (text, None).

    Only a value starting with a digit counts, so "Waiting for Godot" stays text; such a value
    that is not a valid duration or time is a UsageError saying how to write it.
    """
    match = _EXPIRY_SUFFIX.search(text)
    if match is None:
        return text, None
    keyword, value = match.group(1).casefold(), match.group(2)
    try:
        if keyword == "for":
            expiry = Expiry(duration=Duration.convert(value))
        else:
            expiry = Expiry(until=parse_clock_time(value))
    except UsageError as exc:
        raise UsageError(
            f"{exc} To keep “{match.group(1)} {value[:20]}” as part of the text, put the whole "
            "text in quotes."
        ) from None
    return text[: match.start()].strip(WHITESPACE), expiry


@dataclass(frozen=True)
class StatusLine:
    """What `/status` was asked: a presence, a text, or both, and maybe for how long.

    `presence` None keeps the current presence; `text` None keeps the current text and ""
    clears it. A first word naming a presence is the presence (`/status away At lunch`); quote
    the whole text to start a text with such a word (`/status "Away from keyboard"`). A line
    ending in `for <duration>` or `until <HH:MM>` sets `expiry` (`/status away At lunch for
    1h`); quote the text to keep such an ending as text (`/status "Back for 2h"`).
    """

    presence: StatusType | None
    text: str | None
    expiry: Expiry | None = None

    metavar: ClassVar[str] = "status"

    @classmethod
    def convert(cls, raw: str) -> StatusLine:
        text = raw.strip(WHITESPACE)
        if not text:
            raise UsageError(
                "Tell me a presence (online, away, busy or offline), a text, or both."
            )
        if text[0] not in _QUOTES or not _one_quoted_string(text):
            head, expiry = split_expiry(text)
            if expiry is not None:
                if not head:
                    raise UsageError(
                        f"Tell me which status to set {expiry.describe()}, e.g. "
                        f"`/status away At lunch {expiry.describe()}`."
                    )
                line = cls._convert(head)
                return cls(presence=line.presence, text=line.text, expiry=expiry)
        return cls._convert(text)

    @classmethod
    def _convert(cls, text: str) -> StatusLine:
        if text[0] in _QUOTES:
            try:
                words = split_words(text)
            except UsageError:
                words = []
            if len(words) == 1:
                return cls(presence=None, text=str(StatusText.convert(text)))
        parts = re.split(f"[{re.escape(WHITESPACE)}]+", text, maxsplit=1)
        first = parts[0]
        remainder = parts[1] if len(parts) > 1 else ""
        presence = StatusType.parse(first)
        if presence is None:
            return cls(presence=None, text=str(StatusText.convert(text)))
        if not remainder.strip(WHITESPACE):
            return cls(presence=presence, text=None)
        return cls(presence=presence, text=str(StatusText.convert(remainder)))


def _one_quoted_string(text: str) -> bool:
    try:
        return len(split_words(text)) == 1
    except UsageError:
        return False
