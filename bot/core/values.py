"""Value types read from what people type: a presence, a duration, a moment, a token's shape.

They are below everything that parses commands (bot.framework) so that the profile, the flows
and the automation can use them too. Each `convert(raw)` raises UsageError for a wrong shape and
UserError for a value out of range; nothing else escapes, and no message repeats a token.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta, timezone, tzinfo
from enum import StrEnum
from typing import ClassVar, Final, Self

from bot.core.errors import UsageError, UserError

# Every character Python calls whitespace (NBSP, ideographic space, ...), so that words typed on
# any keyboard split the same way for the command name and for the arguments. Written out:
# finding them among all 1.1 million code points took a tenth of the bot's start-up
# (tests/bot/test_whitespace.py checks the list against the running Python).
WHITESPACE: Final = (
    "\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\xa0\u1680"
    + "".join(chr(c) for c in range(0x2000, 0x200B))
    + "\u2028\u2029\u202f\u205f\u3000"
)


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


_UNITS: Final[dict[str, int]] = {
    **dict.fromkeys(("m", "min", "mins", "minute", "minutes"), 60),
    **dict.fromkeys(("h", "hr", "hrs", "hour", "hours"), 3600),
    **dict.fromkeys(("d", "day", "days"), 86400),
    **dict.fromkeys(("w", "wk", "week", "weeks"), 604800),
}
_DURATION_PART: Final = re.compile(r"(\d+)\s*([^\d\s]+)")
_DURATION_SHAPE: Final = re.compile(r"(?:\d+\s*[^\d\s]+\s*)+")
MIN_DURATION: Final = timedelta(minutes=1)
MAX_DURATION: Final = timedelta(days=30)
DURATION_HOWTO: Final = "write a number and a unit: 30m, 2h, 1d or 1w (or combine them: 1h30m)"


class Duration(timedelta):
    """How long a temporary change lasts: 1 minute to 30 days (`30m`, `2h`, `1d`, `1h30m`)."""

    metavar: ClassVar[str] = "duration"

    @classmethod
    def convert(cls, raw: str) -> Duration:
        """`"1h30m"` → 90 minutes; a UsageError says how to write it, a UserError the range."""
        text = raw.strip(WHITESPACE).casefold()
        shown = raw.strip()[:20]
        if re.fullmatch(r"\d+[.,]\d+\s*[^\d\s]+", text):
            raise UsageError(
                f"“{shown}” is not a duration I can read: use whole numbers, e.g. 90m or 1h30m "
                "instead of 1.5h."
            )
        if not text or not _DURATION_SHAPE.fullmatch(text):
            raise UsageError(f"“{shown}” is not a duration; {DURATION_HOWTO}.")
        seconds = 0
        for number, unit in _DURATION_PART.findall(text):
            if unit not in _UNITS:
                raise UsageError(
                    f"“{unit[:10]}” in “{shown}” is not a unit I know; use m (minutes), "
                    "h (hours), d (days) or w (weeks), e.g. 2h."
                )
            seconds += int(number[:12]) * _UNITS[unit]
        if seconds < MIN_DURATION.total_seconds():
            raise UserError(f"“{shown}” is too short: the shortest duration is 1 minute (1m).")
        if seconds > MAX_DURATION.total_seconds():
            raise UserError(
                f"“{shown}” is too long: the longest duration is 30 days (30d). For a lasting "
                "change, leave out the duration."
            )
        return cls(seconds=seconds)

    def describe(self) -> str:
        """The duration as written back to people: `1h 30m`, `2d`, `1w 1d`."""
        return format_duration(self)


def format_duration(delta: timedelta) -> str:
    """`timedelta(minutes=90)` → `1h 30m`; whole minutes only (seconds are dropped)."""
    minutes = int(delta.total_seconds()) // 60
    parts = []
    for unit, size in (("w", 10080), ("d", 1440), ("h", 60), ("m", 1)):
        count, minutes = divmod(minutes, size)
        if count:
            parts.append(f"{count}{unit}")
    return " ".join(parts) or "0m"


_CLOCK_TIME: Final = re.compile(r"(\d{1,2})(?:[:.h](\d{2}))?\s*(am|pm)?")


def parse_clock_time(raw: str) -> time:
    """`17:30`, `9.05`, `5pm`, `5:30 pm` → a time of day; a UsageError says how to write it."""
    text = raw.strip(WHITESPACE).casefold()
    shown = raw.strip()[:20]
    match = _CLOCK_TIME.fullmatch(text)
    if match is None or (match.group(2) is None and match.group(3) is None):
        raise UsageError(f"“{shown}” is not a time of day; write it as HH:MM, e.g. until 17:30.")
    hour, minute, half = int(match.group(1)), int(match.group(2) or 0), match.group(3)
    if half is not None:
        if not 1 <= hour <= 12:
            raise UsageError(f"“{shown}” is not a time of day; with am/pm the hour is 1 to 12.")
        hour = hour % 12 + (12 if half == "pm" else 0)
    if hour > 23 or minute > 59:
        raise UsageError(
            f"“{shown}” is not a time of day; hours go from 00 to 23 and minutes from 00 to 59, "
            "e.g. until 17:30."
        )
    return time(hour, minute)


@dataclass(frozen=True)
class Expiry:
    """When a temporary change ends: after `duration`, or at the next `until` (a wall-clock
    time in the user's own time zone)."""

    duration: timedelta | None = None
    until: time | None = None

    def deadline(self, now: datetime, zone: tzinfo) -> datetime:
        """The moment (UTC) the change ends, counted from `now`.

        `until` is the next time the user's clock shows that time: later today, or tomorrow
        when it has already passed.
        """
        if self.duration is not None:
            return (now + self.duration).astimezone(UTC)
        assert self.until is not None
        local = now.astimezone(zone)
        moment = datetime.combine(local.date(), self.until, tzinfo=zone)
        if moment <= local:
            moment = datetime.combine(local.date() + timedelta(days=1), self.until, tzinfo=zone)
        return moment.astimezone(UTC)

    def describe(self) -> str:
        """`for 1h 30m` or `until 17:30`."""
        if self.duration is not None:
            return f"for {format_duration(self.duration)}"
        assert self.until is not None
        return f"until {self.until:%H:%M}"


def format_moment(moment: datetime, zone: tzinfo, now: datetime) -> str:
    """`17:30 (Europe/Berlin)` when that is today in `zone`, else `Tue 6 Jan 17:30 (…)`."""
    local = moment.astimezone(zone)
    name = local.strftime("%Z") if isinstance(zone, timezone) else str(zone)
    if local.date() == now.astimezone(zone).date():
        return f"{local:%H:%M} ({name})"
    return f"{local:%a} {local.day} {local:%b %H:%M} ({name})"


_TOKEN_SHAPE: Final = re.compile(r"[A-Za-z0-9_\-.~+/=]{16,512}")
_LIKELY_TOKEN: Final = re.compile(r"[A-Za-z0-9_\-]{30,512}")
# Rocket.Chat's personal access tokens are Random.secret(): 43 base64url characters. In free
# text (a sentence, a code block, quotes or brackets around it) only that exact shape counts.
_TOKEN_IN_TEXT: Final = re.compile(r"(?<![A-Za-z0-9_\-])[A-Za-z0-9_\-]{43}(?![A-Za-z0-9_\-])")
MAX_TOKENS_CHECKED: Final = 3


def tokens_in(text: str) -> list[str]:
    """The words of `text` shaped like a personal access token, wherever they stand (at most a
    few, each once): what must never stay where others can read it."""
    found = dict.fromkeys(_TOKEN_IN_TEXT.findall(text))
    return list(found)[:MAX_TOKENS_CHECKED]


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
