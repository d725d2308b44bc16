"""`/ooo`'s grammar and its dates in a person's time zone (bot.automation.ooo.request)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.automation.ooo.request import (
    ChooseNameSuffix,
    EndAbsence,
    SetAbsence,
    ShowAbsence,
    parse,
    resolve,
)
from bot.core.errors import UsageError, UserError

BERLIN = ZoneInfo("Europe/Berlin")
# Friday 4 Dec 2026, 10:00 in Berlin.
NOW = datetime(2026, 12, 4, 9, 0, tzinfo=UTC)


def when(line: str, zone: ZoneInfo | timezone = BERLIN) -> tuple[datetime, datetime, str]:
    request = parse(line)
    assert isinstance(request, SetAbsence)
    start, end = resolve(request, NOW, zone)
    return start.astimezone(zone), end.astimezone(zone), request.note


def local(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=BERLIN)  # type: ignore[misc]


def test_the_short_forms() -> None:
    assert parse("") == ShowAbsence()
    assert parse("  off ") == EndAbsence()
    assert parse("name on") == ChooseNameSuffix(on=True)
    assert parse("Name OFF") == ChooseNameSuffix(on=False)


def test_until_a_date_means_through_that_day_with_the_note() -> None:
    start, end, note = when("until 2026-12-27 Skiing, back on the 28th")
    assert start == NOW and end == local(2026, 12, 28, 0, 0)
    assert note == "Skiing, back on the 28th"


@pytest.mark.parametrize(
    "line",
    [
        "until 27 Dec",
        "until Dec 27",
        "until 27 December 2026",
        "until dec 27, 2026",
        "until 27th Dec",
    ],
)
def test_the_ways_to_write_a_day(line: str) -> None:
    assert when(line)[1] == local(2026, 12, 28, 0, 0)


def test_a_day_without_a_year_is_the_next_one_to_come() -> None:
    assert when("until 3 Jan")[1] == local(2027, 1, 4, 0, 0)


def test_weekdays_today_and_tomorrow() -> None:
    assert when("until monday")[1] == local(2026, 12, 8, 0, 0)
    assert when("until fri")[1] == local(2026, 12, 5, 0, 0)  # today is a Friday
    assert when("until tomorrow")[1] == local(2026, 12, 6, 0, 0)


def test_a_time_makes_the_end_exact_and_is_read_in_the_persons_zone() -> None:
    assert when("until 2026-12-27 14:00 Flight")[1:] == (local(2026, 12, 27, 14, 0), "Flight")
    plus_five = timezone(timedelta(hours=5))
    end = when("until 17:30", plus_five)[1]
    assert end == datetime(2026, 12, 4, 17, 30, tzinfo=plus_five)


def test_for_a_duration_and_from_a_day() -> None:
    assert when("for 1w Conference")[1:] == (
        NOW.astimezone(BERLIN) + timedelta(weeks=1),
        "Conference",
    )
    assert when("for 2 days")[1] == NOW.astimezone(BERLIN) + timedelta(days=2)
    start, end, note = when("from 2026-12-20 until 2026-12-27 Skiing")
    assert (start, end, note) == (local(2026, 12, 20, 0, 0), local(2026, 12, 28, 0, 0), "Skiing")
    start, end, _ = when("from monday 9:00 for 3d")
    assert start == local(2026, 12, 7, 9, 0) and end == local(2026, 12, 10, 9, 0)


def test_a_start_today_is_now() -> None:
    start, _, _ = when("from today until tomorrow")
    assert start == NOW


def test_a_note_in_quotes_keeps_what_looks_like_a_date() -> None:
    assert when('until 27 Dec "2 weeks of sun"')[2] == "2 weeks of sun"


@pytest.mark.parametrize(
    ("line", "says"),
    [
        ("soon", "Start with `until <date>`"),
        ("until", "Missing the date after `until`"),
        ("until someday", "is not a date"),
        ("until 12/11", "could be read two ways"),
        ("for ever", "is not a duration"),
        ("from monday", "Say when you are back"),
        ("name maybe", "name on"),
        ("until 25:00", "hours go from 00 to 23"),
    ],
)
def test_bad_input_gets_a_sentence_to_act_on(line: str, says: str) -> None:
    with pytest.raises(UsageError, match=None) as caught:
        parse(line)
    assert says in str(caught.value)


@pytest.mark.parametrize(
    ("line", "says"),
    [
        ("until 2020-01-01", "is in the past"),
        ("from 2026-12-20 until 2026-12-10", "before you leave"),
        ("from 2025-01-01 until 2026-12-27", "is in the past"),
        ("until 2028-01-01", "a year from now at most"),
        ("until 31 Feb", "not a day of the calendar"),
    ],
)
def test_impossible_dates_are_refused(line: str, says: str) -> None:
    with pytest.raises(UserError) as caught:
        request = parse(line)
        assert isinstance(request, SetAbsence)
        resolve(request, NOW, BERLIN)
    assert says in str(caught.value)


@given(st.text(max_size=80))
def test_no_input_crashes_the_grammar(line: str) -> None:
    try:
        request = parse(line)
        if isinstance(request, SetAbsence):
            start, end = resolve(request, NOW, BERLIN)
            assert NOW <= start < end <= NOW + timedelta(days=366)
    except UserError:
        pass
