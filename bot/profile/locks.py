"""One lock per person: their changes never overlap, whoever makes them (their own commands, a
rule, an expiry, an undo), so each starts from what the one before left."""

from __future__ import annotations

import asyncio
import weakref


class PersonLocks:
    """An asyncio.Lock per user id, forgotten once nobody holds or waits for it."""

    def __init__(self) -> None:
        self._locks: weakref.WeakValueDictionary[str, asyncio.Lock] = weakref.WeakValueDictionary()

    def hold(self, user_id: str) -> asyncio.Lock:
        """The lock of `user_id` (use as `async with locks.hold(user_id):`)."""
        lock = self._locks.get(user_id)
        if lock is None:
            lock = self._locks[user_id] = asyncio.Lock()
        return lock
