"""The busy block at a moment (merged meetings) and the one-line summary of the day."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from hypothesis import given
from hypothesis import strategies as st

from bot.automation.calendar import (
    BusyInterval,
    all_day_at,
    busy_block_at,
    clock_text,
    expand,
    status_window,
    summarise,
)

FEEDS = Path(__file__).parent / "feeds"
BERLIN = ZoneInfo("Europe/Berlin")


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def meetings() -> list[BusyInterval]:
    text = (FEEDS / "back_to_back.ics").read_text(encoding="utf-8")
    return expand(text, start=utc(2026, 3, 24), end=utc(2026, 3, 25), zone=UTC)


def meeting(start: datetime, minutes: int, title: str | None = "Sync") -> BusyInterval:
    return BusyInterval(start, start + timedelta(minutes=minutes), title=title)


def test_overlapping_and_touching_meetings_are_one_block() -> None:
    block = busy_block_at(meetings(), utc(2026, 3, 24, 12, 10))
    assert block is not None
    # 12:00-13:00, 12:30-13:15 (overlaps) and 13:15-13:30 (touches): one block to 13:30.
    assert (block.start, block.end) == (utc(2026, 3, 24, 12), utc(2026, 3, 24, 13, 30))
    assert block.title(show_titles=True) == "Customer call"
    assert block.title(show_titles=False) is None


def test_a_gap_ends_the_block() -> None:
    block = busy_block_at(meetings(), utc(2026, 3, 24, 14, 30))
    assert block is not None
    assert (block.start, block.end) == (utc(2026, 3, 24, 14), utc(2026, 3, 24, 15))
    assert busy_block_at(meetings(), utc(2026, 3, 24, 13, 45)) is None


def test_the_end_of_a_block_is_free_and_its_start_is_busy() -> None:
    assert busy_block_at(meetings(), utc(2026, 3, 24, 13, 30)) is None
    assert busy_block_at(meetings(), utc(2026, 3, 24, 12)) is not None


def test_a_private_meeting_under_way_lends_no_title() -> None:
    block = busy_block_at(meetings(), utc(2026, 3, 24, 13, 5))
    assert block is not None
    assert [i.private for i in block.current] == [True]
    assert block.title(show_titles=True) is None


def test_when_a_public_and_a_private_meeting_overlap_the_public_title_is_shown() -> None:
    block = busy_block_at(meetings(), utc(2026, 3, 24, 12, 45))
    assert block is not None
    assert len(block.current) == 2
    assert block.title(show_titles=True) == "Customer call"


def test_all_day_events_are_no_meeting_but_are_listed_apart() -> None:
    day = BusyInterval(utc(2026, 3, 24, 23), utc(2026, 3, 25, 23), title="Offsite", all_day=True)
    moment = utc(2026, 3, 25, 10)
    assert busy_block_at([day], moment) is None
    assert all_day_at([day], moment) == [day]
    assert all_day_at([day], utc(2026, 3, 25, 23)) == []


def test_clock_text_says_today_tomorrow_or_the_date() -> None:
    now = utc(2026, 3, 24, 10)
    assert clock_text(utc(2026, 3, 24, 14, 30), BERLIN, now) == "15:30"
    assert clock_text(utc(2026, 3, 25, 8), BERLIN, now) == "tomorrow 09:00"
    assert clock_text(utc(2026, 3, 26, 8), BERLIN, now) == "Thu 26 Mar 09:00"
    # 23:30 UTC is already tomorrow in Berlin.
    assert clock_text(utc(2026, 3, 24, 23, 30), BERLIN, now) == "tomorrow 00:30"


def test_summary_counts_todays_meetings_and_names_the_next() -> None:
    day = [
        meeting(utc(2026, 3, 24, 7), 30),
        meeting(utc(2026, 3, 24, 13), 60),
        meeting(utc(2026, 3, 24, 15), 30),
    ]
    assert summarise(day, utc(2026, 3, 24, 10), BERLIN) == "3 meetings today, next at 14:00"


def test_summary_during_a_meeting_names_the_end_of_the_block() -> None:
    day = [meeting(utc(2026, 3, 24, 13), 60), meeting(utc(2026, 3, 24, 14), 30)]
    summary = summarise(day, utc(2026, 3, 24, 13, 10), BERLIN)
    assert summary == "2 meetings today, in one now until 15:30"


def test_summary_when_todays_meetings_are_over_names_tomorrows() -> None:
    intervals = [meeting(utc(2026, 3, 24, 8), 30), meeting(utc(2026, 3, 25, 8), 30)]
    summary = summarise(intervals, utc(2026, 3, 24, 12), BERLIN)
    assert summary == "1 meeting today, none left; next tomorrow 09:00"


def test_summary_of_an_empty_day() -> None:
    assert summarise([], utc(2026, 3, 24, 12), BERLIN) == "no meetings today"
    tomorrow = [meeting(utc(2026, 3, 25, 8), 30)]
    assert summarise(tomorrow, utc(2026, 3, 24, 12), BERLIN) == (
        "no meetings today; next tomorrow 09:00"
    )


def test_summary_uses_the_persons_day_not_utcs() -> None:
    # 23:30 UTC on the 24th is 00:30 on the 25th in Berlin: not today for someone there.
    late = [meeting(utc(2026, 3, 24, 23, 30), 30)]
    assert summarise(late, utc(2026, 3, 24, 12), BERLIN) == (
        "no meetings today; next tomorrow 00:30"
    )
    assert summarise(late, utc(2026, 3, 24, 12), UTC) == "1 meeting today, next at 23:30"


def test_summary_mentions_all_day_events_apart() -> None:
    intervals = [
        BusyInterval(utc(2026, 3, 23, 23), utc(2026, 3, 24, 23), title="Offsite", all_day=True),
        meeting(utc(2026, 3, 24, 13), 60),
    ]
    assert summarise(intervals, utc(2026, 3, 24, 10), BERLIN) == (
        "1 meeting today and 1 all-day event, next at 14:00"
    )


def test_summary_from_a_feed_file_on_the_dst_monday() -> None:
    text = (FEEDS / "weekly_berlin_dst.ics").read_text(encoding="utf-8")
    now = utc(2026, 3, 30, 6)  # 08:00 in Berlin, summer time since Sunday
    start, end = status_window(now, BERLIN)
    intervals = expand(text, start=start, end=end, zone=BERLIN)
    assert summarise(intervals, now, BERLIN) == "1 meeting today, next at 09:00"


def test_status_window_starts_at_the_persons_midnight() -> None:
    start, end = status_window(utc(2026, 3, 24, 10), BERLIN)
    assert start == utc(2026, 3, 23, 23)
    assert end == utc(2026, 3, 25, 22)


minutes = st.integers(min_value=0, max_value=600)


@given(
    spans=st.lists(st.tuples(minutes, st.integers(min_value=1, max_value=120)), max_size=12),
    at=minutes,
)
def test_a_block_holds_the_moment_and_cannot_grow(spans: list[tuple[int, int]], at: int) -> None:
    origin = utc(2026, 3, 24)
    intervals = [meeting(origin + timedelta(minutes=s), length) for s, length in spans]
    moment = origin + timedelta(minutes=at)
    block = busy_block_at(intervals, moment)
    covering = [i for i in intervals if i.start <= moment < i.end]
    if not covering:
        assert block is None
        return
    assert block is not None
    assert block.start <= moment < block.end
    assert set(block.current) == set(covering)
    for interval in intervals:
        touches = interval.start <= block.end and interval.end >= block.start
        if touches:  # anything touching the block lies inside it: the block is maximal
            assert block.start <= interval.start and interval.end <= block.end
