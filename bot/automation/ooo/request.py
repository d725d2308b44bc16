"""What `/ooo` was asked, read from the line, and the dates it names resolved in a time zone.

    /ooo                                          show it
    /ooo off                                      end it now (or call off one not started)
    /ooo name on | name off                       the "(OOO until …)" suffix on your name
    /ooo until <day> [<time>] [note]              from now
    /ooo for <duration> [note]                    from now, 1w, 3d, 36h …
    /ooo from <day> [<time>] until <day> [<time>] [note]
    /ooo from <day> [<time>] for <duration> [note]

A day is `2026-12-27`, `27 Dec` or `Dec 27` (a year may follow), a weekday (`friday`, `fri`),
`today` or `tomorrow`; a time is `17:30`, `9.05` or `5pm` (bot.core.values). `until <day>`
means through that day: the person is back the morning after. A day without a year is the next
one to come; a weekday is today or the next one. Reading happens here without a clock or a
zone (`Moment` keeps what was written); `resolve()` turns it into UTC for one person.

The grammar is this small one on purpose instead of a general date parser (dateparser,
dateutil): those read "back on the 28th" or "5" as dates, and a note after the date must stay a
note. English month and weekday names are matched here, not through the locale.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, tzinfo
from typing import ClassVar, Final

from bot.core.errors import UsageError, UserError
from bot.core.values import WHITESPACE, parse_clock_time

MONTHS: Final = {
    name: number
    for number, names in enumerate(
        (
            ("jan", "january"),
            ("feb", "february"),
            ("mar", "march"),
            ("apr", "april"),
            ("may",),
            ("jun", "june"),
            ("jul", "july"),
            ("aug", "august"),
            ("sep", "sept", "september"),
            ("oct", "october"),
            ("nov", "november"),
            ("dec", "december"),
        ),
        start=1,
    )
    for name in names
}
WEEKDAYS: Final = {
    name: number
    for number, names in enumerate(
        (
            ("mon", "monday"),
            ("tue", "tues", "tuesday"),
            ("wed", "wednesday"),
            ("thu", "thur", "thurs", "thursday"),
            ("fri", "friday"),
            ("sat", "saturday"),
            ("sun", "sunday"),
        )
    )
    for name in names
}
RELATIVE: Final = {"today": 0, "tomorrow": 1}
_SPAN_UNITS: Final = {
    **dict.fromkeys(("m", "min", "mins", "minute", "minutes"), 60),
    **dict.fromkeys(("h", "hr", "hrs", "hour", "hours"), 3600),
    **dict.fromkeys(("d", "day", "days"), 86400),
    **dict.fromkeys(("w", "wk", "wks", "week", "weeks"), 604800),
}
_SPAN: Final = re.compile(r"(?:\d{1,4}\s*[a-z]+\s*)+")
_SPAN_PART: Final = re.compile(r"(\d{1,4})\s*([a-z]+)")
_ISO_DAY: Final = re.compile(r"(\d{4})-(\d{1,2})-(\d{1,2})")
_DAY_NUMBER: Final = re.compile(r"(\d{1,2})(?:st|nd|rd|th)?\.?")
_YEAR: Final = re.compile(r"\d{4}")
_NUMERIC_DAY: Final = re.compile(r"\d{1,2}[./]\d{1,2}(?:[./]\d{2,4})?\.?")
MAX_AHEAD: Final = timedelta(days=366)
HOWTO_DAY: Final = "a date such as 2026-12-27, 27 Dec or friday"
WORD_SPLIT: Final = re.compile(f"[{re.escape(WHITESPACE)}]+")


@dataclass(frozen=True)
class Day:
    """A calendar day as written: a date (year optional), a weekday, or today + n days."""

    month: int | None = None
    day: int | None = None
    year: int | None = None
    weekday: int | None = None
    offset: int | None = None

    def on_or_after(self, today: date) -> date:
        """The day this names, seen from `today`: the next one to come (today counts)."""
        if self.offset is not None:
            return today + timedelta(days=self.offset)
        if self.weekday is not None:
            return today + timedelta(days=(self.weekday - today.weekday()) % 7)
        assert self.month is not None and self.day is not None
        if self.year is not None:
            return date(self.year, self.month, self.day)
        for year in (today.year, today.year + 1, today.year + 2):
            try:
                candidate = date(year, self.month, self.day)
            except ValueError:  # 29 Feb of a year that has none
                continue
            if candidate >= today:
                return candidate
        raise UserError("There is no such day in the next years.")  # pragma: no cover


@dataclass(frozen=True)
class Moment:
    """A day, a time of day, or both, as written after `from` or `until`."""

    day: Day | None
    clock: time | None
    written: str


@dataclass(frozen=True)
class ShowAbsence:
    """`/ooo`: show the absence."""


@dataclass(frozen=True)
class EndAbsence:
    """`/ooo off`: end it now, or call off one that has not started."""


@dataclass(frozen=True)
class ChooseNameSuffix:
    """`/ooo name on|off`."""

    on: bool


@dataclass(frozen=True)
class SetAbsence:
    """`/ooo [from …] until …|for … [note]`: `start` None means now."""

    start: Moment | None
    end: Moment | None
    span: timedelta | None
    note: str


OooRequest = ShowAbsence | EndAbsence | ChooseNameSuffix | SetAbsence


class OooLine:
    """The converter of `/ooo`'s line (the registry calls `convert`)."""

    metavar: ClassVar[str] = "until <date> [note]"

    @classmethod
    def convert(cls, raw: str) -> OooRequest:
        return parse(raw)


