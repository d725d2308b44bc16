"""Hostile addresses: schemes, non-public networks after DNS and on every redirect, DNS
rebinding, cloud metadata, and credentials that never show in an error, a repr or a log."""

from __future__ import annotations

import ipaddress
import logging
import traceback
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
from aiohttp import web

from bot.automation.calendar import (
    AddressPolicy,
    CalendarError,
    CalendarUrl,
    FeedAddressRefused,
    FeedContent,
    FeedFetcher,
    FeedLimits,
    VettedResolver,
)
from tests.calendar.conftest import FeedServer, NameResolver, feed_text

WEEKLY = feed_text("weekly_berlin_dst.ics")
# The admin allows the test server's own address and nothing else: private networks stay off.
ONLY_TEST_SERVER = AddressPolicy(allowed_networks=(ipaddress.ip_network("127.0.0.1/32"),))


@asynccontextmanager
async def fetcher(
    policy: AddressPolicy, names: dict[str, list[list[str]]] | None = None, **limits: float
) -> AsyncIterator[FeedFetcher]:
    resolver = NameResolver(names or {}) if names is not None else None
    async with FeedFetcher(
        limits=FeedLimits(**{"total_seconds": 5.0, **limits}),  # type: ignore[arg-type]
        policy=policy,
        resolver=resolver,
    ) as opened:
        yield opened


async def calendar(request: web.Request) -> web.Response:
    return web.Response(text=WEEKLY, content_type="text/calendar")


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("127.0.0.1", "an address of this machine (loopback)"),
        ("127.8.9.10", "an address of this machine (loopback)"),
        ("::1", "an address of this machine (loopback)"),
        ("0.0.0.0", "an unspecified address"),
        ("::", "an unspecified address"),
        ("10.1.2.3", "an address on a private network"),
        ("172.16.0.1", "an address on a private network"),
        ("192.168.1.1", "an address on a private network"),
        ("fd12:3456::1", "an address on a private network"),
        ("169.254.10.10", "a link-local address"),
        ("fe80::1", "a link-local address"),
        ("224.0.0.1", "a multicast address"),
        ("ff02::1", "a multicast address"),
        ("100.64.0.1", "an address that is not public"),
        ("240.0.0.1", "an address on a private network"),
        ("::ffff:127.0.0.1", "an address of this machine (loopback)"),
        ("::ffff:10.0.0.1", "an address on a private network"),
        ("64:ff9b::a00:1", "an address on a private network"),
        ("2002:a00:1::", "an address on a private network"),
        ("169.254.169.254", "a cloud metadata address"),
        ("fd00:ec2::254", "a cloud metadata address"),
        ("100.100.100.200", "a cloud metadata address"),
    ],
)
def test_non_public_addresses_are_refused_by_default(address: str, reason: str) -> None:
    assert AddressPolicy().refusal(ipaddress.ip_address(address)) == reason


@pytest.mark.parametrize("address", ["93.184.215.14", "2606:2800:21f:cb07:6820:80da:af6b:8b2c"])
def test_public_addresses_are_allowed(address: str) -> None:
    assert AddressPolicy().refusal(ipaddress.ip_address(address)) is None


@pytest.mark.parametrize("address", ["169.254.169.254", "fd00:ec2::254", "::ffff:169.254.169.254"])
def test_metadata_addresses_stay_refused_when_private_networks_are_allowed(address: str) -> None:
    policy = AddressPolicy(allow_private_networks=True)
    assert policy.refusal(ipaddress.ip_address(address)) == "a cloud metadata address"
    with pytest.raises(FeedAddressRefused, match="cloud metadata"):
        policy.check_host(f"[{address}]" if ":" in address else address)


def test_allowed_networks_open_only_what_they_name() -> None:
    assert ONLY_TEST_SERVER.refusal(ipaddress.ip_address("127.0.0.1")) is None
    assert ONLY_TEST_SERVER.refusal(ipaddress.ip_address("127.0.0.2")) is not None
    assert ONLY_TEST_SERVER.refusal(ipaddress.ip_address("10.0.0.1")) is not None


async def test_the_resolver_refuses_names_that_lead_to_private_or_metadata_addresses() -> None:
    names = {
        "intranet.test": [["10.20.30.40"]],
        "metadata.test": [["169.254.169.254"]],
        "mixed.test": [["127.0.0.1", "192.168.1.5"]],
        "calendar.test": [["127.0.0.1"]],
    }
    resolver = VettedResolver(ONLY_TEST_SERVER, NameResolver(names))
    for name, words in [
        ("intranet.test", "10.20.30.40, an address on a private network"),
        ("metadata.test", "169.254.169.254, a cloud metadata address"),
        # One refused address refuses the name: the connector might try it.
        ("mixed.test", "192.168.1.5, an address on a private network"),
    ]:
        with pytest.raises(FeedAddressRefused, match=words):
            await resolver.resolve(name, 443)
    assert [result["host"] for result in await resolver.resolve("calendar.test", 443)] == [
        "127.0.0.1"
    ]


