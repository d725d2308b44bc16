"""Calendar-driven status (`/calendar`), end to end on the injected clock: feeds served by a
local aiohttp server from the ICS files in tests/calendar/feeds (recurrence, an exception, a
cancelled instance, time zones, a daylight-saving change, all-day, free and private events),
a feed that fails and recovers, one that stops answering, the address refused and deleted
outside the 1:1 DM, a restart mid-meeting, and Rocket.Chat 8.6's own expiry.

The ManualClock is moved to the week of Monday 23 March 2026, the week the feeds are about;
the configured zone is Europe/Berlin (UTC+1, UTC+2 from Sunday 29 March). Rocket.Chat 7.x lets
a person change their status text 5 times a minute, so each person changes it at most 5 times.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from sandbox.people import Person
from tests.calendar.conftest import FeedServer, feed_text
from tests.e2e.conftest import (
    BOT_NAME,
    ClockedWorld,
    advance,
    ask_bot,
    automation_world,
    delegate,
    each_release,
    status_of,
)
from tests.rest_helpers import sandbox_call

WORKING = ("online", "Writing docs")
STANDUP = ("busy", "In a meeting until 10:15")
CALENDAR = {"allow_private_networks": True, "fetch_seconds": 1.0}
FEEDS = Path(__file__).parent / "feeds"


def utc(day: int, hour: int, minute: int = 0, month: int = 3) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=UTC)


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[ClockedWorld]:
    async with automation_world(
        tmp_path, default_timezone="Europe/Berlin", calendar=CALENDAR
    ) as running:
        yield running


class Feed:
    """One ICS file served with an ETag (304 when it matches), or failing on demand."""

    def __init__(self, server: FeedServer, path: str, text: str) -> None:
        self.text = text
        self.failing = 0  # answer 503 this many times
        self.silent = False  # never answer
        self.url = server.add(path, self.handle)
        self._server = server

    async def handle(self, request: web.Request) -> web.StreamResponse:
        if self.silent:
            await self._server.release.wait()
        if self.failing:
            self.failing -= 1
            return web.Response(status=503, text="down")
        etag = f'"{hash(self.text) & 0xFFFFFFFF:x}"'
        if request.headers.get("If-None-Match") == etag:
            return web.Response(status=304, headers={"ETag": etag})
        return web.Response(text=self.text, content_type="text/calendar", headers={"ETag": etag})


def serve(server: FeedServer, name: str, *, secret: str = "s3cret-7f2a") -> Feed:
    return Feed(server, f"/private-{secret}/{name}", feed_text(name))


async def ready(world: ClockedWorld, name: str, status: tuple[str, str] = WORKING) -> Person:
    """A person with a token and a status of their own, set in their client."""
    person = await world.person(name)
    assert "stored" in await delegate(person)
    await person.rest("POST", "users.setStatus", json={"status": status[0], "message": status[1]})
    return person


async def connect(person: Person, feed: Feed) -> str:
    return await ask_bot(person, f"/calendar set {feed.url}", timeout=15)


async def in_the_standup(world: ClockedWorld, server: FeedServer, name: str) -> Person:
    """A person whose calendar is connected, in Monday's standup (09:00-09:15 UTC)."""
    await advance(world, to=utc(23, 8, 55))
    person = await ready(world, name)
    await connect(person, serve(server, "recurrence_exceptions.ics"))
    await advance(world, to=utc(23, 9, 1))
    assert await status_of(person) == STANDUP
    return person


async def test_meetings_follow_recurrence_with_an_exception_a_move_and_a_cancellation(
    world: ClockedWorld, feed_server: FeedServer
) -> None:
    await advance(world, to=utc(23, 7, 30))
    alice = await ready(world, "alice")
    feed = serve(feed_server, "recurrence_exceptions.ics")
    room = await alice.direct_room(BOT_NAME)

    answer = await connect(alice, feed)

    assert "3 meetings today, next at 10:00" in answer
    assert "s3cret" not in answer and "deleted your message" in answer
    history = await alice.rest("GET", "im.history", params={"roomId": room, "count": "50"})
    assert not any("s3cret" in str(m.get("msg", "")) for m in history["messages"])
    await advance(world, to=utc(23, 9))  # the daily standup, 09:00-09:15 UTC
    assert await status_of(alice) == ("busy", "In a meeting until 10:15")
    await advance(world, to=utc(23, 9, 15))
    assert await status_of(alice) == WORKING
    await advance(world, to=utc(24, 9, 5))  # EXDATE: no standup on Tuesday
    assert await status_of(alice) == WORKING
    await advance(world, to=utc(25, 11, 10))  # Wednesday's moved to 11:00-11:30 UTC
    assert await status_of(alice) == ("busy", "In a meeting until 12:30")
    await advance(world, to=utc(25, 11, 30))
    assert await status_of(alice) == WORKING
    await advance(world, to=utc(26, 9, 5))  # Thursday's is cancelled
    assert await status_of(alice) == WORKING
    assert len(feed_server.seen(feed.url.split(str(feed_server.port))[1])) > 2
    revalidated = [r for r in feed_server.requests if "If-None-Match" in r.headers]
    assert revalidated  # conditional requests between the whole fetches


