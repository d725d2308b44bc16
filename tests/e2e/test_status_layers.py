"""Status layers end to end: a status set by hand wins over out of office, which wins over the
calendar, which wins over rules; when a layer ends the one below comes back, and nothing the
person set by hand is overwritten.

Monday 23 March 2026 in tests/calendar/feeds/recurrence_exceptions.ics: standup 09:00-09:15,
review 13:00-14:00 and a pair 17:00-17:45 (UTC); Berlin is UTC+1. Each person changes their
status text at most 5 times (Rocket.Chat 7.x's limiter), counting their own first one.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from sandbox.people import Person
from tests.calendar.conftest import FeedServer
from tests.e2e.conftest import ClockedWorld, advance, ask_bot, automation_world, status_of
from tests.e2e.test_calendar import (
    CALENDAR,
    WORKING,
    Feed,
    connect,
    meeting_ics,
    ready,
    serve,
)

REVIEW = ("busy", "In a meeting until 15:00")
FOCUS = ("away", "Focus block")
RULES: list[dict[str, Any]] = [
    {
        "name": "focus",
        "trigger": {"schedule": "0 12 23 3 *", "timezone": "UTC"},
        "users": {"usernames": ["ann"]},
        "change": {"status": "away", "status_text": "Focus block", "for": "4h"},
    },
    {
        "name": "late-focus",
        "trigger": {"schedule": "30 13 23 3 *", "timezone": "UTC"},
        "users": {"usernames": ["ben"]},
        "change": {"status": "away", "status_text": "Focus block", "for": "1h"},
    },
]


def at(hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 3, 23, hour, minute, tzinfo=UTC)


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[ClockedWorld]:
    async with automation_world(
        tmp_path, default_timezone="Europe/Berlin", calendar=CALENDAR, rules=RULES
    ) as running:
        await advance(running, to=at(11))
        yield running


async def with_calendar(world: ClockedWorld, server: FeedServer, name: str) -> Person:
    person = await ready(world, name)
    await connect(person, serve(server, "recurrence_exceptions.ics", secret=name))
    return person


async def test_a_meeting_covers_a_rule_and_the_rule_comes_back_after_it(
    world: ClockedWorld, feed_server: FeedServer
) -> None:
    ann = await with_calendar(world, feed_server, "ann")
    await advance(world, to=at(12, 1))
    assert await status_of(ann) == FOCUS
    await advance(world, to=at(13, 1))
    assert await status_of(ann) == REVIEW
    await advance(world, to=at(14))
    assert await status_of(ann) == FOCUS  # the rule's 4 hours are not over
    await advance(world, to=at(16, 5))  # 4 hours after it fired (at 12:01)
    assert await status_of(ann) == WORKING


async def test_a_rule_that_fires_during_a_meeting_waits_for_its_end(
    world: ClockedWorld, feed_server: FeedServer
) -> None:
    ben = await with_calendar(world, feed_server, "ben")
    await advance(world, to=at(13, 1))
    assert await status_of(ben) == REVIEW
    await advance(world, to=at(13, 31))
    assert await status_of(ben) == REVIEW
    await advance(world, to=at(14))
    assert await status_of(ben) == FOCUS
    await advance(world, to=at(14, 35))  # an hour after it fired (at 13:31)
    assert await status_of(ben) == WORKING


async def test_out_of_office_wins_over_a_meeting_which_comes_back_after_it(
    world: ClockedWorld, feed_server: FeedServer
) -> None:
    cy = await with_calendar(world, feed_server, "cy")
    await advance(world, to=at(13, 1))
    assert await status_of(cy) == REVIEW
    await ask_bot(cy, "/ooo for 30m Dentist", timeout=15)
    presence, text = await status_of(cy)
    assert presence == "away" and "Out of office" in text
    await advance(world, to=at(13, 32))
    assert await status_of(cy) == REVIEW
    await advance(world, to=at(14))
    assert await status_of(cy) == WORKING


async def test_a_meeting_during_out_of_office_changes_nothing(
    world: ClockedWorld, feed_server: FeedServer
) -> None:
    di = await with_calendar(world, feed_server, "di")
    await ask_bot(di, "/ooo for 4h Training", timeout=15)
    away = await status_of(di)
    assert away[0] == "away"
    await advance(world, to=at(13, 1))
    assert await status_of(di) == away
    await advance(world, to=at(14, 1))
    assert await status_of(di) == away
    await advance(world, to=at(15, 1))
    assert await status_of(di) == WORKING


async def test_a_status_set_for_a_while_wins_over_a_meeting_which_comes_back_after_it(
    world: ClockedWorld, feed_server: FeedServer
) -> None:
    ed = await with_calendar(world, feed_server, "ed")
    await advance(world, to=at(13, 1))
    assert await status_of(ed) == REVIEW
    await ask_bot(ed, "/status away Coffee for 20m")
    assert await status_of(ed) == ("away", "Coffee")
    await advance(world, to=at(13, 21))
    assert await status_of(ed) == REVIEW
    await advance(world, to=at(14))
    assert await status_of(ed) == WORKING


async def test_a_status_set_by_hand_during_a_meeting_is_never_overwritten(
    world: ClockedWorld, feed_server: FeedServer
) -> None:
    flo = await with_calendar(world, feed_server, "flo")
    await advance(world, to=at(13, 1))
    assert await status_of(flo) == REVIEW
    await flo.rest("POST", "users.setStatus", json={"status": "busy", "message": "Customer call"})
    await advance(world, to=at(14))
    assert await status_of(flo) == ("busy", "Customer call")
    await advance(world, to=at(17, 1))  # the next meeting shows, and then gives it back
    assert await status_of(flo) == ("busy", "In a meeting until 18:45")
    await advance(world, to=at(17, 45))
    assert await status_of(flo) == ("busy", "Customer call")


async def test_a_status_set_by_hand_stays_when_the_meeting_under_way_is_extended(
    world: ClockedWorld, feed_server: FeedServer
) -> None:
    gil = await ready(world, "gil")
    feed = Feed(feed_server, "/private-gil/one.ics", meeting_ics(at(13), 30))
    await connect(gil, feed)
    await advance(world, to=at(13, 1))
    assert await status_of(gil) == ("busy", "In a meeting until 14:30")
    await gil.rest("POST", "users.setStatus", json={"status": "away", "message": "Stepped out"})
    feed.text = meeting_ics(at(13), 60)  # the meeting now runs until 14:00 UTC

    await advance(world, to=at(13, 20))  # polled: the longer meeting is known
    assert await status_of(gil) == ("away", "Stepped out")
    await advance(world, to=at(14, 1))
    assert await status_of(gil) == ("away", "Stepped out")
