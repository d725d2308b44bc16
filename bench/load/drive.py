"""Driving the people of a phase: closed loops, paced visits, answers checked and timed.

Every person is a **closed loop**: they send a command when the answer to their previous one has
arrived. How their visits follow each other depends on the mix:

- back to back (`burst`): every person is busy the whole phase, visit after visit, and stops
  at the first command after the phase has run `--min-phase-seconds` (never inside their first
  visit);
- paced (`spaced`, `realistic`): `hands` visits run at once (at most that many people busy);
  a hand takes the person who has waited longest, but only once `spacing` seconds have passed
  since that person's last answer. Every person visits once; then visits go on until the phase
  has run its minimum. If no one is free again before then, the people have run out: the phase
  ends early, and the report says so (more people are needed for that pace).

Latency is from just before `sendMessage` to the arrival of the answer's frame. Visibility is
sampled: a sampled change is watched by polling `users.info` as the admin, each poll a tenth of
the time waited so far after the last (at least 2 ms, at most 100 ms apart: about 10 %
resolution), at most `concurrency` watches at a time (a sample due while all are busy is
skipped and counted); the figure is an upper bound.
"""

from __future__ import annotations

import asyncio
import heapq
import math
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Final

from bench.client import ChatUser
from bench.load.plan import Command, Mix, Person
from bench.load.server_log import Window

MIN_POLL_SECONDS: Final = 0.002
MAX_POLL_SECONDS: Final = 0.1
POLL_SHARE: Final = 0.1  # poll again after a tenth of the time waited so far
MAX_WRONG_EXAMPLES: Final = 5


@dataclass
class Answers:
    """What came back for the commands of one phase."""

    latencies: list[float] = field(default_factory=list)
    by_kind: dict[str, list[float]] = field(default_factory=dict)
    windows: list[Window] = field(default_factory=list)
    wrong: int = 0
    timeouts: int = 0
    extra: int = 0
    wrong_examples: list[str] = field(default_factory=list)
    first_sent: float = math.inf
    last_answered: float = 0.0

    def right(self, user: ChatUser, command: Command, sent: float, answered: float) -> None:
        """Count a right answer."""
        self.latencies.append(answered - sent)
        self.by_kind.setdefault(command.kind, []).append(answered - sent)
        self.windows.append(Window(user.user_id, command.kind, command.change, sent, answered))

    def failed(self, user: ChatUser, command: Command, answer: str | None) -> None:
        """Count a wrong answer (or none: `answer` None) and keep a few examples."""
        if answer is None:
            self.timeouts += 1
        else:
            self.wrong += 1
        if len(self.wrong_examples) < MAX_WRONG_EXAMPLES:
            heard = "no answer" if answer is None else repr(answer[:200])
            self.wrong_examples.append(f"{user.username}: {command.shown!r} → {heard}")


class VisibilitySampler:
    """Watches sampled commands until users.info shows their change (see the module docstring)."""

    def __init__(self, admin: ChatUser, concurrency: int, timeout: float) -> None:
        self._admin = admin
        self._free = concurrency
        self._timeout = timeout
        self._tasks: set[asyncio.Task[None]] = set()
        self.latencies: list[float] = []
        self.skipped = 0
        self.timeouts = 0
        self.polls = 0

    def watch(self, user_id: str, profile: tuple[tuple[str, str], ...], sent: float) -> None:
        """Start watching one change sent at `sent` (perf_counter), if a watch slot is free."""
        if self._free <= 0:
            self.skipped += 1
            return
        self._free -= 1
        task = asyncio.create_task(self._poll(user_id, profile, sent))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _poll(self, user_id: str, profile: tuple[tuple[str, str], ...], sent: float) -> None:
        try:
            while (waited := time.perf_counter() - sent) < self._timeout:
                await asyncio.sleep(
                    min(max(MIN_POLL_SECONDS, waited * POLL_SHARE), MAX_POLL_SECONDS)
                )
                reply = await self._admin.rest("GET", "users.info", params={"userId": user_id})
                self.polls += 1
                user = reply["user"]
                if all(user.get(key) == value for key, value in profile):
                    self.latencies.append(time.perf_counter() - sent)
                    return
            self.timeouts += 1
        finally:
            self._free += 1

    async def finish(self) -> None:
        """Wait for the watches still running."""
        while self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)


