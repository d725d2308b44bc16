"""Fetching feeds over real sockets from a local server: content, conditional requests, the
caps on size, time and redirects, error sentences, bounded concurrency."""

from __future__ import annotations

import asyncio
import gzip
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
from aiohttp import web

from bot.automation.calendar import (
    AddressPolicy,
    CalendarUnreadable,
    CalendarUrl,
    FeedContent,
    FeedFetcher,
    FeedHTTPError,
    FeedLimits,
    FeedTimeout,
    FeedTooLarge,
    FeedTooManyRedirects,
    FeedUnchanged,
    FeedUnreachable,
    Validators,
)
from tests.calendar.conftest import FeedServer, Handler, NameResolver, feed_text

ALLOW_PRIVATE = AddressPolicy(allow_private_networks=True)
WEEKLY = feed_text("weekly_berlin_dst.ics")


@asynccontextmanager
async def fetcher(**limits: float) -> AsyncIterator[FeedFetcher]:
    async with FeedFetcher(
        limits=FeedLimits(**{"total_seconds": 5.0, **limits}),  # type: ignore[arg-type]
        policy=ALLOW_PRIVATE,
        resolver=NameResolver({"calendar.test": [["127.0.0.1"]]}),
    ) as opened:
        yield opened


def serve(body: str = WEEKLY, **headers: str) -> Handler:
    async def handler(request: web.Request) -> web.StreamResponse:
        return web.Response(text=body, content_type="text/calendar", headers=headers)

    return handler


def conditional(etag: str, last_modified: str, body: str = WEEKLY) -> Handler:
    """A server that honours If-None-Match and If-Modified-Since, as calendar hosts do."""

    async def handler(request: web.Request) -> web.StreamResponse:
        validators = {"ETag": etag, "Last-Modified": last_modified}
        if request.headers.get("If-None-Match") == etag or (
            "If-None-Match" not in request.headers
            and request.headers.get("If-Modified-Since") == last_modified
        ):
            return web.Response(status=304, headers=validators)
        return web.Response(text=body, content_type="text/calendar", headers=validators)

    return handler


async def test_a_calendar_arrives_with_its_validators(feed_server: FeedServer) -> None:
    url = feed_server.add(
        "/cal.ics", serve(ETag='"v1"', **{"Last-Modified": "Mon, 23 Mar 2026 08:00:00 GMT"})
    )
    async with fetcher() as feeds:
        result = await feeds.fetch(CalendarUrl(url))
    assert isinstance(result, FeedContent)
    assert result.text == WEEKLY
    assert result.validators == Validators('"v1"', "Mon, 23 Mar 2026 08:00:00 GMT")
    assert "BEGIN:VCALENDAR" not in repr(result)


async def test_the_validators_come_back_and_a_304_means_unchanged(feed_server: FeedServer) -> None:
    last_modified = "Mon, 23 Mar 2026 08:00:00 GMT"
    url = CalendarUrl(feed_server.add("/cal.ics", conditional('"v1"', last_modified)))
    async with fetcher() as feeds:
        first = await feeds.fetch(url)
        assert isinstance(first, FeedContent)
        second = await feeds.fetch(url, first.validators)
    assert second == FeedUnchanged(Validators('"v1"', last_modified))
    sent = feed_server.seen("/cal.ics")[1].headers
    assert sent["If-None-Match"] == '"v1"'
    assert sent["If-Modified-Since"] == last_modified
    assert "If-None-Match" not in feed_server.seen("/cal.ics")[0].headers


async def test_last_modified_alone_makes_a_conditional_request(feed_server: FeedServer) -> None:
    last_modified = "Mon, 23 Mar 2026 08:00:00 GMT"

    async def only_dates(request: web.Request) -> web.Response:
        if request.headers.get("If-Modified-Since") == last_modified:
            return web.Response(status=304)
        return web.Response(
            text=WEEKLY, content_type="text/calendar", headers={"Last-Modified": last_modified}
        )

    url = CalendarUrl(feed_server.add("/cal.ics", only_dates))
    async with fetcher() as feeds:
        first = await feeds.fetch(url)
        assert first.validators == Validators(None, last_modified)
        assert await feeds.fetch(url, first.validators) == FeedUnchanged(first.validators)


