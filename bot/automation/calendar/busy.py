"""What the expanded intervals mean now: the busy block at a moment, and a one-line summary.

Meetings that overlap or touch are one block, so "In a meeting until 15:30" names the end of
the last of them. All-day events are kept apart (`all_day_at`): they are not meetings, and the
person may choose to let them start an out of office instead.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import Final

from bot.automation.calendar.events import BusyInterval

WINDOW_AHEAD: Final = timedelta(hours=36)


@dataclass(frozen=True, slots=True)
class BusyBlock:
    """Meetings back to back or overlapping, from `start` to `end` (UTC), and those under way
    at the moment asked about (`current`)."""

    start: datetime
    end: datetime
    current: tuple[BusyInterval, ...]

    def title(self, show_titles: bool) -> str | None:
        """The title of the meeting under way, if the person opted in and it is not private."""
        for interval in self.current:
            title = interval.shown_title(show_titles)
            if title:
                return title
        return None


def status_window(
    now: datetime, zone: tzinfo, ahead: timedelta = WINDOW_AHEAD
) -> tuple[datetime, datetime]:
    """The window to expand: from the start of the person's local day (so the summary counts
    today's earlier meetings) to `ahead` from now."""
    day_start, _ = local_day(now, zone)
    return day_start, now.astimezone(UTC) + ahead


def local_day(moment: datetime, zone: tzinfo) -> tuple[datetime, datetime]:
    """The person's local day around `moment`, as UTC bounds (23 or 25 hours on DST days)."""
    today = moment.astimezone(zone).date()
    return _midnight(today, zone), _midnight(today + timedelta(days=1), zone)


def _midnight(day: date, zone: tzinfo) -> datetime:
    return datetime.combine(day, time(), zone).astimezone(UTC)


def _timed(intervals: Iterable[BusyInterval]) -> list[BusyInterval]:
    return sorted(
        (interval for interval in intervals if not interval.all_day),
        key=lambda interval: (interval.start, interval.end),
    )


def busy_block_at(intervals: Iterable[BusyInterval], moment: datetime) -> BusyBlock | None:
    """The block of meetings the person is in at `moment`, or None when they are free."""
    block: list[BusyInterval] = []
    block_end: datetime | None = None
    for interval in _timed(intervals):
        if block_end is not None and interval.start > block_end:
            if block[0].start <= moment < block_end:
                break
            block, block_end = [], None
        block.append(interval)
        block_end = interval.end if block_end is None else max(block_end, interval.end)
    if not block or block_end is None or not block[0].start <= moment < block_end:
        return None
    current = tuple(interval for interval in block if interval.start <= moment < interval.end)
    return BusyBlock(start=block[0].start, end=block_end, current=current)


def all_day_at(intervals: Iterable[BusyInterval], moment: datetime) -> list[BusyInterval]:
    """The busy all-day events covering `moment` (an out of office may follow them)."""
    return [
        interval
        for interval in intervals
        if interval.all_day and interval.start <= moment < interval.end
    ]


def clock_text(moment: datetime, zone: tzinfo, now: datetime) -> str:
    """`moment` as the person reads it: "15:30" today, "tomorrow 09:00", else "Thu 26 Mar 09:00"."""
    local = moment.astimezone(zone)
    days = (local.date() - now.astimezone(zone).date()).days
    if days == 0:
        return f"{local:%H:%M}"
    if days == 1:
        return f"tomorrow {local:%H:%M}"
    return f"{local:%a} {local.day} {local:%b %H:%M}"


def summarise(intervals: Sequence[BusyInterval], now: datetime, zone: tzinfo) -> str:
    """One line about the person's day, e.g. "3 meetings today, next at 14:00"."""
    day_start, day_end = local_day(now, zone)
    timed = _timed(intervals)
    today = [i for i in timed if i.end > day_start and i.start < day_end]
    all_day = [i for i in intervals if i.all_day and i.end > day_start and i.start < day_end]
    head = _count(len(today), "meeting", "meetings") + " today"
    if all_day:
        head += " and " + _count(len(all_day), "all-day event", "all-day events")
    block = busy_block_at(timed, now)
    if block is not None:
        return f"{head}, in one now until {clock_text(block.end, zone, now)}"
    upcoming = [i for i in timed if i.start > now]
    if upcoming and upcoming[0].start < day_end:
        return f"{head}, next at {clock_text(upcoming[0].start, zone, now)}"
    if upcoming:
        tail = f"next {clock_text(upcoming[0].start, zone, now)}"
        return f"{head}, none left; {tail}" if today else f"{head}; {tail}"
    return f"{head}, none left" if today else head


def _count(number: int, one: str, many: str) -> str:
    if number == 0:
        return f"no {many}"
    return f"{number} {one if number == 1 else many}"
