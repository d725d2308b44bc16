"""From ICS text to busy time: the intervals in a window, in UTC, that a status can follow.

`expand` parses the calendar with `icalendar` and lets `recurring-ical-events` unfold it: RRULE
and RDATE series, EXDATE, RECURRENCE-ID overrides, VTIMEZONE and TZID (also Windows zone
names), daylight-saving changes inside a series (09:00 stays 09:00 local) and X-WR-TIMEZONE.
On top of that it decides what counts as busy: cancelled instances and series
(STATUS:CANCELLED) and free time (TRANSP:TRANSPARENT, Outlook's BUSYSTATUS FREE) do not;
private and confidential events (CLASS) do, without their title. Times without a zone
(floating) and all-day dates are read in the person's own zone, so an all-day event covers
their local day, 23 or 25 hours long on a daylight-saving day.

Expansion is CPU work on hostile input (a rule that never matches keeps dateutil busy for
seconds): run it with a deadline, in another process, through `worker.expand_within`.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import Any, Final

import icalendar
import recurring_ical_events

from bot.automation.calendar.errors import CalendarUnreadable

HIDDEN_CLASSES: Final = frozenset({"PRIVATE", "CONFIDENTIAL"})
TITLE_LENGTH: Final = 120
MAX_INTERVALS: Final = 5000
# Floating times and dates are placed in the person's zone, up to 14 hours from UTC either way:
# ask the library for a wider window and cut it exactly afterwards.
_MARGIN: Final = timedelta(days=2)


@dataclass(frozen=True, slots=True)
class BusyInterval:
    """One busy occurrence, `start` to `end` in UTC.

    `title` is None for private and confidential events (`private`) and for untitled ones;
    `all_day` marks an event given as dates (it spans the person's local days).
    """

    start: datetime
    end: datetime
    title: str | None = None
    private: bool = False
    all_day: bool = False

    def shown_title(self, show_titles: bool) -> str | None:
        """The title to show when the person opted in to titles; never a private one's."""
        return self.title if show_titles and not self.private else None


def parse_calendar(text: str) -> icalendar.Calendar:
    """The calendar in `text`, or CalendarUnreadable (without the library's words, which quote
    the text)."""
    try:
        calendar = icalendar.Calendar.from_ical(text)
    except MemoryError:
        raise
    except Exception:  # noqa: BLE001 - the parser raises many kinds on bad input
        raise CalendarUnreadable(
            "the calendar could not be read: the address does not give a valid iCalendar "
            "(ICS) file"
        ) from None
    if not isinstance(calendar, icalendar.Calendar) or calendar.name != "VCALENDAR":
        raise CalendarUnreadable(
            "the address does not give an iCalendar file: use the calendar's ICS (iCal) address"
        )
    return calendar


def expand(
    source: str | icalendar.Calendar, *, start: datetime, end: datetime, zone: tzinfo
) -> list[BusyInterval]:
    """The busy intervals overlapping [start, end), sorted, whole (not cut at the window).

    `zone` is the person's time zone, for all-day events and times without a zone.
    """
    calendar = parse_calendar(source) if isinstance(source, str) else source
    window_start, window_end = start.astimezone(UTC), end.astimezone(UTC)
    try:
        query = recurring_ical_events.of(calendar, skip_bad_series=True)
        occurrences = query.between(window_start - _MARGIN, window_end + _MARGIN)
    except MemoryError:
        raise
    except Exception:  # noqa: BLE001 - InvalidCalendar, ValueError, OverflowError ...
        raise CalendarUnreadable(
            "the calendar could not be read: some of its events are not valid iCalendar"
        ) from None
    intervals = []
    for occurrence in occurrences:
        interval = _busy_interval(occurrence, zone)
        if interval is None or interval.end <= window_start or interval.start >= window_end:
            continue
        intervals.append(interval)
        if len(intervals) > MAX_INTERVALS:
            raise CalendarUnreadable(
                f"the calendar holds more than {MAX_INTERVALS} events in {_span(start, end)}, "
                "more than this bot follows"
            )
    intervals.sort(key=lambda interval: (interval.start, interval.end))
    return intervals


def _busy_interval(event: icalendar.Component, zone: tzinfo) -> BusyInterval | None:
    """The event as busy time, or None when it does not make anyone busy."""
    if _upper(event.get("STATUS")) == "CANCELLED":
        return None
    if _upper(event.get("TRANSP")) == "TRANSPARENT":
        return None
    if _upper(event.get("X-MICROSOFT-CDO-BUSYSTATUS")) == "FREE":
        return None
    start_value = _value(event.get("DTSTART"))
    if start_value is None:
        return None
    end_value = _value(event.get("DTEND"))
    all_day = not isinstance(start_value, datetime)
    if end_value is None:
        # RFC 5545 3.6.1: a date alone lasts one day; a date-time alone is a moment.
        end_value = start_value + timedelta(days=1) if all_day else start_value
    start, end = _utc(start_value, zone), _utc(end_value, zone)
    if end <= start:
        return None
    hidden = _upper(event.get("CLASS")) in HIDDEN_CLASSES
    return BusyInterval(
        start=start,
        end=end,
        title=None if hidden else _clean_title(event.get("SUMMARY")),
        private=hidden,
        all_day=all_day,
    )


def _value(prop: Any) -> date | None:
    value = getattr(prop, "dt", None)
    return value if isinstance(value, date) else None


def _utc(value: date, zone: tzinfo) -> datetime:
    if not isinstance(value, datetime):
        return datetime.combine(value, time(), zone).astimezone(UTC)
    if value.tzinfo is None:
        return value.replace(tzinfo=zone).astimezone(UTC)
    return value.astimezone(UTC)


def _upper(prop: Any) -> str:
    return str(prop).strip().upper() if prop is not None else ""


def _clean_title(prop: Any) -> str | None:
    """The summary as one short line: no control characters, no runs of spaces."""
    if prop is None:
        return None
    printable = "".join(
        " " if unicodedata.category(char) in ("Cc", "Cf", "Zl", "Zp") else char
        for char in str(prop)
    )
    title = " ".join(printable.split())
    if len(title) > TITLE_LENGTH:
        title = title[: TITLE_LENGTH - 1].rstrip() + "…"
    return title or None


def _span(start: datetime, end: datetime) -> str:
    hours = (end - start).total_seconds() / 3600
    return f"{hours:g} hours"
