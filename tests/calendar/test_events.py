"""ICS text to busy intervals: recurrences, exceptions, cancellations, zones, all-day, free and
private events, each from a feed file in tests/calendar/feeds/."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bot.automation.calendar import BusyInterval, CalendarUnreadable, expand

FEEDS = Path(__file__).parent / "feeds"
BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")
TOKYO = ZoneInfo("Asia/Tokyo")


def feed(name: str) -> str:
    return (FEEDS / name).read_text(encoding="utf-8")


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def spans(intervals: list[BusyInterval]) -> list[tuple[datetime, datetime]]:
    return [(interval.start, interval.end) for interval in intervals]


def test_weekly_meeting_keeps_its_local_time_across_the_spring_dst_change() -> None:
    intervals = expand(
        feed("weekly_berlin_dst.ics"), start=utc(2026, 3, 20), end=utc(2026, 4, 8), zone=NEW_YORK
    )
    # 09:00 in Berlin is 08:00 UTC before the last Sunday of March (29th), 07:00 UTC after.
    assert spans(intervals) == [
        (utc(2026, 3, 23, 8), utc(2026, 3, 23, 8, 30)),
        (utc(2026, 3, 30, 7), utc(2026, 3, 30, 7, 30)),
        (utc(2026, 4, 6, 7), utc(2026, 4, 6, 7, 30)),
    ]
    assert all(interval.start.tzinfo is UTC for interval in intervals)


def test_weekly_meeting_keeps_its_local_time_across_the_autumn_dst_change() -> None:
    intervals = expand(
        feed("weekly_berlin_dst.ics"), start=utc(2026, 10, 19), end=utc(2026, 11, 3), zone=UTC
    )
    assert [interval.start for interval in intervals] == [
        utc(2026, 10, 19, 7),
        utc(2026, 10, 26, 8),
        utc(2026, 11, 2, 8),
    ]


def test_google_feed_with_x_wr_timezone_follows_the_calendar_zone() -> None:
    intervals = expand(
        feed("google_x_wr_timezone.ics"), start=utc(2026, 3, 20), end=utc(2026, 4, 1), zone=UTC
    )
    assert [interval.start for interval in intervals] == [
        utc(2026, 3, 23, 8),
        utc(2026, 3, 30, 7),
    ]


def test_exdate_override_and_cancelled_instance_shape_a_daily_series() -> None:
    intervals = expand(
        feed("recurrence_exceptions.ics"), start=utc(2026, 3, 23), end=utc(2026, 3, 28), zone=UTC
    )
    standups = [i for i in intervals if i.title and i.title.startswith("Standup")]
    assert [(i.start, i.title) for i in standups] == [
        (utc(2026, 3, 23, 9), "Standup"),
        # 24th: EXDATE; 25th: moved to 11:00 by its RECURRENCE-ID override; 26th: cancelled.
        (utc(2026, 3, 25, 11), "Standup (moved)"),
        (utc(2026, 3, 27, 9), "Standup"),
    ]


def test_count_includes_the_excluded_dates_as_rfc_5545_says() -> None:
    intervals = expand(
        feed("recurrence_exceptions.ics"), start=utc(2026, 3, 23), end=utc(2026, 4, 30), zone=UTC
    )
    standups = [i for i in intervals if i.title and i.title.startswith("Standup")]
    # COUNT=10 weekdays from 23 March end on 3 April; three of them are gone or moved.
    assert standups[-1].start == utc(2026, 4, 3, 9)
    assert len(standups) == 8


def test_a_cancelled_series_is_never_busy() -> None:
    intervals = expand(
        feed("recurrence_exceptions.ics"), start=utc(2026, 3, 23), end=utc(2026, 4, 30), zone=UTC
    )
    assert not [i for i in intervals if i.title and i.title.startswith("Retro")]


def test_until_ends_a_series_and_rdate_adds_an_instance() -> None:
    intervals = expand(
        feed("recurrence_exceptions.ics"), start=utc(2026, 3, 1), end=utc(2026, 4, 30), zone=UTC
    )
    reviews = [i.start for i in intervals if i.title and i.title.startswith("Review")]
    assert reviews == [utc(2026, 3, 16, 13), utc(2026, 3, 23, 13)]
    pair = [(i.start, i.end) for i in intervals if i.title == "One-off pair"]
    assert pair == [
        (utc(2026, 3, 23, 17), utc(2026, 3, 23, 17, 45)),  # DURATION gives the end
        (utc(2026, 3, 27, 17), utc(2026, 3, 27, 17, 45)),
    ]


def test_zones_by_name_by_windows_name_by_vtimezone_and_in_utc() -> None:
    intervals = expand(
        feed("time_zones.ics"), start=utc(2026, 3, 24), end=utc(2026, 3, 25), zone=BERLIN
    )
    by_title = {i.title: (i.start, i.end) for i in intervals}
    assert by_title["New York sync"] == (utc(2026, 3, 24, 14), utc(2026, 3, 24, 15))  # EDT
    assert by_title["Outlook zone name"] == (utc(2026, 3, 24, 13), utc(2026, 3, 24, 13, 30))
    assert by_title["Custom zone"] == (utc(2026, 3, 24, 6, 30), utc(2026, 3, 24, 7))  # +05:30
    assert by_title["In UTC"] == (utc(2026, 3, 24, 16), utc(2026, 3, 24, 16, 30))


@pytest.mark.parametrize(
    ("zone", "expected_start"),
    [
        (BERLIN, utc(2026, 3, 24, 7)),
        (NEW_YORK, utc(2026, 3, 24, 12)),
        (TOKYO, utc(2026, 3, 23, 23)),
    ],
)
def test_floating_time_is_read_in_the_persons_zone(
    zone: ZoneInfo, expected_start: datetime
) -> None:
    intervals = expand(
        feed("time_zones.ics"), start=utc(2026, 3, 23), end=utc(2026, 3, 26), zone=zone
    )
    floating = [i for i in intervals if i.title and i.title.startswith("Floating")]
    assert spans(floating) == [(expected_start, expected_start + timedelta(minutes=30))]


def test_all_day_events_span_the_persons_local_days() -> None:
    intervals = expand(
        feed("all_day.ics"), start=utc(2026, 3, 24), end=utc(2026, 3, 27), zone=BERLIN
    )
    assert [(i.title, i.start, i.end, i.all_day) for i in intervals] == [
        ("Offsite", utc(2026, 3, 24, 23), utc(2026, 3, 25, 23), True),
    ]
    in_new_york = expand(
        feed("all_day.ics"), start=utc(2026, 3, 24), end=utc(2026, 3, 27), zone=NEW_YORK
    )
    assert spans(in_new_york) == [(utc(2026, 3, 25, 4), utc(2026, 3, 26, 4))]


def test_an_all_day_event_on_the_dst_sunday_lasts_23_hours() -> None:
    intervals = expand(
        feed("all_day.ics"), start=utc(2026, 3, 28), end=utc(2026, 3, 30), zone=BERLIN
    )
    hackathon = [i for i in intervals if i.title and i.title.startswith("Hackathon")]
    # No DTEND: a date lasts one day (RFC 5545 3.6.1), midnight to midnight in Berlin.
    assert spans(hackathon) == [(utc(2026, 3, 28, 23), utc(2026, 3, 29, 22))]
    assert hackathon[0].end - hackathon[0].start == timedelta(hours=23)


def test_multi_day_and_recurring_all_day_events() -> None:
    intervals = expand(
        feed("all_day.ics"), start=utc(2026, 4, 1), end=utc(2026, 4, 5), zone=BERLIN
    )
    assert [(i.title, i.start, i.end) for i in intervals] == [
        ("Conference (three days)", utc(2026, 3, 31, 22), utc(2026, 4, 3, 22)),
        ("Day off (first Friday)", utc(2026, 4, 2, 22), utc(2026, 4, 3, 22)),
    ]


def test_a_transparent_all_day_event_is_free() -> None:
    intervals = expand(
        feed("all_day.ics"), start=utc(2026, 3, 27), end=utc(2026, 3, 28), zone=BERLIN
    )
    assert [i.title for i in intervals] == []


def test_free_events_are_ignored_and_private_ones_are_busy_without_a_title() -> None:
    intervals = expand(
        feed("free_and_private.ics"), start=utc(2026, 3, 24), end=utc(2026, 3, 25), zone=UTC
    )
    assert [(i.start.hour, i.private, i.title) for i in intervals] == [
        (10, True, None),  # CLASS:PRIVATE
        (12, True, None),  # CLASS:CONFIDENTIAL
        (14, False, "Design review with the team"),  # one line, runs of space folded
        (16, False, None),  # no SUMMARY
    ]
    text = repr(intervals)
    assert "Doctor" not in text and "Reorganisation" not in text


def test_shown_title_needs_the_opt_in_and_never_shows_a_private_one() -> None:
    public = BusyInterval(utc(2026, 3, 24, 9), utc(2026, 3, 24, 10), title="Review")
    private = BusyInterval(utc(2026, 3, 24, 9), utc(2026, 3, 24, 10), title=None, private=True)
    assert public.shown_title(True) == "Review"
    assert public.shown_title(False) is None
    assert private.shown_title(True) is None


def test_an_event_overlapping_the_window_edge_is_kept_whole() -> None:
    intervals = expand(
        feed("back_to_back.ics"),
        start=utc(2026, 3, 24, 12, 45),
        end=utc(2026, 3, 24, 13, 20),
        zone=UTC,
    )
    assert spans(intervals) == [
        (utc(2026, 3, 24, 12), utc(2026, 3, 24, 13)),
        (utc(2026, 3, 24, 12, 30), utc(2026, 3, 24, 13, 15)),
        (utc(2026, 3, 24, 13, 15), utc(2026, 3, 24, 13, 30)),
    ]


def test_a_long_title_is_cut_and_control_characters_are_dropped() -> None:
    title = "Plan \x1b[31mred\x1b[0m " + "x" * 300
    text = (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:t\r\nBEGIN:VEVENT\r\nUID:a\r\n"
        "DTSTART:20260324T090000Z\r\nDTEND:20260324T100000Z\r\n"
        f"SUMMARY:{title}\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
    )
    [interval] = expand(text, start=utc(2026, 3, 24), end=utc(2026, 3, 25), zone=UTC)
    assert interval.title is not None
    assert "\x1b" not in interval.title
    assert interval.title.startswith("Plan [31mred [0m xxx")
    assert len(interval.title) == 120 and interval.title.endswith("…")


def test_a_broken_series_is_skipped_and_the_rest_is_kept() -> None:
    text = (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:t\r\n"
        "BEGIN:VEVENT\r\nUID:broken\r\nDTSTART:20260324T090000Z\r\nDTEND:20260324T100000Z\r\n"
        "RRULE:FREQ=SOMETIMES\r\nSUMMARY:Broken\r\nEND:VEVENT\r\n"
        "BEGIN:VEVENT\r\nUID:fine\r\nDTSTART:20260324T110000Z\r\nDTEND:20260324T120000Z\r\n"
        "SUMMARY:Fine\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
    )
    intervals = expand(text, start=utc(2026, 3, 24), end=utc(2026, 3, 25), zone=UTC)
    assert [i.title for i in intervals] == ["Fine"]


def test_text_that_is_not_icalendar_is_refused_without_quoting_it() -> None:
    with pytest.raises(CalendarUnreadable) as refused:
        expand(
            "<html>secret-marker-1234</html>",
            start=utc(2026, 3, 24),
            end=utc(2026, 3, 25),
            zone=UTC,
        )
    assert "secret-marker-1234" not in str(refused.value)
    assert "iCalendar" in str(refused.value)


def test_a_zero_length_event_is_not_busy() -> None:
    text = (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:t\r\nBEGIN:VEVENT\r\nUID:a\r\n"
        "DTSTART:20260324T090000Z\r\nSUMMARY:Reminder\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
    )
    assert expand(text, start=utc(2026, 3, 24), end=utc(2026, 3, 25), zone=UTC) == []
