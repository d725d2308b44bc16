"""Fetching someone's ICS feed: hostile input, bounded in size, time, redirects and concurrency.

`FeedFetcher` owns one HTTP session for every feed (one connection pool, no cookies shared
between people) whose connector resolves names through `VettedResolver`. Each `fetch` follows
redirects itself, checking every hop, sends the validators it was given (ETag, Last-Modified) and
answers `FeedUnchanged` on 304 or `FeedContent` with the text. Every failure is a
`CalendarError` with a sentence for the person; none carries the body or the address.
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from types import TracebackType
from typing import Final, Self

import aiohttp
from aiohttp.abc import AbstractResolver

from bot.automation.calendar.addresses import AddressPolicy, CalendarUrl, VettedResolver
from bot.automation.calendar.errors import (
    CalendarUnreadable,
    FeedAddressRefused,
    FeedHTTPError,
    FeedTimeout,
    FeedTooLarge,
    FeedTooManyRedirects,
    FeedUnreachable,
)

MIB: Final = 1024 * 1024
REDIRECTS: Final = frozenset({301, 302, 303, 307, 308})
# What calendar servers send for an ICS file; anything else (a web page, JSON, an image) is a
# wrong address, refused before its body is read.
CALENDAR_TYPES: Final = frozenset(
    {
        "text/calendar",
        "text/x-vcalendar",
        "text/plain",
        "application/ics",
        "application/calendar",
        "application/x-ical",
        "application/octet-stream",
        "application/force-download",
        "application/download",
        "application/x-download",
    }
)
_MIME_SHAPE: Final = re.compile(r"[a-z0-9.+-]{1,40}/[a-z0-9.+-]{1,60}")
_VALIDATOR_SHAPE: Final = re.compile(r"[\x20-\x7e]{1,256}")
_CHUNK: Final = 64 * 1024


@dataclass(frozen=True, slots=True)
class FeedLimits:
    """How much one fetch may cost: bytes of calendar, seconds in all, redirects followed, and
    how many fetches run at once (the rest wait their turn)."""

    max_bytes: int = 2 * MIB
    total_seconds: float = 10.0
    max_redirects: int = 3
    concurrency: int = 8

    def size_text(self) -> str:
        if self.max_bytes % MIB == 0:
            return f"{self.max_bytes // MIB} MiB"
        if self.max_bytes % 1024 == 0:
            return f"{self.max_bytes // 1024} KiB"
        return f"{self.max_bytes} bytes"


@dataclass(frozen=True, slots=True)
class Validators:
    """What the server said identifies this version of the calendar, sent back next time."""

    etag: str | None = None
    last_modified: str | None = None

    def request_headers(self) -> dict[str, str]:
        headers = {}
        if self.etag:
            headers["If-None-Match"] = self.etag
        if self.last_modified:
            headers["If-Modified-Since"] = self.last_modified
        return headers

    def updated_from(self, response: aiohttp.ClientResponse) -> Validators:
        """These validators with whatever the response renews (a 304 may send new ones)."""
        return Validators(
            etag=_validator(response.headers.get("ETag")) or self.etag,
            last_modified=_validator(response.headers.get("Last-Modified")) or self.last_modified,
        )

    @property
    def empty(self) -> bool:
        return not (self.etag or self.last_modified)


@dataclass(frozen=True, slots=True)
class FeedUnchanged:
    """304: the calendar is as it was when `validators` were given."""

    validators: Validators


@dataclass(frozen=True, slots=True)
class FeedContent:
    """A fresh copy of the calendar (text, never shown to anyone) and its validators."""

    text: str
    validators: Validators

    def __repr__(self) -> str:
        return f"FeedContent({len(self.text)} characters, {self.validators!r})"


FetchResult = FeedContent | FeedUnchanged


def _validator(value: str | None) -> str | None:
    """A validator worth keeping: printable, short (a hostile server may send anything)."""
    if value is None or not _VALIDATOR_SHAPE.fullmatch(value):
        return None
    return value


def _retry_after(response: aiohttp.ClientResponse) -> float | None:
    """Retry-After in seconds: a number, or an HTTP date measured against the server's Date."""
    value = response.headers.get("Retry-After", "").strip()
    if not value:
        return None
    if value.isdigit():
        return float(value)
    try:
        until = parsedate_to_datetime(value)
        sent = parsedate_to_datetime(response.headers.get("Date", ""))
    except (TypeError, ValueError, IndexError):
        return None
    return max(0.0, (until - sent).total_seconds())


def _status_error(response: aiohttp.ClientResponse) -> FeedHTTPError:
    status = response.status
    if status in (401, 403):
        advice = (
            "the address needs a login or is no longer shared: copy the calendar's secret "
            "(private) ICS address again"
        )
    elif status in (404, 410):
        advice = "check the address (the calendar may be gone, or its secret address reset)"
    elif status == 429:
        advice = "it gets too many requests; the bot will try again later"
    elif status >= 500:
        advice = "it has a problem on its side; the bot will try again later"
    elif status >= 400:
        advice = "check the address"
    else:
        advice = "that is not a calendar: check the address"
    return FeedHTTPError(
        f"the calendar server answered {status}: {advice}",
        status=status,
        retry_after=_retry_after(response) if status in (429, 503) else None,
    )