async def test_free_time_is_ignored_private_titles_never_shown_titles_only_on_request(
    world: ClockedWorld, feed_server: FeedServer
) -> None:
    await advance(world, to=utc(24, 7, 30))
    bob = await ready(world, "bob")
    await connect(bob, serve(feed_server, "free_and_private.ics"))
    assert "title" in await ask_bot(bob, "/calendar titles on", timeout=15)

    await advance(world, to=utc(24, 8, 10))  # transparent "focus time"
    assert await status_of(bob) == WORKING
    await advance(world, to=utc(24, 9, 10))  # Outlook's BUSYSTATUS FREE
    assert await status_of(bob) == WORKING
    await advance(world, to=utc(24, 10, 10))  # CLASS:PRIVATE: busy, without its title
    assert await status_of(bob) == ("busy", "In a meeting until 12:00")
    await advance(world, to=utc(24, 14, 10))  # public, titles on
    assert await status_of(bob) == (
        "busy",
        "In a meeting until 16:00: Design review with the team",
    )
    await advance(world, to=utc(24, 15))
    assert await status_of(bob) == WORKING


async def test_time_zones_and_the_daylight_saving_change_keep_meetings_at_local_time(
    world: ClockedWorld, feed_server: FeedServer
) -> None:
    await advance(world, to=utc(23, 7, 30))
    carol = await ready(world, "carol")
    await connect(carol, serve(feed_server, "weekly_berlin_dst.ics"))

    await advance(world, to=utc(23, 8, 5))  # 09:05 in Berlin (CET)
    assert await status_of(carol) == ("busy", "In a meeting until 09:30")
    await advance(world, to=utc(23, 8, 30))
    assert await status_of(carol) == WORKING
    await advance(world, to=utc(30, 7, 5))  # 09:05 in Berlin (CEST, since Sunday)
    assert await status_of(carol) == ("busy", "In a meeting until 09:30")
    await advance(world, to=utc(30, 7, 30))
    assert await status_of(carol) == WORKING


async def test_an_all_day_event_starts_an_out_of_office_only_when_chosen(
    world: ClockedWorld, feed_server: FeedServer
) -> None:
    await advance(world, to=utc(24, 22, 0))
    dave = await ready(world, "dave")
    answer = await connect(dave, serve(feed_server, "all_day.ics"))
    assert "no meetings today" in answer
    await advance(world, to=utc(25, 8))  # the offsite, all day on the 25th: not chosen
    assert await status_of(dave) == WORKING

    assert "out of office" in await ask_bot(dave, "/calendar allday on", timeout=15)
    await advance(world, to=utc(25, 8, 1))
    presence, text = await status_of(dave)
    assert presence == "away" and "Offsite" not in text  # titles are off
    await advance(world, to=utc(26, 0, 5))  # midnight in Berlin: the day is over
    assert await status_of(dave) == WORKING


async def test_a_failing_feed_is_retried_with_backoff_and_recovers(
    world: ClockedWorld, feed_server: FeedServer
) -> None:
    await advance(world, to=utc(23, 7, 30))
    erin = await ready(world, "erin")
    feed = serve(feed_server, "recurrence_exceptions.ics")
    feed.failing = 2

    answer = await connect(erin, feed)

    assert "the first fetch failed: the calendar server answered 503" in answer
    status = await ask_bot(erin, "/calendar status")
    assert "503" in status and "1 in a row" in status and "s3cret" not in status
    await advance(world, 70)  # first retry after a minute (and a jitter): fails again
    assert "2 in a row" in await ask_bot(erin, "/calendar status")
    await advance(world, 140)  # then after two
    status = await ask_bot(erin, "/calendar status")
    assert "last fetched" in status.lower() and "failed" not in status
    await advance(world, to=utc(23, 9, 1))
    assert await status_of(erin) == ("busy", "In a meeting until 10:15")


async def test_a_feed_that_stops_answering_keeps_the_meetings_already_known(
    world: ClockedWorld, feed_server: FeedServer
) -> None:
    await advance(world, to=utc(23, 7, 30))
    fay = await ready(world, "fay")
    feed = serve(feed_server, "recurrence_exceptions.ics")
    await connect(fay, feed)
    feed.silent = True

    await advance(world, to=utc(23, 9, 1))
    assert await status_of(fay) == ("busy", "In a meeting until 10:15")
    status = await ask_bot(fay, "/calendar status")
    assert "no complete answer within 1 s" in status
    await advance(world, to=utc(23, 9, 15))
    assert await status_of(fay) == WORKING


