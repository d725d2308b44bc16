"""The one scheduler: a heap of due times, and one task sleeping on the injected clock.

Everything automation does at a time goes through here as a small job: the next firing of each
schedule rule (one entry per rule, never per user), each pending revert, each retry of a rule
for one user. The task sleeps until the earliest entry (or until a new, earlier one arrives),
pops what is due and runs each job in its own task. Finding the due jobs costs O(k log n) for k
due out of n entries; users only enter the heap through their own reverts and retries, so the
cost follows the due items, not rules × users. `bench/scheduler.py` measures it.

Entries are never removed early: a cancelled revert stays in the heap and its job finds nothing
to do (the store is the truth), which keeps cancelling O(1).
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Final, Generic, TypeVar

from bot.core.clock import Clock, sleep_until_woken

log = logging.getLogger(__name__)

T = TypeVar("T")
STOP_GRACE_SECONDS: Final = 5.0


class Timetable(Generic[T]):
    """A min-heap of (when, item); ties keep their insertion order."""

    def __init__(self) -> None:
        self._heap: list[tuple[datetime, int, T]] = []
        self._order = itertools.count()

    def __len__(self) -> int:
        return len(self._heap)

    def push(self, when: datetime, item: T) -> None:
        """Add `item`, due at `when`."""
        heapq.heappush(self._heap, (when, next(self._order), item))

    def next_due(self) -> datetime | None:
        """The earliest due time, or None when empty."""
        return self._heap[0][0] if self._heap else None

    def pop_due(self, now: datetime) -> list[T]:
        """Remove and return every item due at or before `now`, earliest first."""
        due: list[T] = []
        while self._heap and self._heap[0][0] <= now:
            due.append(heapq.heappop(self._heap)[2])
        return due


@dataclass(frozen=True, slots=True)
class FireRule:
    """A schedule rule's time has come (`due`: the time it was armed for, which names the
    firing when replicas claim it)."""

    rule: str
    due: datetime | None = None
    rearm: bool = True


@dataclass(frozen=True, slots=True)
class RetryRule:
    """Try a rule's change for one user again (`attempt` counts from 1)."""

    rule: str
    user_id: str
    username: str
    attempt: int


@dataclass(frozen=True, slots=True)
class RevertDue:
    """A pending revert of one user's field group may be due (the store decides)."""

    user_id: str
    group: str
    attempt: int = 1


@dataclass(frozen=True, slots=True)
class AbsenceStarts:
    """An out of office may be due to start (the store decides: it may be gone or moved)."""

    absence_id: str


@dataclass(frozen=True, slots=True)
class AbsenceEnds:
    """An out of office may be due to end (the store decides: it may be gone or moved)."""

    absence_id: str


@dataclass(frozen=True, slots=True)
class CalendarPoll:
    """A person's calendar feed may be due for a fetch (its stored state decides)."""

    user_id: str


@dataclass(frozen=True, slots=True)
class CalendarCheck:
    """A meeting of a person's may start or end now: their status follows the calendar."""

    user_id: str


Job = FireRule | RetryRule | RevertDue | AbsenceStarts | AbsenceEnds | CalendarPoll | CalendarCheck
Runner = Callable[[Job], Awaitable[None]]


class Scheduler:
    """Runs each job when its time comes on `clock`; `start()` / `await stop()`."""

    def __init__(self, clock: Clock, run: Runner, *, max_running: int = 32) -> None:
        self._clock = clock
        self._run = run
        self._table: Timetable[Job] = Timetable()
        self._wake = asyncio.Event()
        self._slots = asyncio.Semaphore(max_running)
        self._running: set[asyncio.Task[None]] = set()
        self._loop_task: asyncio.Task[None] | None = None

    def __len__(self) -> int:
        return len(self._table)

    def at(self, when: datetime, job: Job) -> None:
        """Run `job` at `when` (at once if that has passed)."""
        self._table.push(when, job)
        self._wake.set()

    def start(self) -> None:
        """Start the sleeping task."""
        if self._loop_task is None:
            self._loop_task = asyncio.create_task(self._loop(), name="rcbot-scheduler")

    async def stop(self) -> None:
        """Stop sleeping; give running jobs a moment to finish, then cancel them."""
        if self._loop_task is not None:
            self._loop_task.cancel()
            await asyncio.gather(self._loop_task, return_exceptions=True)
            self._loop_task = None
        if self._running:
            _, pending = await asyncio.wait(set(self._running), timeout=STOP_GRACE_SECONDS)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)

    def clear(self) -> None:
        """Forget every entry (a replica that stops leading hands its schedule on)."""
        self._table = Timetable()

    async def settled(self) -> None:
        """Wait until no job is due or running (tests call it after moving the clock)."""
        while True:
            for _ in range(3):
                await asyncio.sleep(0)
            if self._running:
                await asyncio.wait(set(self._running))
                continue
            due = self._table.next_due()
            if due is not None and due <= self._clock.now() and self._loop_task is not None:
                self._wake.set()
                await asyncio.sleep(0.001)
                continue
            return

    async def _loop(self) -> None:
        while True:
            self._wake.clear()
            for job in self._table.pop_due(self._clock.now()):
                task = asyncio.create_task(self._guarded(job))
                self._running.add(task)
                task.add_done_callback(self._running.discard)
            await sleep_until_woken(self._wake, self._clock, until=self._table.next_due())

    async def _guarded(self, job: Job) -> None:
        async with self._slots:
            try:
                await self._run(job)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("scheduled job %s failed", job)
