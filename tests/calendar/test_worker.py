"""Expansion in a child process with a deadline: the same answer as in-process, and a hostile
rule that would keep dateutil busy for seconds is cut off."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from bot.automation.calendar import CalendarUnreadable, expand, expand_within
from tests.calendar.conftest import feed_text

BERLIN = ZoneInfo("Europe/Berlin")
START = datetime(2026, 3, 20, tzinfo=UTC)
END = datetime(2026, 4, 8, tzinfo=UTC)


@pytest.mark.parametrize("name", ["weekly_berlin_dst.ics", "all_day.ics", "free_and_private.ics"])
async def test_the_child_gives_the_same_intervals_as_expand(name: str) -> None:
    text = feed_text(name)
    in_child = await expand_within(text, start=START, end=END, zone=BERLIN)
    assert in_child == expand(text, start=START, end=END, zone=BERLIN)
    assert in_child


async def test_a_rule_that_never_matches_is_cut_off_at_the_deadline() -> None:
    text = feed_text("never_matching_rule.ics")
    with pytest.raises(CalendarUnreadable, match="too complex to read within 0.5 s"):
        await expand_within(text, start=START, end=END, zone=BERLIN, seconds=0.5)


async def test_our_own_error_sentence_comes_back_from_the_child() -> None:
    with pytest.raises(CalendarUnreadable, match="not give a valid iCalendar") as refused:
        await expand_within("<html>body-marker-9</html>", start=START, end=END, zone=BERLIN)
    assert "body-marker" not in str(refused.value)


async def test_a_child_out_of_memory_is_a_sentence() -> None:
    hourly = feed_text("weekly_berlin_dst.ics").replace("FREQ=WEEKLY;BYDAY=MO", "FREQ=HOURLY")
    end = datetime(2027, 3, 20, tzinfo=UTC)  # some 8,760 occurrences, a few kB each
    with pytest.raises(CalendarUnreadable, match="memory"):
        await expand_within(hourly, start=START, end=end, zone=BERLIN, memory_bytes=16 * 1024**2)