async def test_a_changed_calendar_comes_whole_with_new_validators(feed_server: FeedServer) -> None:
    url = CalendarUrl(
        feed_server.add("/cal.ics", conditional('"v2"', "Tue, 24 Mar 2026 08:00:00 GMT"))
    )
    async with fetcher() as feeds:
        result = await feeds.fetch(url, Validators('"v1"', "Mon, 23 Mar 2026 08:00:00 GMT"))
    assert isinstance(result, FeedContent)
    assert result.validators.etag == '"v2"'


async def test_the_size_cap_is_checked_while_the_body_streams(feed_server: FeedServer) -> None:
    sent: list[int] = []

    async def endless(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "text/calendar"})
        await response.prepare(request)
        await response.write(b"BEGIN:VCALENDAR\r\n")
        chunk = b"X-FILLER:" + b"x" * 65_000 + b"\r\n"
        try:
            for _ in range(2_000):  # 130 MB if nobody stops reading: bounded all the same
                await response.write(chunk)
                sent.append(len(chunk))
        except (ConnectionResetError, ConnectionError):
            pass
        return response

    url = CalendarUrl(feed_server.add("/huge.ics", endless))
    # A fetch that waited for the end would run into the 60 s limit instead.
    async with fetcher(max_bytes=1024 * 1024, total_seconds=60) as feeds:
        with pytest.raises(FeedTooLarge) as refused:
            await feeds.fetch(url)
    assert str(refused.value).startswith("the calendar is larger than 1 MiB")
    assert sum(sent) < 100 * 1024 * 1024


async def test_a_declared_length_over_the_cap_is_refused_before_reading(
    feed_server: FeedServer,
) -> None:
    url = CalendarUrl(feed_server.add("/big.ics", serve("BEGIN:VCALENDAR\r\n" + "x" * 3_000_000)))
    async with fetcher() as feeds:
        with pytest.raises(FeedTooLarge, match="larger than 2 MiB"):
            await feeds.fetch(url)


async def test_a_compressed_body_is_capped_by_its_inflated_size(feed_server: FeedServer) -> None:
    inflated = b"BEGIN:VCALENDAR\r\n" + b"X" * (3 * 1024 * 1024)
    packed = gzip.compress(inflated)
    assert len(packed) < 64 * 1024

    async def bomb(request: web.Request) -> web.Response:
        return web.Response(
            body=packed,
            headers={"Content-Type": "text/calendar", "Content-Encoding": "gzip"},
        )

    url = CalendarUrl(feed_server.add("/bomb.ics", bomb))
    async with fetcher() as feeds:
        with pytest.raises(FeedTooLarge):
            await feeds.fetch(url)


async def test_a_server_that_never_answers_runs_into_the_time_limit(
    feed_server: FeedServer,
) -> None:
    async def silent(request: web.Request) -> web.Response:
        await feed_server.release.wait()
        return web.Response(text=WEEKLY)

    url = CalendarUrl(feed_server.add("/silent.ics", silent))
    async with fetcher(total_seconds=0.3) as feeds:
        with pytest.raises(FeedTimeout) as refused:
            await feeds.fetch(url)
    assert "no complete answer within 0.3 s" in str(refused.value)


async def test_a_server_that_stops_halfway_through_the_body_times_out(
    feed_server: FeedServer,
) -> None:
    async def stalls(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "text/calendar"})
        await response.prepare(request)
        await response.write(b"BEGIN:VCALENDAR\r\n")
        await feed_server.release.wait()
        return response

    url = CalendarUrl(feed_server.add("/stalls.ics", stalls))
    async with fetcher(total_seconds=0.3) as feeds:
        with pytest.raises(FeedTimeout):
            await feeds.fetch(url)


