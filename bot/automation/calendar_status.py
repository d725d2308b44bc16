"""Calendar-driven status: `/calendar`, each feed's polls on the scheduler, the meeting status.

A person gives their calendar's secret ICS address in the DM (`/calendar set`); it is stored
encrypted (bot.storage.calendars), fetched at once, then polled on the bot's one scheduler
(`CalendarPoll`, when its FeedState says: conditional requests, backoff after failures). Fresh
content is expanded in a child process (bot.automation.calendar.expand_within) into the busy
intervals of a window from the start of their day to 36 hours ahead, which are kept; the ICS
text is not. A `CalendarCheck` at each block's start and end makes the status follow: during a
busy block the person shows busy, "In a meeting until 15:30" (with the title only if they
opted in, never a private event's), through the calendar layer of bot.automation.layers, so an
absence or a status they set wins and what was there comes back afterwards. On Rocket.Chat
8.6+ the status carries the block's end as the server's own expiry (the change path sends it).
An all-day event starts an out of office only if the person chose so.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta, tzinfo
from types import TracebackType
from typing import TYPE_CHECKING, Any, Final, Self

from aiohttp.abc import AbstractResolver

from bot.automation.calendar import (
    AddressPolicy,
    BusyInterval,
    CalendarError,
    CalendarUrl,
    FeedAddressRefused,
    FeedFetcher,
    FeedLimits,
    FeedState,
    PollPolicy,
    Validators,
    all_day_at,
    busy_block_at,
    clock_text,
    expand_within,
    poll,
    status_window,
    summarise,
)
from bot.automation.layers import CALENDAR_CAUSE, Layer, StatusLayers
from bot.automation.ooo.model import zone_from_text, zone_text
from bot.automation.ooo.request import SetAbsence
from bot.automation.schedule import CalendarCheck, CalendarPoll, Job
from bot.core.clock import Clock
from bot.core.context import CommandContext
from bot.core.errors import UserError
from bot.flows.leaks import calendar_posted_in_room
from bot.profile.model import Account
from bot.profile.service import ProfileService
from bot.profile.tokens import NoTokenError, TokenRejected, TokenUnreadable
from bot.storage.calendars import CalendarStore, StoredFeed

if TYPE_CHECKING:
    from bot.automation.ooo.service import OutOfOffice, Teller

log = logging.getLogger(__name__)

BUSY: Final = "busy"
ZONE_KEY: Final = "zone"
ALL_DAY_KEY: Final = "all_day_until"
TICK_OVERLAP: Final = timedelta(minutes=1)  # clocks of replicas differ a little


@dataclass(frozen=True, slots=True)
class CalendarOptions:
    """What the calendar service takes from the configuration (`[calendar]`)."""

    allow_private_networks: bool = False
    poll_interval: timedelta = timedelta(minutes=15)
    expand_seconds: float = 20.0
    concurrency: int = 8
    fetch_seconds: float = 10.0

    @classmethod
    def from_settings(cls, settings: Any) -> CalendarOptions:
        """From BotSettings's `calendar` table (its fields of the same names, minutes)."""
        return cls(
            allow_private_networks=bool(settings.allow_private_networks),
            poll_interval=timedelta(minutes=float(settings.poll_minutes)),
            concurrency=int(settings.concurrency),
            fetch_seconds=float(settings.fetch_seconds),
        )


def interval_record(interval: BusyInterval, *, keep_title: bool) -> dict[str, Any]:
    """An interval as kept in the store (the title only when the person shows titles)."""
    return {
        "start": interval.start.isoformat(),
        "end": interval.end.isoformat(),
        "title": interval.title if keep_title else None,
        "private": interval.private,
        "all_day": interval.all_day,
    }


def interval_from(record: dict[str, Any]) -> BusyInterval:
    return BusyInterval(
        start=datetime.fromisoformat(record["start"]),
        end=datetime.fromisoformat(record["end"]),
        title=record.get("title"),
        private=bool(record.get("private")),
        all_day=bool(record.get("all_day")),
    )


