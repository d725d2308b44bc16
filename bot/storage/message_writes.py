"""Writes that become durable with the handled record of the message whose run made them.

A command's settlement (its audit entry settled, the undo point, the reverts it cancels) need
not reach the disk before its answer goes out: its write-ahead entry is there already, and a
command stopped before its message is recorded as handled runs again after the restart, finds
its change made and settles it from that entry (bot.profile.changes). So the settlement rides in
the transaction that records the message as handled (bot.storage.handled): one durable write per
command after its change instead of two.

Meanwhile nobody else may act on that person's bookkeeping: the person's lock (bot.profile.locks)
stays held by the message's run until its handled record is written, so a rule, an expiry or an
undo for them starts from the settled state, as it did when the settlement came first. Only the
run's own task counts as the run: a task it starts waits for the lock like anyone else.

Only the sender's own change, made for that message, waits so; any other write goes at once.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from bot.storage.group_commit import Work

_CURRENT: ContextVar[MessageWrites | None] = ContextVar("rcbot_message_writes", default=None)


class MessageWrites:
    """What one message's run leaves for its handled record: writes, and the sender's lock."""

    def __init__(self, message_id: str, sender_id: str) -> None:
        self.message_id = message_id
        self.sender_id = sender_id
        self._task = asyncio.current_task()
        self._open = True
        self._works: list[Work[Any]] = []
        self._kept: list[asyncio.Lock] = []

    def ours(self) -> bool:
        """True while the run is going on, in the run's own task."""
        return self._open and asyncio.current_task() is self._task

    def defer(self, work: Work[Any]) -> None:
        """Write `work` in the transaction of the handled record."""
        self._works.append(work)

    def keeps(self, lock: asyncio.Lock) -> bool:
        """True when the run holds `lock` until its handled record is written."""
        return any(kept is lock for kept in self._kept)

    def keep(self, lock: asyncio.Lock) -> None:
        """Hold `lock` (already acquired) until `release`."""
        self._kept.append(lock)

    def close(self) -> list[Work[Any]]:
        """The run is over: nothing more is deferred; the writes for the handled record."""
        self._open = False
        works, self._works = self._works, []
        return works

    def release(self) -> None:
        """The handled record is written (or given up): let the kept locks go."""
        kept, self._kept = self._kept, []
        for lock in kept:
            lock.release()


def running(message_id: str | None = None) -> MessageWrites | None:
    """The run going on in this task (for `message_id` only, when given), if any."""
    writes = _CURRENT.get()
    if writes is None or not writes.ours():
        return None
    if message_id is not None and writes.message_id != message_id:
        return None
    return writes


@contextmanager
def collecting(message_id: str, sender_id: str) -> Iterator[MessageWrites]:
    """The run of one message: what it defers is collected until the block ends (then
    `close()` hands it over, and `release()` must follow once it is written)."""
    writes = MessageWrites(message_id, sender_id)
    token = _CURRENT.set(writes)
    try:
        yield writes
    finally:
        _CURRENT.reset(token)