async def test_an_address_posted_in_a_channel_or_a_group_dm_is_refused_and_deleted(
    world: ClockedWorld, feed_server: FeedServer
) -> None:
    gus = await ready(world, "gus")
    await world.person("hal")
    feed = serve(feed_server, "recurrence_exceptions.ics")
    dm = await gus.direct_room(BOT_NAME)
    group = (await gus.call("createDirectMessage", "hal", BOT_NAME))["rid"]
    for room, history, command in (
        ("GENERAL", "channels.history", "/calendar set"),
        (group, "im.history", "/calendar set"),
        ("GENERAL", "channels.history", "!calender set"),  # a near miss: taken back too
    ):
        mark = gus.heard_count
        message_id = await gus.say(room, f"{command} {feed.url}")
        warning = await gus.hear(
            lambda m: m["rid"] == dm and m["u"]["username"] == BOT_NAME, after=mark
        )
        assert "never post a calendar address" in warning["msg"]
        assert "leaked" in warning["msg"] and "s3cret" not in warning["msg"]
        found = await gus.rest("GET", history, params={"roomId": room, "count": "100"})
        assert message_id not in {m["_id"] for m in found["messages"]}
    assert "no calendar connected" in await ask_bot(gus, "/calendar status")
    assert not feed_server.requests  # never fetched


async def test_an_address_on_a_private_network_is_refused_unless_the_admin_allows_it(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    async with automation_world(tmp_path, default_timezone="Europe/Berlin") as world:
        ivy = await ready(world, "ivy")
        answer = await connect(ivy, serve(feed_server, "recurrence_exceptions.ics"))
        assert "did not keep that calendar" in answer and "127.0.0.1" in answer
        assert "s3cret" not in answer
        assert not feed_server.requests
        assert "no calendar connected" in await ask_bot(ivy, "/calendar status")


async def test_calendar_off_forgets_the_address_and_ends_a_meeting_status(
    world: ClockedWorld, feed_server: FeedServer
) -> None:
    ida = await in_the_standup(world, feed_server, "ida")

    answer = await ask_bot(ida, "/calendar off")

    assert "deleted your calendar address" in answer and "back to what it was" in answer
    assert await status_of(ida) == WORKING
    assert "no calendar connected" in await ask_bot(ida, "/calendar status")


async def test_a_restart_mid_meeting_puts_the_status_back_when_the_meeting_ends(
    world: ClockedWorld, feed_server: FeedServer
) -> None:
    jo = await in_the_standup(world, feed_server, "jo")

    await world.restart_bot()
    await advance(world, 60)
    assert await status_of(jo) == ("busy", "In a meeting until 10:15")
    await advance(world, to=utc(23, 9, 15))
    assert await status_of(jo) == WORKING


async def test_a_token_revoked_during_a_meeting_is_told_once_in_the_dm(
    world: ClockedWorld, feed_server: FeedServer
) -> None:
    kim = await in_the_standup(world, feed_server, "kim")
    await kim.rest("POST", "users.removePersonalAccessToken", json={"tokenName": "profile-bot"})
    dm = await kim.direct_room(BOT_NAME)
    mark = kim.heard_count

    await advance(world, to=utc(23, 9, 15))
    await advance(world, to=utc(24, 9, 1))  # the next standup: no second message

    told = [
        m
        for m in kim.heard()[mark:]
        if m["rid"] == dm and "could not change your status for your calendar" in m["msg"]
    ]
    assert len({m["_id"] for m in told}) == 1
    assert "token" in told[0]["msg"]


# -- Rocket.Chat 8.6: the server's own expiry ends the meeting status --------------------------


def meeting_ics(start: datetime, minutes: int) -> str:
    template = (FEEDS / "one_meeting.ics").read_text(encoding="utf-8")
    end = start + timedelta(minutes=minutes)
    return template.format(start=f"{start:%Y%m%dT%H%M%SZ}", end=f"{end:%Y%m%dT%H%M%SZ}")


@each_release
async def test_a_meeting_status_ends_on_each_release(
    tmp_path: Path, rc_version: str, feed_server: FeedServer
) -> None:
    async with automation_world(
        tmp_path, rc_version=rc_version, server_time=True, calendar=CALENDAR
    ) as world:
        lea = await ready(world, "lea")
        start = (world.clock.now() + timedelta(minutes=10)).replace(second=0, microsecond=0)
        feed = Feed(feed_server, "/private-86/one.ics", meeting_ics(start, 30))
        assert "1 meeting today" in await connect(lea, feed) or "next" in await ask_bot(
            lea, "/calendar status"
        )
        await advance(world, to=start + timedelta(minutes=1))
        await move_server_clock(world, start + timedelta(minutes=1))
        presence, text = await status_of(lea)
        assert presence == "busy" and text.startswith("In a meeting until")
        profile: dict[str, Any] = await lea.profile()
        if rc_version.startswith("8."):
            assert profile.get("statusExpiresAt")  # every client shows "Until …"
        end = start + timedelta(minutes=30)
        await move_server_clock(world, end)
        await advance(world, to=end)
        assert await status_of(lea) == WORKING


async def move_server_clock(world: ClockedWorld, to: datetime) -> None:
    await sandbox_call(world.url, "POST", "/sandbox/clock", {"to": to.isoformat()})
