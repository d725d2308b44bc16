"""The time the bot schedules by, injected so tests move it instead of waiting.

Everything with a deadline (conversation expiry, status reverts, scheduled rules) asks a `Clock`
for the time and sleeps through it. Windows and intervals (the flood gate's minute) use
`monotonic()` instead, which never steps back when the wall clock is corrected. `SystemClock`
is the real one; `ManualClock` only moves when a test calls `advance()` (both times, waking
exactly the sleepers whose time has come) or `jump()` (the wall clock alone, as an NTP step).
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import time
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta


class Clock:
    """Wall-clock time in UTC, monotonic seconds for intervals, and sleeping until a moment."""

    def now(self) -> datetime:
        return datetime.now(UTC)

    def monotonic(self) -> float:
        """Seconds that only ever go forward (for windows and intervals, never for dates)."""
        return time.monotonic()

    async def sleep_until(self, when: datetime) -> None:
        """Return once `now()` has reached `when` (at once if it already has)."""
        delay = (when - self.now()).total_seconds()
        if delay > 0:
            await asyncio.sleep(delay)


SystemClock = Clock


async def sleep_until_woken(
    wake: asyncio.Event,
    clock: Clock,
    *,
    until: datetime | None = None,
    seconds: Iterable[float | None] = (),
) -> None:
    """Sleep until `wake` is set, `clock` reaches `until`, or the first of `seconds` (real
    time, for things in flight) has passed, whichever comes first; None means no such bound.
    The one way the bot's background loops (the scheduler, the conversation sweeper) wait."""
    waiters: list[asyncio.Future[object]] = [asyncio.ensure_future(wake.wait())]
    if until is not None:
        waiters.append(asyncio.ensure_future(clock.sleep_until(until)))
    waiters.extend(asyncio.ensure_future(asyncio.sleep(delay)) for delay in seconds if delay)
    try:
        await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waiters:
            waiter.cancel()


class ManualClock(Clock):
    """A clock that stands still until `advance()` moves it (for tests)."""

    def __init__(self, start: datetime | None = None) -> None:
        self._now = start or datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
        self._elapsed = 0.0
        self._sleepers: list[tuple[datetime, int, asyncio.Future[None]]] = []
        self._order = itertools.count()

    def now(self) -> datetime:
        return self._now

    def monotonic(self) -> float:
        return self._elapsed

    def jump(self, seconds: float) -> None:
        """Step the wall clock alone (negative: backwards), as an NTP correction does; monotonic
        time and the sleepers are left as they are."""
        self._now += timedelta(seconds=seconds)

    async def sleep_until(self, when: datetime) -> None:
        if when <= self._now:
            await asyncio.sleep(0)
            return
        wake: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._sleepers, (when, next(self._order), wake))
        await wake

    async def advance(self, seconds: float = 0, *, to: datetime | None = None) -> None:
        """Move time forward and let every sleeper whose moment has come run."""
        target = to if to is not None else self._now + timedelta(seconds=seconds)
        self._elapsed += max(0.0, (target - self._now).total_seconds())
        self._now = target
        while self._sleepers and self._sleepers[0][0] <= self._now:
            _, _, wake = heapq.heappop(self._sleepers)
            if not wake.done():
                wake.set_result(None)
        for _ in range(5):  # let the woken tasks run up to their next await
            await asyncio.sleep(0)