class CalendarStatus:
    """The calendar service: commands ask for it by the name `calendar`."""

    def __init__(
        self,
        profile: ProfileService,
        layers: StatusLayers,
        store: CalendarStore,
        clock: Clock,
        *,
        schedule: Callable[[datetime, Job], None],
        options: CalendarOptions | None = None,
        tell: Teller | None = None,
        ooo: OutOfOffice | None = None,
        limits: FeedLimits | None = None,
        resolver: AbstractResolver | None = None,
    ) -> None:
        self._profile = profile
        self._layers = layers
        self._store = store
        self._clock = clock
        self._schedule = schedule
        self.options = options or CalendarOptions()
        self._tell = tell
        self._ooo = ooo
        self._policy = PollPolicy(interval=self.options.poll_interval)
        self.fetcher = FeedFetcher(
            limits=limits
            or FeedLimits(
                concurrency=self.options.concurrency, total_seconds=self.options.fetch_seconds
            ),
            policy=AddressPolicy(allow_private_networks=self.options.allow_private_networks),
            resolver=resolver,
        )
        self._planned: dict[tuple[str, str], datetime] = {}
        self._seen_until: datetime | None = None  # set while this process runs the scheduler

    @property
    def prefix(self) -> str:
        return self._profile.prefix

    async def __aenter__(self) -> Self:
        await self.fetcher.__aenter__()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.fetcher.__aexit__(exc_type, exc, tb)

    # -- commands ---------------------------------------------------------------------------

    async def set(self, ctx: CommandContext, address: str) -> str:
        """`/calendar set <ICS URL>`: only in the 1:1 DM; store it encrypted, delete the
        message, fetch it at once and say what it holds today."""
        if not ctx.is_direct:
            deleted = await self._profile.tokens.take_back_secret(ctx)
            log.warning("refused a calendar address posted outside the DM by %s", ctx.sender_id)
            raise UserError(self._posted_in_room(deleted))
        try:
            url = CalendarUrl(address)
        except FeedAddressRefused as error:
            await self._profile.tokens.take_back_secret(ctx)
            raise UserError(f"I did not store that calendar: {error}.") from None
        current = await self._profile.current(ctx)  # also: no token, or a rejected one
        zone = self._profile.zone_of(current)
        await self._store.put(
            ctx.sender_id, ctx.sender_username, url.get_secret_value(), at=self._clock.now()
        )
        await self._store.save_poll(ctx.sender_id, {ZONE_KEY: zone_text(zone)})
        deleted = await self._profile.tokens.take_back_secret(ctx)
        cleanup = (
            "I deleted your message so the address doesn't stay in our chat."
            if deleted
            else "I could not delete your message, so please delete it yourself."
        )
        failure = await self.refresh(ctx.sender_id)
        if isinstance(failure, FeedAddressRefused):  # it never will be fetched: not kept
            await self._store.forget(ctx.sender_id)
            return f"I did not keep that calendar: {failure}. {cleanup}"
        if failure is not None:
            return (
                f"I stored your calendar address, encrypted. {cleanup} But the first fetch "
                f"failed: {failure}. I will keep trying; `{self.prefix}calendar status` shows how "
                f"it goes, `{self.prefix}calendar off` removes it."
            )
        feed = await self._store.get(ctx.sender_id)
        intervals = [interval_from(r) for r in feed.intervals] if feed else []
        today = summarise(intervals, self._clock.now(), zone)
        return (
            f"Your calendar is connected: {today}. During a meeting your status shows you busy "
            f"until it ends, then what was there comes back. I stored the address encrypted. "
            f"{cleanup} `{self.prefix}calendar status` shows how it goes."
        )

    def _posted_in_room(self, deleted: bool) -> str:
        return calendar_posted_in_room(deleted, self.prefix)

    async def status(self, ctx: CommandContext) -> str:
        """`/calendar status`: the feed's health, last fetch and next meeting; never the URL."""
        feed = await self._store.get(ctx.sender_id)
        return self._none() if feed is None else health_text(feed, self._clock.now())

    async def off(self, ctx: CommandContext) -> str:
        """`/calendar off`: forget the address and the state; a meeting status ends."""
        feed = await self._store.get(ctx.sender_id)
        if feed is None or not await self._store.forget(ctx.sender_id):
            return self._none()
        await self._layers.end(ctx.sender_id, Layer.CALENDAR)
        return "Done: I deleted your calendar address and everything I kept of it" + (
            ", and your status is back to what it was." if feed.shown_start else "."
        )

    async def titles(self, ctx: CommandContext, on: bool) -> str:
        """`/calendar titles on|off`: whether the meeting's title shows in the status."""
        if not await self._store.choose(ctx.sender_id, show_titles=on):
            return self._none()
        feed = await self._store.get(ctx.sender_id)
        if feed is not None and on:  # the kept intervals have no titles: fetch it whole
            state = replace(FeedState.from_record(feed.state), validators=Validators())
            await self._store.save_poll(ctx.sender_id, {**feed.state, **state.as_record()})
            await self.refresh(ctx.sender_id)
        elif feed is not None:  # titles are kept only for those who show them
            untitled = [{**record, "title": None} for record in feed.intervals]
            await self._store.save_poll(ctx.sender_id, feed.state, untitled)
        if on:
            return (
                "Your status will show the meeting's title, e.g. “In a meeting until 15:30: "
                "Design review” (never for private or confidential events)."
            )
        return "Your status will say only “In a meeting until …”, without the title."

    async def all_day(self, ctx: CommandContext, on: bool) -> str:
        """`/calendar allday on|off`: whether an all-day event starts an out of office."""
        if not await self._store.choose(ctx.sender_id, all_day_ooo=on):
            return self._none()
        if on:
            await self._check(ctx.sender_id)
            return (
                "A busy all-day event (a holiday, a day off) will start an out of office for "
                f"that day, as `{self.prefix}ooo` does."
            )
        return "All-day events will not change your status."

    def _none(self) -> str:
        return (
            "You have no calendar connected. Send me its secret ICS address here: "
            f"`{self.prefix}calendar set <ICS URL>`."
        )

    # -- the scheduler's jobs ---------------------------------------------------------------

    async def run(self, job: CalendarPoll | CalendarCheck) -> None:
        """A poll or a meeting's start or end may be due (the store decides)."""
        self._planned.pop((type(job).__name__, job.user_id), None)
        if isinstance(job, CalendarPoll):
            feed = await self._store.get(job.user_id)
            if feed is None:
                return
            state = FeedState.from_record(feed.state)
            if not state.due(self._clock.now()):
                self._plan(CalendarPoll(job.user_id), state.next_attempt)
                return
            await self.refresh(job.user_id)
        else:
            await self._check(job.user_id)

    async def refresh(self, user_id: str) -> CalendarError | None:
        """Fetch the feed now, keep what it holds, and make the status follow it; the error
        when the fetch failed (the next try is planned either way)."""
        feed = await self._store.get(user_id)
        address = await self._store.address(user_id)
        if feed is None or address is None:
            return None
        now = self._clock.now()
        state = FeedState.from_record(feed.state)
        zone = _zone(feed)
        outcome = await poll(
            self.fetcher, CalendarUrl(address), state, now, self._policy, key=user_id
        )
        new_state, intervals, error = outcome.state, None, outcome.error
        if outcome.content is not None:
            start, end = status_window(now, zone)
            try:
                expanded = await expand_within(
                    outcome.content.text,
                    start=start,
                    end=end,
                    zone=zone,
                    seconds=self.options.expand_seconds,
                )
            except CalendarError as failure:
                error = failure
                new_state = state.failed(
                    now, failure, self._policy, key=user_id, forget_validators=True
                )
            else:
                new_state = new_state.expanded(end)
                intervals = [interval_record(i, keep_title=feed.show_titles) for i in expanded]
        if error is not None:
            log.info("calendar of %s: %s", user_id, type(error).__name__)
        record = {**feed.state, **new_state.as_record()}
        if not await self._store.save_poll(user_id, record, intervals):
            return error  # removed meanwhile
        self._plan(CalendarPoll(user_id), new_state.next_attempt or now)
        await self._check(user_id)
        return error

    async def _check(self, user_id: str) -> None:
        """Make the status follow the kept intervals now, and plan the next change."""
        feed = await self._store.get(user_id)
        if feed is None:
            return
        now = self._clock.now()
        intervals = [interval_from(r) for r in feed.intervals]
        account = Account(feed.user_id, feed.username)
        block = busy_block_at(intervals, now)
        if block is None:
            if feed.shown_start is not None:
                await self._store.show(user_id, None, None)
                await self._act(feed, self._layers.end(user_id, Layer.CALENDAR))
            upcoming = [i.start for i in intervals if not i.all_day and i.start > now]
            if upcoming:
                self._plan(CalendarCheck(user_id), min(upcoming))
        else:
            moved = feed.shown_start == block.start and feed.shown_end != block.end
            if moved and await self._overridden(account):
                await self._store.show(user_id, block.start, block.end)  # theirs: left alone
            elif (feed.shown_start, feed.shown_end) != (block.start, block.end):
                zone = _zone(feed)
                text = f"In a meeting until {clock_text(block.end, zone, now)}"
                title = block.title(feed.show_titles)
                if title:
                    text += f": {title}"
                fields = {"presence": BUSY, "status_text": text}
                shown = self._layers.show(
                    account, Layer.CALENDAR, fields, cause=CALENDAR_CAUSE, until=block.end
                )
                if await self._act(feed, shown):
                    await self._store.show(user_id, block.start, block.end)
            self._plan(CalendarCheck(user_id), block.end)
        if feed.all_day_ooo:
            await self._all_day(feed, intervals, now)

    async def _overridden(self, account: Account) -> bool:
        """The meeting under way moved its end: did the person change the status it showed?"""
        try:
            return await self._layers.overridden(account, Layer.CALENDAR)
        except UserError:
            return False  # showing it again tells them about their token

    async def _act(self, feed: StoredFeed, change: Any) -> bool:
        """Await a status change for `feed`'s person; a token that stopped working is told
        once in their DM (until a change works again)."""
        try:
            await change
        except (NoTokenError, TokenRejected, TokenUnreadable) as error:
            if await self._store.warn(feed.user_id, True):
                await self._say(
                    feed.username,
                    f"I could not change your status for your calendar: {error}",
                )
            return False
        except UserError as error:
            log.info("calendar status of %s refused: %s", feed.user_id, type(error).__name__)
            return False
        if feed.warned:
            await self._store.warn(feed.user_id, False)
        return True

    async def _all_day(
        self, feed: StoredFeed, intervals: list[BusyInterval], now: datetime
    ) -> None:
        """A busy all-day event under way starts an out of office for it (once per event,
        never over an absence the person has)."""
        events = all_day_at(intervals, now)
        if not events or self._ooo is None:
            return
        until = max(event.end for event in events)
        if feed.state.get(ALL_DAY_KEY) == until.isoformat() or await self._ooo.away(feed.user_id):
            return
        await self._store.save_poll(feed.user_id, {**feed.state, ALL_DAY_KEY: until.isoformat()})
        note = next((e.title for e in events if e.shown_title(True)), None) or "All-day event"
        request = SetAbsence(start=None, end=None, span=until - now, note=note)
        try:
            await self._ooo.set(Account(feed.user_id, feed.username), request)
        except UserError as error:
            log.info("all-day absence of %s not started: %s", feed.user_id, type(error).__name__)

    async def _say(self, username: str, text: str) -> None:
        if self._tell is None:
            return
        try:
            await self._tell(username, text)
        except Exception:
            log.exception("could not tell %s about their calendar", username)

    def _plan(self, job: CalendarPoll | CalendarCheck, when: datetime | None) -> None:
        """Put `job` on the scheduler at `when`, unless it is there for that time already."""
        if when is None:
            return
        key = (type(job).__name__, job.user_id)
        if self._planned.get(key) == when:
            return
        self._planned[key] = when
        self._schedule(when, job)

    # -- start and stop, on the process that runs the scheduler ------------------------------

    async def resume(self) -> None:
        """Plan every stored feed's next poll and a check of its status now (after a restart
        mid-meeting the status is found as it should be and only its end is planned)."""
        now = self._clock.now()
        for feed in await self._store.all():
            state = FeedState.from_record(feed.state)
            self._plan(CalendarPoll(feed.user_id), state.next_attempt or now)
            self._plan(CalendarCheck(feed.user_id), now)
        self._seen_until = now

    async def tick(self) -> None:
        """With replicas, each heartbeat while leading: plan the feeds set on other replicas
        since the last look (their first fetch happened there)."""
        if self._seen_until is None:
            return
        now = self._clock.now()
        for feed in await self._store.set_since(self._seen_until - TICK_OVERLAP):
            state = FeedState.from_record(feed.state)
            self._plan(CalendarPoll(feed.user_id), state.next_attempt or now)
            self._plan(CalendarCheck(feed.user_id), now)
        self._seen_until = now

    def pause(self) -> None:
        """Forget what was planned (the scheduler moved, or the bot stops)."""
        self._planned.clear()
        self._seen_until = None


def health_text(feed: StoredFeed, now: datetime) -> str:
    """What `/calendar status` says: today's meetings, the last fetch and error, the next try
    and the person's choices (never the address)."""
    state = FeedState.from_record(feed.state)
    zone = _zone(feed)
    intervals = [interval_from(r) for r in feed.intervals]
    if state.last_success is None:
        health = "I have not fetched it successfully yet"
    else:
        health = f"last fetched {clock_text(state.last_success, zone, now)}"
    if state.last_error:
        health += f"; the last try failed: {state.last_error} ({state.failures} in a row)"
    if state.next_attempt is not None:
        health += f"; next try {clock_text(state.next_attempt, zone, now)}"
    options = (
        f"Titles in your status: {'on' if feed.show_titles else 'off'}; all-day events "
        f"start an out of office: {'on' if feed.all_day_ooo else 'off'}."
    )
    today = summarise(intervals, now, zone) if state.last_success else "nothing known yet"
    return f"Your calendar: {today}. {health.capitalize()}. {options}"


def _zone(feed: StoredFeed) -> tzinfo:
    text = feed.state.get(ZONE_KEY)
    return zone_from_text(text) if isinstance(text, str) else UTC