class FeedFetcher:
    """Fetches ICS feeds for many people, a few at a time, through one vetted connection pool.

    `async with FeedFetcher(...) as fetcher: result = await fetcher.fetch(url, validators)`.
    `resolver` replaces the system's DNS under the vetting (tests name hosts with it).
    """

    def __init__(
        self,
        *,
        limits: FeedLimits | None = None,
        policy: AddressPolicy | None = None,
        resolver: AbstractResolver | None = None,
        user_agent: str = "rcbot-calendar/1",
    ) -> None:
        self.limits = limits or FeedLimits()
        self.policy = policy or AddressPolicy()
        self._resolver = VettedResolver(self.policy, resolver)
        self._user_agent = user_agent
        self._slots = asyncio.Semaphore(self.limits.concurrency)
        self._session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> Self:
        connector = aiohttp.TCPConnector(
            resolver=self._resolver, limit=self.limits.concurrency, ttl_dns_cache=60
        )
        self._session = aiohttp.ClientSession(
            connector=connector,
            # No cookie travels from one person's feed to another's on the same host.
            cookie_jar=aiohttp.DummyCookieJar(),
            trust_env=False,
            timeout=aiohttp.ClientTimeout(total=None),
            headers={
                "User-Agent": self._user_agent,
                "Accept": "text/calendar, text/plain;q=0.5, */*;q=0.1",
            },
        )
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def fetch(self, url: CalendarUrl, validators: Validators | None = None) -> FetchResult:
        """The calendar at `url`, or FeedUnchanged if it still matches `validators`.

        Raises a CalendarError for every failure, with a sentence for the person.
        """
        if self._session is None:
            raise RuntimeError("FeedFetcher is used outside `async with`")
        async with self._slots:
            try:
                async with asyncio.timeout(self.limits.total_seconds):
                    return await self._follow(self._session, url, validators or Validators())
            except TimeoutError:
                raise FeedTimeout(
                    f"the calendar server at {url.host} gave no complete answer within "
                    f"{self.limits.total_seconds:g} s: the bot will try again later"
                ) from None

    async def _follow(
        self, session: aiohttp.ClientSession, url: CalendarUrl, validators: Validators
    ) -> FetchResult:
        current = url
        for _ in range(self.limits.max_redirects + 1):
            self.policy.check_host(current.host)
            try:
                async with session.get(
                    current.request_url,
                    headers={**validators.request_headers(), **current.request_headers()},
                    allow_redirects=False,
                ) as response:
                    if response.status in REDIRECTS:
                        location = response.headers.get("Location")
                        if not location:
                            raise FeedHTTPError(
                                f"the calendar server answered {response.status} without "
                                "saying where to: check the address",
                                status=response.status,
                            )
                        current = current.redirected(location)
                        continue
                    if response.status == 304 and not validators.empty:
                        return FeedUnchanged(validators.updated_from(response))
                    if response.status not in (200, 203):
                        raise _status_error(response)
                    text = await self._read_calendar(response)
                    return FeedContent(text, Validators().updated_from(response))
            except aiohttp.ClientError as error:
                raise _connection_error(error, current.host) from None
        raise FeedTooManyRedirects(
            f"the calendar address redirects more than {self.limits.max_redirects} times: "
            "use the address it finally leads to"
        )

    async def _read_calendar(self, response: aiohttp.ClientResponse) -> str:
        """The body as text, refused early when its type or size gives it away."""
        mime = response.content_type.lower()
        if "Content-Type" in response.headers and mime not in CALENDAR_TYPES:
            raise CalendarUnreadable(_wrong_type(mime))
        too_large = FeedTooLarge(
            f"the calendar is larger than {self.limits.size_text()}, more than this bot reads: "
            "share a calendar with fewer past events, or ask the admin"
        )
        if (response.content_length or 0) > self.limits.max_bytes:
            raise too_large
        body = bytearray()
        async for chunk in response.content.iter_chunked(_CHUNK):
            body += chunk
            if len(body) > self.limits.max_bytes:
                raise too_large
        text = _decode(bytes(body), response.charset)
        if not text.lstrip("\ufeff \t\r\n")[:15].upper().startswith("BEGIN:VCALENDAR"):
            raise CalendarUnreadable(
                "the address does not give an iCalendar file: use the calendar's ICS (iCal) "
                "address, usually ending in .ics"
            )
        return text


def _decode(body: bytes, charset: str | None) -> str:
    try:
        return body.decode(charset or "utf-8", errors="replace")
    except LookupError:  # a charset Python does not know: iCalendar is UTF-8 anyway
        return body.decode("utf-8", errors="replace")


def _wrong_type(mime: str) -> str:
    if mime in ("text/html", "application/xhtml+xml"):
        return (
            "the address gives a web page, not a calendar: use the calendar's ICS (iCal) "
            "address, not the page that shows it"
        )
    shown = mime if _MIME_SHAPE.fullmatch(mime) else "something unexpected"
    return f"the address gives {shown}, not a calendar: use the calendar's ICS (iCal) address"


def _connection_error(error: aiohttp.ClientError, host: str) -> Exception:
    """Our sentence for a client error (whose own text may hold the address)."""
    if isinstance(error, TimeoutError):
        return error  # the caller's timeout handling names the limit
    if isinstance(error, aiohttp.InvalidURL):
        return FeedAddressRefused("that is not a valid calendar address: check it")
    if isinstance(error, aiohttp.ClientConnectorDNSError):
        return FeedUnreachable(f"could not find the calendar server {host}: check the address")
    if isinstance(error, (aiohttp.ClientConnectorCertificateError, aiohttp.ClientSSLError)):
        return FeedUnreachable(
            f"the calendar server {host} did not prove who it is (its TLS certificate is not "
            "valid): check the address"
        )
    if isinstance(error, aiohttp.ClientConnectorError):
        return FeedUnreachable(
            f"could not connect to the calendar server {host}: check the address, "
            "the bot will try again later"
        )
    return FeedUnreachable(
        f"the calendar server {host} broke off its answer: the bot will try again later"
    )