@pytest.mark.parametrize(
    "address",
    [
        "file:///etc/passwd",
        "ftp://calendar.example.com/cal.ics",
        "gopher://calendar.example.com/",
        "javascript:alert(1)",
        "data:text/calendar,BEGIN:VCALENDAR",
        "calendar.example.com/cal.ics",
        "http://",
        "https:///cal.ics",
        "http://[::1",
    ],
)
def test_addresses_that_are_not_http_are_refused(address: str) -> None:
    with pytest.raises(FeedAddressRefused):
        CalendarUrl(address)


def test_webcal_is_https_and_credentials_travel_apart() -> None:
    url = CalendarUrl("webcal://alice:s3cr3t@calendar.example.com/private-abc/basic.ics#frag")
    assert str(url.request_url) == "https://calendar.example.com/private-abc/basic.ics"
    assert url.request_headers() == {"Authorization": "Basic YWxpY2U6czNjcjN0"}
    assert url.get_secret_value().startswith("webcal://alice:s3cr3t@")
    assert repr(url) == "CalendarUrl(host='calendar.example.com')"
    assert "s3cr3t" not in str(url) and "private-abc" not in str(url)


async def test_loopback_is_refused_when_private_networks_are_off(feed_server: FeedServer) -> None:
    feed_server.add("/cal.ics", calendar)
    async with fetcher(AddressPolicy()) as feeds:
        for host in ("127.0.0.1", "[::1]", "[::ffff:127.0.0.1]"):
            with pytest.raises(FeedAddressRefused, match="this machine"):
                await feeds.fetch(CalendarUrl(feed_server.url("/cal.ics", host=host)))
    assert feed_server.requests == []


async def test_a_name_for_loopback_is_refused_after_dns(feed_server: FeedServer) -> None:
    """`localhost` through the system's own resolver: the name passes, its address does not."""
    feed_server.add("/cal.ics", calendar)
    async with fetcher(AddressPolicy()) as feeds:
        with pytest.raises(FeedAddressRefused, match="this machine"):
            await feeds.fetch(CalendarUrl(feed_server.url("/cal.ics", host="localhost")))
    assert feed_server.requests == []


async def test_private_networks_allowed_lets_the_same_fetch_through(
    feed_server: FeedServer,
) -> None:
    feed_server.add("/cal.ics", calendar)
    async with fetcher(AddressPolicy(allow_private_networks=True)) as feeds:
        result = await feeds.fetch(CalendarUrl(feed_server.url("/cal.ics", host="localhost")))
    assert isinstance(result, FeedContent)


@pytest.mark.parametrize("target_host", ["127.0.0.2", "[::1]", "loopback.test"])
async def test_a_redirect_to_a_private_address_is_refused_with_the_flag_off(
    feed_server: FeedServer, target_host: str
) -> None:
    async def moved(request: web.Request) -> web.Response:
        raise web.HTTPFound(feed_server.url("/inside.ics", host=target_host))

    feed_server.add("/cal.ics", moved)
    feed_server.add("/inside.ics", calendar)
    names = {"loopback.test": [["127.0.0.3"]]}
    async with fetcher(ONLY_TEST_SERVER, names) as feeds:
        with pytest.raises(FeedAddressRefused, match="this machine"):
            await feeds.fetch(CalendarUrl(feed_server.url("/cal.ics")))
    assert [request.path for request in feed_server.requests] == ["/cal.ics"]


async def test_a_redirect_to_another_scheme_is_refused(feed_server: FeedServer) -> None:
    async def moved(request: web.Request) -> web.Response:
        raise web.HTTPFound("file:///etc/passwd")

    feed_server.add("/cal.ics", moved)
    async with fetcher(ONLY_TEST_SERVER) as feeds:
        with pytest.raises(FeedAddressRefused, match="not http"):
            await feeds.fetch(CalendarUrl(feed_server.url("/cal.ics")))


async def test_dns_rebinding_gains_nothing(feed_server: FeedServer) -> None:
    """The name answers the allowed address once, then another: the connection is made to the
    address that was checked (127.0.0.2 has no server, so a second lookup would fail)."""
    feed_server.add("/cal.ics", calendar)
    names = {"rebind.test": [["127.0.0.1"], ["127.0.0.2"]]}
    resolver = NameResolver(names)
    async with FeedFetcher(policy=ONLY_TEST_SERVER, resolver=resolver) as feeds:
        result = await feeds.fetch(CalendarUrl(feed_server.url("/cal.ics", host="rebind.test")))
    assert isinstance(result, FeedContent)
    assert resolver.lookups == ["rebind.test"]
    assert len(feed_server.seen("/cal.ics")) == 1