def _words(text: str) -> list[str]:
    return [word for word in WORD_SPLIT.split(text.strip(WHITESPACE)) if word]


def _rest_after(text: str, count: int) -> str:
    """What follows the first `count` words of `text`, as written."""
    rest = text.strip(WHITESPACE)
    for _ in range(count):
        parts = WORD_SPLIT.split(rest, maxsplit=1)
        rest = parts[1] if len(parts) > 1 else ""
    return rest.strip(WHITESPACE)


def parse(raw: str) -> OooRequest:
    """Read `/ooo`'s line; a UsageError says how to write what was not understood."""
    words = _words(raw)
    if not words:
        return ShowAbsence()
    first = words[0].casefold()
    if first == "off" and len(words) == 1:
        return EndAbsence()
    if first == "name":
        choice = words[1].casefold() if len(words) == 2 else ""
        if choice not in ("on", "off"):
            raise UsageError("Write `name on` or `name off`.")
        return ChooseNameSuffix(on=choice == "on")
    start: Moment | None = None
    used = 0
    if first == "from":
        start, taken = _moment(words[1:], "from")
        used = 1 + taken
        if used >= len(words) or words[used].casefold() not in ("until", "for"):
            raise UsageError(
                "Say when you are back: `from <date> until <date>` or `from <date> for 1w`."
            )
    elif first not in ("until", "for"):
        raise UsageError(
            f"I don't know “{words[0][:20]}” here. Start with `until <date>`, `for <duration>` "
            "or `from <date>`, e.g. `until 2026-12-27 Skiing, back on the 28th`."
        )
    keyword = words[used].casefold()
    if keyword == "for":
        span, taken = _span(words[used + 1 :])
        note = _note(_rest_after(raw, used + 1 + taken))
        return SetAbsence(start=start, end=None, span=span, note=note)
    end, taken = _moment(words[used + 1 :], "until")
    note = _note(_rest_after(raw, used + 1 + taken))
    return SetAbsence(start=start, end=end, span=None, note=note)


def _note(text: str) -> str:
    """The note, unquoted when it is one quoted string, on one line."""
    note = text.strip(WHITESPACE)
    if len(note) >= 2 and note[0] == note[-1] and note[0] in "\"'":
        note = note[1:-1].strip(WHITESPACE)
    return " ".join(note.split())


def _moment(words: list[str], keyword: str) -> tuple[Moment, int]:
    """A day and/or a time at the start of `words`; how many words it took."""
    if not words:
        raise UsageError(f"Missing the date after `{keyword}`: write {HOWTO_DAY}.")
    day, taken = _day(words)
    clock = None
    if taken < len(words):
        clock = _clock_or_none(words[taken])
        if clock is not None:
            taken += 1
    if day is None and clock is None:
        shown = words[0][:20]
        if _NUMERIC_DAY.fullmatch(words[0]):
            raise UsageError(
                f"“{shown}” could be read two ways; write the date as 2026-12-27 or 27 Dec."
            )
        raise UsageError(f"“{shown}” after `{keyword}` is not a date: write {HOWTO_DAY}.")
    return Moment(day=day, clock=clock, written=" ".join(words[:taken])), taken


def _clock_or_none(word: str) -> time | None:
    if not re.fullmatch(r"\d{1,2}(?:[:.h]\d{2})?\s*(?:am|pm)?", word.casefold()):
        return None
    try:
        return parse_clock_time(word)
    except UsageError:
        if re.fullmatch(r"\d{1,2}[:.h]\d{2}", word.casefold()):
            raise
        return None