def redirect_chain(server: FeedServer, hops: int) -> str:
    """/hop0 -> /hop1 -> ... -> /hop{hops} which serves the calendar."""
    for hop in range(hops):
        target = f"/hop{hop + 1}"

        async def moved(request: web.Request, target: str = target) -> web.Response:
            raise web.HTTPFound(target)

        server.add(f"/hop{hop}", moved)
    server.add(f"/hop{hops}", serve())
    return server.url("/hop0")


async def test_three_redirects_are_followed(feed_server: FeedServer) -> None:
    url = CalendarUrl(redirect_chain(feed_server, 3))
    async with fetcher() as feeds:
        result = await feeds.fetch(url)
    assert isinstance(result, FeedContent)
    assert [r.path for r in feed_server.requests] == ["/hop0", "/hop1", "/hop2", "/hop3"]


async def test_a_fourth_redirect_is_refused_and_not_followed(feed_server: FeedServer) -> None:
    url = CalendarUrl(redirect_chain(feed_server, 4))
    async with fetcher() as feeds:
        with pytest.raises(FeedTooManyRedirects, match="redirects more than 3 times"):
            await feeds.fetch(url)
    assert not feed_server.seen("/hop4")


async def test_a_relative_permanent_redirect_is_followed(feed_server: FeedServer) -> None:
    async def moved(request: web.Request) -> web.Response:
        raise web.HTTPPermanentRedirect("new/cal.ics")

    feed_server.add("/old/cal.ics", moved)
    feed_server.add("/old/new/cal.ics", serve())
    async with fetcher() as feeds:
        result = await feeds.fetch(CalendarUrl(feed_server.url("/old/cal.ics")))
    assert isinstance(result, FeedContent)


@pytest.mark.parametrize(
    ("status", "advice"),
    [
        (404, "answered 404: check the address"),
        (410, "answered 410: check the address"),
        (401, "answered 401: the address needs a login"),
        (403, "answered 403: the address needs a login"),
        (500, "answered 500: it has a problem on its side"),
        (400, "answered 400: check the address"),
    ],
)
async def test_an_error_status_becomes_a_sentence_without_the_body(
    feed_server: FeedServer, status: int, advice: str
) -> None:
    async def failing(request: web.Request) -> web.Response:
        return web.Response(status=status, text="server said body-marker-77")

    url = CalendarUrl(feed_server.add("/cal.ics", failing))
    async with fetcher() as feeds:
        with pytest.raises(FeedHTTPError) as failed:
            await feeds.fetch(url)
    assert failed.value.status == status
    assert advice in str(failed.value)
    assert "body-marker" not in str(failed.value)


async def test_retry_after_is_read_from_a_429(feed_server: FeedServer) -> None:
    async def busy(request: web.Request) -> web.Response:
        return web.Response(status=429, headers={"Retry-After": "120"})

    url = CalendarUrl(feed_server.add("/cal.ics", busy))
    async with fetcher() as feeds:
        with pytest.raises(FeedHTTPError) as failed:
            await feeds.fetch(url)
    assert failed.value.retry_after == 120


async def test_retry_after_as_a_date_is_measured_from_the_servers_clock(
    feed_server: FeedServer,
) -> None:
    async def busy(request: web.Request) -> web.Response:
        return web.Response(
            status=503,
            headers={
                "Date": "Tue, 24 Mar 2026 10:00:00 GMT",
                "Retry-After": "Tue, 24 Mar 2026 10:05:00 GMT",
            },
        )

    url = CalendarUrl(feed_server.add("/cal.ics", busy))
    async with fetcher() as feeds:
        with pytest.raises(FeedHTTPError) as failed:
            await feeds.fetch(url)
    assert failed.value.retry_after == 300


@pytest.mark.parametrize(
    ("content_type", "words"),
    [
        ("text/html", "gives a web page, not a calendar"),
        ("application/json", "gives application/json, not a calendar"),
        ("image/png", "gives image/png, not a calendar"),
    ],
)
async def test_a_body_of_the_wrong_type_is_refused_unread(
    feed_server: FeedServer, content_type: str, words: str
) -> None:
    async def page(request: web.Request) -> web.Response:
        return web.Response(text="<p>body-marker-55</p>", content_type=content_type)

    url = CalendarUrl(feed_server.add("/cal.ics", page))
    async with fetcher() as feeds:
        with pytest.raises(CalendarUnreadable) as refused:
            await feeds.fetch(url)
    assert words in str(refused.value)
    assert "body-marker" not in str(refused.value)


