"""Durations, clock times and the `for …` / `until …` ending of `/status`."""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.core.errors import UsageError, UserError
from bot.core.values import (
    MAX_DURATION,
    MIN_DURATION,
    Duration,
    Expiry,
    StatusType,
    format_duration,
    format_moment,
    parse_clock_time,
)
from bot.framework.converters import StatusLine, split_expiry

BERLIN = ZoneInfo("Europe/Berlin")


@pytest.mark.parametrize(
    ("raw", "minutes"),
    [
        ("30m", 30),
        ("2h", 120),
        ("1d", 1440),
        ("1w", 10080),
        ("1h30m", 90),
        ("1h 30m", 90),
        ("90 min", 90),
        ("2 hours", 120),
        ("1 day", 1440),
        ("1M", 1),  # units are not case-sensitive
    ],
)
def test_durations_are_read_in_minutes_hours_days_and_weeks(raw: str, minutes: int) -> None:
    assert Duration.convert(raw) == timedelta(minutes=minutes)


@pytest.mark.parametrize(
    ("raw", "error", "says"),
    [
        ("", UsageError, "30m, 2h, 1d"),
        ("soon", UsageError, "30m, 2h, 1d"),
        ("2", UsageError, "30m, 2h, 1d"),
        ("2x", UsageError, "not a unit I know"),
        ("1.5h", UsageError, "whole numbers, e.g. 90m"),
        ("0m", UserError, "at least|shortest duration is 1 minute"),
        ("31d", UserError, "longest duration is 30 days"),
        ("99999999999999999999d", UserError, "longest duration"),
    ],
)
def test_a_bad_duration_says_how_to_write_one(raw: str, error: type[Exception], says: str) -> None:
    with pytest.raises(error, match=says):
        Duration.convert(raw)


@given(st.integers(min_value=1, max_value=int(MAX_DURATION.total_seconds()) // 60))
def test_a_formatted_duration_reads_back_as_itself(minutes: int) -> None:
    delta = timedelta(minutes=minutes)
    assert Duration.convert(format_duration(delta).replace(" ", "")) == delta


@given(st.text(max_size=30))
def test_no_text_crashes_the_duration_converter(raw: str) -> None:
    with contextlib.suppress(UserError):
        value = Duration.convert(raw)
        assert MIN_DURATION <= value <= MAX_DURATION


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("17:30", time(17, 30)),
        ("9:05", time(9, 5)),
        ("09.05", time(9, 5)),
        ("5pm", time(17, 0)),
        ("5:30 pm", time(17, 30)),
        ("12am", time(0, 0)),
        ("12pm", time(12, 0)),
    ],
)
def test_clock_times(raw: str, expected: time) -> None:
    assert parse_clock_time(raw) == expected


@pytest.mark.parametrize("raw", ["25:00", "17:60", "13pm", "17", "noon"])
def test_a_bad_clock_time_says_how_to_write_one(raw: str) -> None:
    with pytest.raises(UsageError, match="time of day"):
        parse_clock_time(raw)


def test_until_is_later_today_or_else_tomorrow_in_the_given_zone() -> None:
    now = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)  # 10:00 in Berlin
    later = Expiry(until=time(17, 30)).deadline(now, BERLIN)
    assert later == datetime(2026, 1, 5, 16, 30, tzinfo=UTC)
    earlier = Expiry(until=time(9, 0)).deadline(now, BERLIN)
    assert earlier == datetime(2026, 1, 6, 8, 0, tzinfo=UTC)
    plus_two = timezone(timedelta(hours=2))  # a Rocket.Chat utcOffset of 2
    assert Expiry(until=time(12, 0)).deadline(now, plus_two) == datetime(
        2026, 1, 5, 10, 0, tzinfo=UTC
    )


@given(
    now=st.datetimes(
        min_value=datetime(2020, 1, 1), max_value=datetime(2035, 1, 1), timezones=st.just(UTC)
    ),
    hour=st.integers(0, 23),
    minute=st.integers(0, 59),
    zone=st.sampled_from([UTC, BERLIN, ZoneInfo("America/New_York"), ZoneInfo("Asia/Kolkata")]),
)
def test_until_always_lands_within_the_next_day_at_that_wall_clock_time(
    now: datetime, hour: int, minute: int, zone: ZoneInfo
) -> None:
    deadline = Expiry(until=time(hour, minute)).deadline(now, zone)
    assert now < deadline <= now + timedelta(hours=25)  # 25: a day with a DST change
    local = deadline.astimezone(zone)
    if local.replace(tzinfo=None) == datetime.combine(local.date(), time(hour, minute)):
        assert (local.hour, local.minute) == (hour, minute)


@pytest.mark.parametrize(
    ("raw", "presence", "text", "expiry"),
    [
        ("away At lunch for 1h", StatusType.AWAY, "At lunch", Expiry(duration=timedelta(hours=1))),
        ("away for 30m", StatusType.AWAY, None, Expiry(duration=timedelta(minutes=30))),
        ("In a meeting until 15:00", None, "In a meeting", Expiry(until=time(15, 0))),
        ("clear for 2h", None, "", Expiry(duration=timedelta(hours=2))),
        ('"Back in 5" FOR 1h', None, "Back in 5", Expiry(duration=timedelta(hours=1))),
        ('"Back for 2h"', None, "Back for 2h", None),
        ("Waiting for Godot", None, "Waiting for Godot", None),
        ("back until further notice", None, "back until further notice", None),
    ],
)
def test_a_status_line_may_end_with_for_or_until(
    raw: str, presence: StatusType | None, text: str | None, expiry: Expiry | None
) -> None:
    assert StatusLine.convert(raw) == StatusLine(presence=presence, text=text, expiry=expiry)


def test_a_status_line_with_only_a_duration_asks_what_to_set() -> None:
    with pytest.raises(UsageError, match="Tell me which status to set for 1h"):
        StatusLine.convert("for 1h")


def test_a_bad_ending_explains_quoting_to_keep_it_as_text() -> None:
    with pytest.raises(UsageError, match="put the whole text in quotes"):
        StatusLine.convert("Back for 2")


words = st.text(alphabet="abcdefghijklmnopqrstuvwxyz", min_size=1, max_size=8)


@given(
    presence=st.sampled_from([p.value for p in StatusType]),
    text=st.lists(words, min_size=1, max_size=4).map(" ".join),
    minutes=st.integers(1, int(MAX_DURATION.total_seconds()) // 60),
)
def test_any_status_with_a_duration_splits_into_both(
    presence: str, text: str, minutes: int
) -> None:
    duration = format_duration(timedelta(minutes=minutes)).replace(" ", "")
    line = StatusLine.convert(f"{presence} {text} for {duration}")
    assert line.expiry == Expiry(duration=timedelta(minutes=minutes))
    if text not in {p.value for p in StatusType} | {"clear"}:
        assert (line.presence, line.text) == (StatusType(presence), text)
    assert split_expiry(f"{presence} {text}") == (f"{presence} {text}", None)


def test_moments_are_shown_in_the_users_zone() -> None:
    now = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
    assert format_moment(datetime(2026, 1, 5, 16, 30, tzinfo=UTC), BERLIN, now) == (
        "17:30 (Europe/Berlin)"
    )
    assert format_moment(datetime(2026, 1, 6, 8, 0, tzinfo=UTC), BERLIN, now) == (
        "Tue 6 Jan 09:00 (Europe/Berlin)"
    )
    assert format_moment(now, timezone(timedelta(hours=5, minutes=30)), now) == (
        "14:30 (UTC+05:30)"
    )