def _day(words: list[str]) -> tuple[Day | None, int]:
    word = words[0].casefold().rstrip(",")
    if word in RELATIVE:
        return Day(offset=RELATIVE[word]), 1
    if word in WEEKDAYS:
        return Day(weekday=WEEKDAYS[word]), 1
    if iso := _ISO_DAY.fullmatch(word):
        year, month, day = (int(part) for part in iso.groups())
        return _checked(Day(month=month, day=day, year=year), words[0]), 1
    following = words[1].casefold().rstrip(",.") if len(words) > 1 else ""
    if (number := _DAY_NUMBER.fullmatch(word)) and following in MONTHS:
        found = Day(month=MONTHS[following], day=int(number.group(1)))
        return _with_year(found, words, 2)
    if word.rstrip(".") in MONTHS and (number := _DAY_NUMBER.fullmatch(following)):
        found = Day(month=MONTHS[word.rstrip(".")], day=int(number.group(1)))
        return _with_year(found, words, 2)
    return None, 0


def _with_year(found: Day, words: list[str], taken: int) -> tuple[Day, int]:
    if taken < len(words) and _YEAR.fullmatch(words[taken].rstrip(",")):
        found = Day(month=found.month, day=found.day, year=int(words[taken].rstrip(",")))
        taken += 1
    return _checked(found, " ".join(words[:taken])), taken


def _checked(found: Day, written: str) -> Day:
    """A day of the month that exists (29 Feb is checked once the year is known)."""
    assert found.month is not None and found.day is not None
    try:
        date(found.year or 2028, found.month, found.day)  # 2028: a leap year
    except ValueError:
        raise UserError(f"“{written[:20]}” is not a day of the calendar.") from None
    return found


def _span(words: list[str]) -> tuple[timedelta, int]:
    """A duration at the start of `words` (`1w`, `3 days`, `1w2d`); how many words it took."""
    taken = 0
    text = ""
    for count in range(1, min(len(words), 4) + 1):
        candidate = "".join(words[:count]).casefold()
        if _SPAN.fullmatch(candidate) and all(
            unit in _SPAN_UNITS for _, unit in _SPAN_PART.findall(candidate)
        ):
            taken, text = count, candidate
    if not taken:
        shown = words[0][:20] if words else ""
        raise UsageError(
            f"“{shown}” after `for` is not a duration: write 1w, 3d or 36h (m, h, d, w)."
        )
    seconds = sum(int(n) * _SPAN_UNITS[unit] for n, unit in _SPAN_PART.findall(text))
    if seconds < 60:
        raise UserError("That is too short to be away: the shortest is 1 minute (1m).")
    return timedelta(seconds=seconds), taken


# -- resolving in a time zone -----------------------------------------------------------------


def _local(day: date, clock: time, zone: tzinfo) -> datetime:
    return datetime.combine(day, clock, tzinfo=zone)


def _resolve_start(moment: Moment, now: datetime, zone: tzinfo) -> datetime:
    local_now = now.astimezone(zone)
    if moment.day is None:
        assert moment.clock is not None
        start = _local(local_now.date(), moment.clock, zone)
        return start if start > local_now else start + timedelta(days=1)
    day = moment.day.on_or_after(local_now.date())
    return _local(day, moment.clock or time(0), zone)


def _resolve_end(moment: Moment, after: datetime, zone: tzinfo) -> datetime:
    local_after = after.astimezone(zone)
    if moment.day is None:
        assert moment.clock is not None
        end = _local(local_after.date(), moment.clock, zone)
        return end if end > local_after else end + timedelta(days=1)
    day = moment.day.on_or_after(local_after.date())
    if moment.clock is None:
        return _local(day + timedelta(days=1), time(0), zone)  # through that day
    return _local(day, moment.clock, zone)


def resolve(request: SetAbsence, now: datetime, zone: tzinfo) -> tuple[datetime, datetime]:
    """(start, end) in UTC-aware datetimes; a start not after now is now. UserError for dates
    in the past, an end before the start, or more than a year ahead."""
    start = now if request.start is None else _resolve_start(request.start, now, zone)
    if start < now:
        local_day = now.astimezone(zone).date()
        if request.start is not None and start.astimezone(zone).date() < local_day:
            raise UserError(f"{request.start.written} is in the past; leave out `from …`.")
        start = now
    if request.span is not None:
        end = start + request.span
    else:
        assert request.end is not None
        end = _resolve_end(request.end, start, zone)
        if end <= now:
            raise UserError(f"{request.end.written} is in the past; check the date.")
        if end <= start:
            raise UserError(
                f"You would be back ({request.end.written}) before you leave; check the dates."
            )
    if end - now > MAX_AHEAD:
        raise UserError("An out of office can last until a year from now at most.")
    return start, end
