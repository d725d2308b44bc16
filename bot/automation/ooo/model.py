"""How an absence reads: its dates in the person's own zone, the status text, the name suffix.

Everything a person sees of an absence (the answer to `/ooo`, the status text, the suffix on
their display name, the auto-reply, the digest) words its dates here, in the zone they had when
they set it, so that "until 27 Dec" means the same everywhere.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, time, timedelta, timezone, tzinfo
from typing import Final
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bot.core.fields import js_length
from bot.storage.absences import Absence

MAX_STATUS_TEXT: Final = 120
MAX_NAME: Final = 120
SUFFIX: Final = re.compile(r"\s*\(OOO until [^()]*\)$")
_OFFSET: Final = re.compile(r"UTC([+-])(\d{2}):(\d{2})")


def zone_text(zone: tzinfo) -> str:
    """A zone as stored with an absence: its IANA name, or `UTC+01:00` for a client's offset."""
    if isinstance(zone, ZoneInfo):
        return zone.key
    offset = zone.utcoffset(None) or timedelta(0)
    minutes = int(offset.total_seconds()) // 60
    sign = "-" if minutes < 0 else "+"
    hours, rest = divmod(abs(minutes), 60)
    return f"UTC{sign}{hours:02d}:{rest:02d}"


def zone_from_text(text: str) -> tzinfo:
    """The inverse of `zone_text` (UTC for anything unreadable)."""
    if match := _OFFSET.fullmatch(text):
        sign = -1 if match.group(1) == "-" else 1
        return timezone(sign * timedelta(hours=int(match.group(2)), minutes=int(match.group(3))))
    try:
        return ZoneInfo(text)
    except (ZoneInfoNotFoundError, ValueError):
        return UTC


def _day_label(moment: datetime, *, weekday: bool, with_year: bool) -> str:
    label = f"{moment.day} {moment:%b}"
    if weekday:
        label = f"{moment:%a} {label}"
    return f"{label} {moment.year}" if with_year else label


def until_label(absence: Absence, *, weekday: bool = False, now: datetime | None = None) -> str:
    """`27 Dec` when the absence ends at midnight (through the 27th), else `27 Dec 14:00`; the
    year is added when it is not the year the absence starts in (or `now`'s)."""
    zone = zone_from_text(absence.zone)
    end = absence.ends_at.astimezone(zone)
    reference = (now or absence.starts_at).astimezone(zone)
    if end.time() == time(0):
        last_day = end - timedelta(days=1)
        return _day_label(last_day, weekday=weekday, with_year=last_day.year != reference.year)
    label = _day_label(end, weekday=weekday, with_year=end.year != reference.year)
    return f"{label} {end:%H:%M}"


def since_label(absence: Absence, *, now: datetime | None = None) -> str:
    """`Mon 21 Dec 09:00`: when the absence began, in the person's zone."""
    zone = zone_from_text(absence.zone)
    start = absence.starts_at.astimezone(zone)
    reference = (now or absence.ends_at).astimezone(zone)
    return (
        f"{_day_label(start, weekday=True, with_year=start.year != reference.year)} {start:%H:%M}"
    )


def moment_label(ms: float, absence: Absence) -> str:
    """A server time (epoch ms) as `Tue 22 Dec 14:30` in the person's zone."""
    zone = zone_from_text(absence.zone)
    moment = datetime.fromtimestamp(ms / 1000, UTC).astimezone(zone)
    return f"{_day_label(moment, weekday=True, with_year=False)} {moment:%H:%M}"


def _cut(text: str, limit: int) -> str:
    """`text` within `limit` UTF-16 units (as Rocket.Chat counts), ending in … when cut."""
    if js_length(text) <= limit:
        return text
    while js_length(text) > limit - 1:
        text = text[:-1]
    return text.rstrip() + "…"


def status_text(absence: Absence) -> str:
    """`Out of office until 27 Dec: Skiing, back on the 28th`, within Rocket.Chat's 120."""
    head = f"Out of office until {until_label(absence)}"
    return _cut(f"{head}: {absence.note}" if absence.note else head, MAX_STATUS_TEXT)


def without_suffix(name: str) -> str:
    """The display name without an "(OOO until …)" suffix the bot added earlier."""
    return SUFFIX.sub("", name)


def with_suffix(name: str, absence: Absence) -> str:
    """`Alice Example (OOO until 27 Dec)`, the name cut so the whole fits."""
    suffix = f" (OOO until {until_label(absence)})"
    base = without_suffix(name).strip()
    room = MAX_NAME - js_length(suffix)
    return _cut(base, room) + suffix
