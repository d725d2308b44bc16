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
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, ClassVar, Final, Protocol, Self, runtime_checkable

from bot.errors import UsageError, UserError
from bot.fields import (
    check_bio,
    check_display_name,
    check_nickname,
    check_status_text,
)
from bot.parser import WHITESPACE, split_words, unquote_whole

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


class StatusType(StrEnum):
    """A presence as Rocket.Chat names it (`offline` is shown to others as invisible)."""

    ONLINE = "online"
    AWAY = "away"
    BUSY = "busy"
    OFFLINE = "offline"

    @classmethod
    def convert(cls, raw: str) -> StatusType:
        """`Away` → StatusType.AWAY; anything else is a UsageError listing the four."""
        word = raw.strip(WHITESPACE).casefold()
        for member in cls:
            if member.value == word:
                return member
        shown = raw.strip()[:40]
        raise UsageError(f"“{shown}” is not a presence; use online, away, busy or offline.")

    @classmethod
    def parse(cls, raw: str) -> StatusType | None:
        """The presence `raw` names, or None."""
        word = raw.strip(WHITESPACE).casefold()
        return next((member for member in cls if member.value == word), None)


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


@dataclass(frozen=True)
class StatusLine:
    """What `/status` was asked: a presence, a text, or both.

    `presence` None keeps the current presence; `text` None keeps the current text and ""
    clears it. A first word naming a presence is the presence (`/status away At lunch`); quote
    the whole text to start a text with such a word (`/status "Away from keyboard"`).
    """

    presence: StatusType | None
    text: str | None

    metavar: ClassVar[str] = "status"

    @classmethod
    def convert(cls, raw: str) -> StatusLine:
        text = raw.strip(WHITESPACE)
        if not text:
            raise UsageError(
                "Tell me a presence (online, away, busy or offline), a text, or both."
            )
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


_TOKEN_SHAPE: Final = re.compile(r"[A-Za-z0-9_\-.~+/=]{16,512}")
_LIKELY_TOKEN: Final = re.compile(r"[A-Za-z0-9_\-]{30,512}")


class PersonalAccessToken(str):
    """A Rocket.Chat personal access token; its repr never shows it.

    Only the shape is checked here (one word, token characters); whether Rocket.Chat accepts it
    is for the token service to find out. Errors never repeat the value.
    """

    metavar: ClassVar[str] = "token"

    def __repr__(self) -> str:
        return "PersonalAccessToken('***')"

    @classmethod
    def convert(cls, raw: str) -> Self:
        value = raw.strip(WHITESPACE)
        if not value:
            raise UsageError("The token is missing.")
        if "<" in value or ">" in value or value.casefold() in {"token", "your-token"}:
            raise UsageError(
                "Replace <token> with the personal access token you copied from Rocket.Chat."
            )
        if not _TOKEN_SHAPE.fullmatch(value):
            raise UsageError(
                "That does not look like a personal access token: it is one word of letters, "
                "digits, - and _ (Rocket.Chat's are 43 characters long). Copy it again from "
                "Account → Personal Access Tokens."
            )
        return cls(value)

    @classmethod
    def looks_like(cls, raw: str) -> bool:
        """True when `raw` is most likely a token (so it must be treated as a secret)."""
        return bool(_LIKELY_TOKEN.fullmatch(raw.strip(WHITESPACE)))