async def test_a_plain_text_body_that_is_no_calendar_is_refused(feed_server: FeedServer) -> None:
    async def text(request: web.Request) -> web.Response:
        return web.Response(text="Sign in to continue body-marker-56", content_type="text/plain")

    url = CalendarUrl(feed_server.add("/cal.ics", text))
    async with fetcher() as feeds:
        with pytest.raises(CalendarUnreadable, match="does not give an iCalendar file") as refused:
            await feeds.fetch(url)
    assert "body-marker" not in str(refused.value)


async def test_a_calendar_served_as_octet_stream_with_a_bom_is_accepted(
    feed_server: FeedServer,
) -> None:
    async def download(request: web.Request) -> web.Response:
        return web.Response(
            body=b"\xef\xbb\xbf" + WEEKLY.encode(), content_type="application/octet-stream"
        )

    url = CalendarUrl(feed_server.add("/cal.ics", download))
    async with fetcher() as feeds:
        result = await feeds.fetch(url)
    assert isinstance(result, FeedContent)


async def test_an_unknown_host_name_is_a_sentence(feed_server: FeedServer) -> None:
    async with fetcher() as feeds:
        with pytest.raises(FeedUnreachable, match="could not find the calendar server nowhere"):
            await feeds.fetch(CalendarUrl("https://nowhere.test/cal.ics"))


async def test_a_closed_port_is_a_sentence() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    async with fetcher() as feeds:
        with pytest.raises(FeedUnreachable, match="could not connect to the calendar server"):
            await feeds.fetch(CalendarUrl(f"http://127.0.0.1:{port}/cal.ics"))


async def test_a_host_name_reaches_the_server_through_the_resolver(
    feed_server: FeedServer,
) -> None:
    feed_server.add("/cal.ics", serve())
    async with fetcher() as feeds:
        result = await feeds.fetch(CalendarUrl(feed_server.url("/cal.ics", host="calendar.test")))
    assert isinstance(result, FeedContent)
    assert feed_server.seen("/cal.ics")[0].headers["Host"] == f"calendar.test:{feed_server.port}"


async def test_no_more_than_the_concurrency_limit_fetch_at_once(feed_server: FeedServer) -> None:
    in_flight = 0
    most = 0
    gate = asyncio.Event()

    async def slow(request: web.Request) -> web.Response:
        nonlocal in_flight, most
        in_flight += 1
        most = max(most, in_flight)
        await gate.wait()
        in_flight -= 1
        return web.Response(text=WEEKLY, content_type="text/calendar")

    feed_server.add("/cal.ics", slow)
    async with fetcher(concurrency=2) as feeds:
        tasks = [
            asyncio.create_task(feeds.fetch(CalendarUrl(feed_server.url(f"/cal.ics?n={n}"))))
            for n in range(6)
        ]
        while in_flight < 2:
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.2)  # room for a third to arrive, were it allowed to
        assert in_flight == 2
        gate.set()
        results = await asyncio.gather(*tasks)
    assert all(isinstance(result, FeedContent) for result in results)
    assert most == 2
    assert len(feed_server.seen("/cal.ics")) == 6


async def test_no_cookie_travels_from_one_feed_to_another(feed_server: FeedServer) -> None:
    async def sets_cookie(request: web.Request) -> web.Response:
        response = web.Response(text=WEEKLY, content_type="text/calendar")
        response.set_cookie("session", "alice-session")
        return response

    feed_server.add("/alice.ics", sets_cookie)
    feed_server.add("/bob.ics", serve())
    async with fetcher() as feeds:
        await feeds.fetch(CalendarUrl(feed_server.url("/alice.ics")))
        await feeds.fetch(CalendarUrl(feed_server.url("/bob.ics")))
    assert "Cookie" not in feed_server.seen("/bob.ics")[0].headers