SECRET_URL_PARTS = ("s3cr3t-pw", "private-token-abc")


def secret_url(server: FeedServer, path: str, host: str = "127.0.0.1") -> CalendarUrl:
    return CalendarUrl(f"http://alice:s3cr3t-pw@{host}:{server.port}/private-token-abc{path}")


def assert_no_secret(error: BaseException, caplog: pytest.LogCaptureFixture) -> None:
    shown = [str(error), repr(error), "".join(traceback.format_exception(error))]
    shown += [record.getMessage() for record in caplog.records]
    for text in shown:
        for secret in SECRET_URL_PARTS:
            assert secret not in text


async def test_credentials_in_the_address_log_in(feed_server: FeedServer) -> None:
    async def needs_login(request: web.Request) -> web.Response:
        if request.headers.get("Authorization") != "Basic YWxpY2U6czNjcjN0LXB3":
            return web.Response(status=401)
        return web.Response(text=WEEKLY, content_type="text/calendar")

    feed_server.add("/private-token-abc/basic.ics", needs_login)
    async with fetcher(ONLY_TEST_SERVER) as feeds:
        result = await feeds.fetch(secret_url(feed_server, "/basic.ics"))
    assert isinstance(result, FeedContent)


async def test_credentials_go_along_to_the_same_origin_only(feed_server: FeedServer) -> None:
    async def same(request: web.Request) -> web.Response:
        raise web.HTTPFound("/private-token-abc/moved.ics")

    async def other(request: web.Request) -> web.Response:
        raise web.HTTPFound(feed_server.url("/elsewhere.ics", host="other.test"))

    feed_server.add("/private-token-abc/same.ics", same)
    feed_server.add("/private-token-abc/moved.ics", calendar)
    feed_server.add("/private-token-abc/other.ics", other)
    feed_server.add("/elsewhere.ics", calendar)
    names = {"other.test": [["127.0.0.1"]]}
    async with fetcher(ONLY_TEST_SERVER, names) as feeds:
        await feeds.fetch(secret_url(feed_server, "/same.ics"))
        await feeds.fetch(secret_url(feed_server, "/other.ics"))
    assert "Authorization" in feed_server.seen("/private-token-abc/moved.ics")[0].headers
    assert "Authorization" not in feed_server.seen("/elsewhere.ics")[0].headers


async def test_credentials_and_secret_path_never_appear_in_errors_or_logs(
    feed_server: FeedServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)

    async def silent(request: web.Request) -> web.Response:
        await feed_server.release.wait()
        return web.Response()

    async def huge(request: web.Request) -> web.Response:
        return web.Response(text="BEGIN:VCALENDAR\r\n" + "x" * 5000, content_type="text/calendar")

    async def page(request: web.Request) -> web.Response:
        return web.Response(text="<p>hi</p>", content_type="text/html")

    async def loop(request: web.Request) -> web.Response:
        raise web.HTTPFound(request.path)

    feed_server.add("/private-token-abc/silent.ics", silent)
    feed_server.add("/private-token-abc/huge.ics", huge)
    feed_server.add("/private-token-abc/page.ics", page)
    feed_server.add("/private-token-abc/loop.ics", loop)
    cases = [
        (ONLY_TEST_SERVER, secret_url(feed_server, "/missing.ics")),  # 404
        (ONLY_TEST_SERVER, secret_url(feed_server, "/silent.ics")),  # timeout
        (ONLY_TEST_SERVER, secret_url(feed_server, "/huge.ics")),  # too large
        (ONLY_TEST_SERVER, secret_url(feed_server, "/page.ics")),  # not a calendar
        (ONLY_TEST_SERVER, secret_url(feed_server, "/loop.ics")),  # redirects
        (ONLY_TEST_SERVER, secret_url(feed_server, "/cal.ics", host="nowhere.test")),  # DNS
        (AddressPolicy(), secret_url(feed_server, "/cal.ics")),  # refused address
    ]
    errors: list[CalendarError] = []
    for policy, url in cases:
        async with fetcher(policy, {}, total_seconds=0.3, max_bytes=1024) as feeds:
            with pytest.raises(CalendarError) as failed:
                await feeds.fetch(url)
        errors.append(failed.value)
        assert_no_secret(failed.value, caplog)
    assert len({type(error) for error in errors}) == 7


def test_a_malformed_address_with_credentials_is_refused_without_them() -> None:
    with pytest.raises(FeedAddressRefused) as refused:
        CalendarUrl("gopher://alice:s3cr3t-pw@host/private-token-abc")
    assert "s3cr3t" not in str(refused.value) and "private-token" not in str(refused.value)