async def drive(
    user: ChatUser,
    room_id: str,
    commands: Sequence[Command],
    answers: Answers,
    sampler: VisibilitySampler,
    timeout: float,
    stop: Callable[[], bool] | None = None,
) -> bool:
    """One visit: send each command, wait for its answer, check it, send the next. Returns
    False at the first wrong or missing answer (the rest of the visit would make no sense);
    `stop()` true before a command ends the visit there."""
    for command in commands:
        if stop is not None and stop():
            return True
        answers.extra += user.forget_heard(room_id)
        sent = time.perf_counter()
        answers.first_sent = min(answers.first_sent, sent)
        if command.sampled:
            sampler.watch(user.user_id, command.profile, sent)
        await user.say(room_id, command.text)
        try:
            answered, answer = await user.next_message(room_id, timeout)
        except TimeoutError:
            answers.failed(user, command, None)
            return False
        answers.last_answered = max(answers.last_answered, answered)
        text = str(answer.get("msg", ""))
        if not command.accepts(text):
            answers.failed(user, command, text)
            return False
        answers.right(user, command, sent, answered)
    return True


@dataclass
class Seat:
    """One person at the keyboard: their chat connection, their DM with the target, their plan."""

    user: ChatUser
    room_id: str
    person: Person


@dataclass(frozen=True)
class PhaseClock:
    """When the load started and when it may stop (perf_counter seconds)."""

    started: float
    min_seconds: float

    @property
    def deadline(self) -> float:
        return self.started + self.min_seconds

    def over(self) -> bool:
        """Whether the phase has run its minimum time."""
        return time.perf_counter() >= self.deadline


@dataclass
class Pacing:
    """How a paced phase went: the hands' time spent waiting for someone free, and whether the
    people ran out before the phase's minimum time."""

    hands: int
    spacing: float
    idle_seconds: float = 0.0
    ran_out_at: float | None = None  # seconds into the phase


async def run_back_to_back(
    seats: Sequence[Seat],
    mix: Mix,
    clock: PhaseClock,
    answers: Answers,
    sampler: VisibilitySampler,
    timeout: float,
) -> None:
    """Every person sends visit after visit until the phase has run its minimum time."""

    async def person_loop(seat: Seat) -> None:
        first = True
        while first or not clock.over():
            visit = mix.visit(seat.person)
            stop = None if first else clock.over
            if not await drive(seat.user, seat.room_id, visit, answers, sampler, timeout, stop):
                return
            first = False

    await asyncio.gather(*(person_loop(seat) for seat in seats))


class PeopleQueue:
    """The people of a paced phase, by the moment each is free for a visit again."""

    def __init__(
        self, seats: Sequence[Seat], clock: PhaseClock, pacing: Pacing, seed: str
    ) -> None:
        order = list(seats)
        random.Random(seed).shuffle(order)  # the same order for both targets
        self._heap = [(0.0, number, seat) for number, seat in enumerate(order)]
        self._numbers = len(order)
        self._unvisited = len(order)
        self._clock = clock
        self._pacing = pacing

    async def take(self) -> Seat | None:
        """The person free longest, once free (None: the phase is over, or no one will be free
        before its minimum time is up)."""
        while self._heap:
            free_at, _, seat = self._heap[0]
            now = time.perf_counter()
            if not self._unvisited and now >= self._clock.deadline:
                return None
            if free_at > now:
                if free_at >= self._clock.deadline:
                    if self._pacing.ran_out_at is None:
                        self._pacing.ran_out_at = now - self._clock.started
                    return None
                await asyncio.sleep(free_at - now)
                self._pacing.idle_seconds += time.perf_counter() - now
                continue
            heapq.heappop(self._heap)
            if seat.person.visits == 0:
                self._unvisited -= 1
            return seat
        return None

    def give_back(self, seat: Seat) -> None:
        """The person's visit is over: free again `spacing` seconds from now."""
        self._numbers += 1
        free_at = time.perf_counter() + self._pacing.spacing
        heapq.heappush(self._heap, (free_at, self._numbers, seat))


async def run_paced(
    seats: Sequence[Seat],
    mix: Mix,
    clock: PhaseClock,
    pacing: Pacing,
    answers: Answers,
    sampler: VisibilitySampler,
    timeout: float,
    seed: str,
) -> None:
    """`pacing.hands` visits at a time, each person at most once per `pacing.spacing` seconds."""
    queue = PeopleQueue(seats, clock, pacing, seed)

    async def hand() -> None:
        while (seat := await queue.take()) is not None:
            visit = mix.visit(seat.person)
            if await drive(seat.user, seat.room_id, visit, answers, sampler, timeout):
                queue.give_back(seat)  # someone answered wrongly is not asked again

    await asyncio.gather(*(hand() for _ in range(min(pacing.hands, len(seats)))))
