"""One lock per person: their changes never overlap, whoever makes them (their own commands, a
rule, an expiry, an undo), so each starts from what the one before left.

A person's own message keeps their lock from its first change until the message is recorded as
handled, since its settlement is written only then (bot.storage.message_writes): whoever comes
next finds it settled. Within that run the lock is taken again freely (a command may change
several things, one after another).
"""

from __future__ import annotations

import asyncio
import weakref
from types import TracebackType

from bot.storage.message_writes import running


class PersonLocks:
    """An asyncio.Lock per user id, forgotten once nobody holds or waits for it."""

    def __init__(self) -> None:
        self._locks: weakref.WeakValueDictionary[str, asyncio.Lock] = weakref.WeakValueDictionary()

    def hold(self, user_id: str) -> PersonLock:
        """The lock of `user_id` (use as `async with locks.hold(user_id):`)."""
        lock = self._locks.get(user_id)
        if lock is None:
            lock = self._locks[user_id] = asyncio.Lock()
        return PersonLock(user_id, lock)


class PersonLock:
    """Holding one person's lock for a block (kept past it by that person's own message)."""

    def __init__(self, user_id: str, lock: asyncio.Lock) -> None:
        self._user_id = user_id
        self._lock = lock
        self._kept_already = False

    async def __aenter__(self) -> None:
        run = running()
        if run is not None and run.keeps(self._lock):
            self._kept_already = True  # this message's run holds it until it is recorded
            return
        await self._lock.acquire()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self._kept_already:
            return
        run = running()
        if run is not None and run.sender_id == self._user_id:
            run.keep(self._lock)  # released with the handled record (bot.framework.dispatch)
        else:
            self._lock.release()
