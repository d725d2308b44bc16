"""What a `/status` line asks for: a status to set, or something about presets and recents.

The first word decides, as it already does for a presence (`/status away …`):

    /status 2 [for 1h | until 17:30]       number 2 of the list `/status` showed
    /status use NAME [for … | until …]     a preset by name (yours, else the team's)
    /status save NAME [for … | until …]    keep the current status as your preset NAME
    /status delete NAME                    forget your preset NAME
    /status presets                        list the presets
    anything else                          a presence and/or a text, as before (StatusLine)

A name alone (`/status lunch`) stays a status text: a preset saved, or configured, later must not
change what a line someone has typed for years does. A text that starts with a number or one of
these words is written in quotes, like one that starts with a presence.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import ClassVar, Final

from bot.core.errors import UsageError
from bot.core.values import WHITESPACE, Expiry
from bot.framework.converters import StatusLine, split_expiry

QUOTES: Final = "\"'“„"
_NUMBER: Final = re.compile(r"[0-9]+")
_WORDS: Final = re.compile(f"[{re.escape(WHITESPACE)}]+")


@dataclass(frozen=True)
class StatusRequest:
    """The converter of `/status`'s rest of the line; `convert` returns one of the subclasses."""

    metavar: ClassVar[str] = "status"

    @classmethod
    def convert(cls, raw: str) -> StatusRequest:
        text = raw.strip(WHITESPACE)
        if not text or text[0] in QUOTES:
            return SetStatus(StatusLine.convert(text))
        parts = _WORDS.split(text, maxsplit=1)
        first, rest = parts[0], (parts[1] if len(parts) > 1 else "")
        word = first.casefold()
        if _NUMBER.fullmatch(first):
            head, expiry = split_expiry(text)
            if head != first or len(first) > 3:  # a long one may be a code: never repeated
                raise UsageError(
                    "A line that starts with a number picks that number of the list `/status` "
                    "shows. To set a status text that starts with a number, put it in quotes: "
                    '`/status "3 meetings left"`.'
                )
            return PickNumber(int(first), expiry)
        if word == "presets":
            if rest:
                raise UsageError(_quote_hint("presets"))
            return ListPresets()
        if word in ("use", "save"):
            head, expiry = split_expiry(rest)
            name = _one_name(word, head)
            return UsePreset(name, expiry) if word == "use" else SavePreset(name, expiry)
        if word == "delete":
            return DeletePreset(_one_name(word, rest))
        return SetStatus(StatusLine.convert(text))


@dataclass(frozen=True)
class SetStatus(StatusRequest):
    """Set a presence, a text or both (the `/status` of before presets)."""

    line: StatusLine


@dataclass(frozen=True)
class PickNumber(StatusRequest):
    """Apply number `number` of the list, for `expiry` instead of its own if given."""

    number: int
    expiry: Expiry | None = None


@dataclass(frozen=True)
class UsePreset(StatusRequest):
    """Apply the preset `name`, for `expiry` instead of its own if given."""

    name: str
    expiry: Expiry | None = None


@dataclass(frozen=True)
class SavePreset(StatusRequest):
    """Keep the current status as the preset `name` (for `expiry` if given)."""

    name: str
    expiry: Expiry | None = None


@dataclass(frozen=True)
class DeletePreset(StatusRequest):
    """Forget the preset `name`."""

    name: str


@dataclass(frozen=True)
class ListPresets(StatusRequest):
    """List the presets."""


def _one_name(word: str, text: str) -> str:
    name = text.strip(WHITESPACE)
    if not name:
        raise UsageError(f"Tell me the preset's name: `/status {word} NAME`.")
    if _WORDS.search(name):
        raise UsageError("A preset's name is one word. " + _quote_hint(word))
    return name


def _quote_hint(word: str) -> str:
    return (
        f'To set a status text that starts with “{word}”, put it in quotes: `/status "{word} …"`.'
    )
