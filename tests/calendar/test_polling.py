"""When a feed is fetched again: backoff for a failing feed, the interval for a healthy one,
and a feed that fails and then recovers, polled through a real server."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from aiohttp import web
from hypothesis import given
from hypothesis import strategies as st

from bot.automation.calendar import (
    AddressPolicy,
    CalendarUrl,
    FeedFetcher,
    FeedHTTPError,
    FeedLimits,
    FeedState,
    FeedTimeout,
    PollPolicy,
    Validators,
    poll,
    poll_delay,
)
from tests.calendar.conftest import FeedServer, feed_text

NOW = datetime(2026, 3, 24, 9, 0, tzinfo=UTC)
STEADY = PollPolicy(jitter=0)
WEEKLY = feed_text("weekly_berlin_dst.ics")


def test_a_healthy_feed_waits_the_interval() -> None:
    assert poll_delay(0, STEADY) == timedelta(minutes=15)


def test_failures_double_the_wait_up_to_the_cap() -> None:
    delays = [poll_delay(failures, STEADY) for failures in range(1, 12)]
    minutes = [delay / timedelta(minutes=1) for delay in delays]
    assert minutes == [1, 2, 4, 8, 16, 32, 64, 128, 256, 360, 360]


def test_a_servers_retry_after_is_respected_within_the_cap() -> None:
    assert poll_delay(1, STEADY, retry_after=600) == timedelta(minutes=10)
    assert poll_delay(8, STEADY, retry_after=600) == timedelta(minutes=128)
    assert poll_delay(1, STEADY, retry_after=10**9) == timedelta(hours=6)


@given(failures=st.integers(min_value=0, max_value=10_000), key=st.text(max_size=20))
def test_jitter_adds_at_most_its_fraction_and_is_stable_per_feed(failures: int, key: str) -> None:
    policy = PollPolicy(jitter=0.1)
    base = poll_delay(failures, STEADY)
    delay = poll_delay(failures, policy, key=key)
    assert base <= delay <= base * 1.1
    assert delay == poll_delay(failures, policy, key=key)


@given(failures=st.integers(min_value=1, max_value=10_000))
def test_the_wait_never_shrinks_as_failures_grow(failures: int) -> None:
    assert poll_delay(failures + 1, STEADY) >= poll_delay(failures, STEADY)


def test_jitter_spreads_different_feeds() -> None:
    delays = {poll_delay(0, PollPolicy(), key=f"user-{n}") for n in range(50)}
    assert len(delays) > 40


def test_the_state_survives_a_round_trip_through_storage() -> None:
    state = FeedState(
        validators=Validators('"v1"', "Mon, 23 Mar 2026 08:00:00 GMT"),
        next_attempt=NOW + timedelta(minutes=4),
        failures=3,
        last_success=NOW - timedelta(hours=1),
        last_error="the calendar server answered 500: it has a problem on its side",
        expanded_until=NOW + timedelta(hours=30),
    )
    assert FeedState.from_record(state.as_record()) == state
    assert FeedState.from_record(FeedState().as_record()) == FeedState()


def test_a_feed_that_could_not_be_read_forgets_its_validators() -> None:
    state = FeedState(validators=Validators('"v1"'))
    error = FeedTimeout("no answer")
    assert state.failed(NOW, error, STEADY).validators == Validators('"v1"')
    assert state.failed(NOW, error, STEADY, forget_validators=True).validators == Validators()


def test_a_new_feed_is_due_at_once_and_then_at_its_next_attempt() -> None:
    state = FeedState()
    assert state.due(NOW)
    later = state.succeeded(NOW, Validators(), STEADY)
    assert not later.due(NOW + timedelta(minutes=14))
    assert later.due(NOW + timedelta(minutes=15))


async def test_a_feed_that_fails_then_recovers(feed_server: FeedServer) -> None:
    answers = iter([503, 500, 200, 304])

    async def flaky(request: web.Request) -> web.Response:
        status = next(answers)
        if status == 503:
            return web.Response(status=503, headers={"Retry-After": "300"})
        if status == 500:
            return web.Response(status=500)
        if status == 304 and request.headers.get("If-None-Match") == '"v7"':
            return web.Response(status=304, headers={"ETag": '"v7"'})
        return web.Response(text=WEEKLY, content_type="text/calendar", headers={"ETag": '"v7"'})

    url = CalendarUrl(feed_server.add("/cal.ics", flaky))
    policy = AddressPolicy(allow_private_networks=True)
    async with FeedFetcher(policy=policy, limits=FeedLimits(total_seconds=5)) as feeds:
        first = await poll(feeds, url, FeedState(), NOW, STEADY)
        assert isinstance(first.error, FeedHTTPError) and first.error.status == 503
        assert first.state.failures == 1
        at = NOW + timedelta(minutes=5)  # the server's wish beats the first minute
        assert first.state.next_attempt == at
        assert first.state.last_error is not None and "503" in first.state.last_error

        second = await poll(feeds, url, first.state, at, STEADY)
        assert second.state.failures == 2
        at += timedelta(minutes=2)
        assert second.state.next_attempt == at

        third = await poll(feeds, url, second.state, at, STEADY)
        assert third.error is None and third.content is not None
        assert third.state == FeedState(
            validators=Validators('"v7"'),
            next_attempt=at + timedelta(minutes=15),
            failures=0,
            last_success=at,
            last_error=None,
        )

        kept = third.state.expanded(at + timedelta(hours=36))
        at += timedelta(minutes=15)
        fourth = await poll(feeds, url, kept, at, STEADY)
        assert fourth.unchanged
        assert fourth.state.last_success == at
        assert fourth.state.expanded_until == kept.expanded_until


async def test_a_whole_copy_is_fetched_when_the_kept_intervals_run_short(
    feed_server: FeedServer,
) -> None:
    async def honours_etag(request: web.Request) -> web.Response:
        if request.headers.get("If-None-Match") == '"v1"':
            return web.Response(status=304)
        return web.Response(text=WEEKLY, content_type="text/calendar", headers={"ETag": '"v1"'})

    url = CalendarUrl(feed_server.add("/cal.ics", honours_etag))
    policy = AddressPolicy(allow_private_networks=True)
    async with FeedFetcher(policy=policy) as feeds:
        first = await poll(feeds, url, FeedState(), NOW, STEADY)
        assert first.content is not None
        state = first.state.expanded(NOW + timedelta(hours=36))
        # 11 hours on, 25 hours of intervals are left: a 304 will do.
        soon = await poll(feeds, url, state, NOW + timedelta(hours=11), STEADY)
        assert soon.unchanged
        # 13 hours on, 23 hours are left: the whole calendar, to expand further ahead.
        later = await poll(feeds, url, soon.state, NOW + timedelta(hours=13), STEADY)
        assert later.content is not None
    sent = [request.headers.get("If-None-Match") for request in feed_server.seen("/cal.ics")]
    assert sent == [None, '"v1"', None]
