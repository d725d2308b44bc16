"""Group commit: writes that come in while one transaction is being prepared share it.

Under load many commands record something at the same moment (a write-ahead audit entry, a
settled change, a handled message). One transaction each costs a BEGIN and a COMMIT each, and
on SQLite the same few pages written to the WAL again and again; sharing one transaction costs
that once (bench/RESULTS.md). Each caller still returns only once its own write is committed,
so nothing it goes on to do can overtake it. A write that fails does not take the others down:
the batch is then tried again one write per transaction.

A batch that meets another process's lock (DatabaseBusy) is kept, in order, and tried again
until it goes through: nothing recorded this way is lost. A caller that must not go on without
its write (a write-ahead entry, before a change goes out) can stop waiting after
`give_up_after` seconds: its write is then dropped from the queue and it gets DatabaseBusy.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Final, Generic, TypeVar

from bot.storage.base import Connection, Database, DatabaseBusy

T = TypeVar("T")
Work = Callable[[Connection], Awaitable[T]]


BUSY_RETRY_SECONDS: Final = 0.25


@dataclass
class _Queued(Generic[T]):
    work: Work[T]
    done: asyncio.Future[T]
    dropped: bool = False  # its caller gave up waiting: never written


class GroupCommit:
    """Runs `await group.write(work)` calls together, in the next transaction of `database`."""

    def __init__(self, database: Database) -> None:
        self._database = database
        self._queued: list[_Queued[Any]] = []
        self._writer: asyncio.Task[None] | None = None

    async def write(self, work: Work[T], *, give_up_after: float | None = None) -> T:
        """Run `work(connection)` in the next shared transaction; its result once committed.

        `work` must only write through the connection it is given: it may run twice (once in
        a batch that is rolled back, once on its own). With `give_up_after`, DatabaseBusy when
        the database stays locked by another process that long (the write is then dropped).
        """
        loop = asyncio.get_running_loop()
        done: asyncio.Future[T] = loop.create_future()
        item = _Queued(work, done)
        self._queued.append(item)
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._write_queued())
        if give_up_after is None:
            # A caller cancelled while waiting cancels only its future: the write is in the
            # batch and is committed all the same.
            return await done
        # A timer rather than wait_for: this runs for every write-ahead entry.
        timer = loop.call_later(give_up_after, _give_up, item)
        try:
            return await asyncio.shield(done)
        except asyncio.CancelledError:
            if not done.cancelled():
                raise  # the caller was cancelled: its write stays in the batch
            raise DatabaseBusy(f"the database stayed locked for {give_up_after:g} s") from None
        finally:
            timer.cancel()

    async def _write_queued(self) -> None:
        batch: list[_Queued[Any]] = []
        try:
            while self._queued:
                batch, self._queued = self._queued, []
                try:
                    results = await self._commit(batch)
                except DatabaseBusy:
                    # Another process holds the lock: keep the batch, in order, and try again.
                    waiting = [item for item in batch if not item.dropped]
                    self._queued = waiting + self._queued
                    batch = []
                    await asyncio.sleep(BUSY_RETRY_SECONDS)
                    continue
                except Exception as error:  # noqa: BLE001 - handed back, or tried one by one
                    if len(batch) == 1:
                        _fail(batch[0], error)
                    else:
                        for item in batch:
                            await self._commit_alone(item)
                else:
                    for item, result in zip(batch, results, strict=True):
                        if not item.done.done():
                            item.done.set_result(result)
                batch = []
        except BaseException:  # cancelled at shutdown: nobody may wait forever
            for item in [*batch, *self._queued]:
                item.done.cancel()
            self._queued = []
            raise

    async def _commit(self, batch: list[_Queued[Any]]) -> list[Any]:
        async with self._database.transaction() as db:
            # A caller may give up while the transaction waits for another process's lock.
            return [None if item.dropped else await item.work(db) for item in batch]

    async def _commit_alone(self, item: _Queued[Any]) -> None:
        if item.dropped:
            return
        try:
            async with self._database.transaction() as db:
                result = await item.work(db)
        except Exception as error:  # noqa: BLE001 - handed to the one caller it belongs to
            _fail(item, error)
        else:
            if not item.done.done():
                item.done.set_result(result)


def _give_up(item: _Queued[Any]) -> None:
    """The caller stops waiting: its write is dropped, unless its transaction already ran it."""
    item.dropped = True
    item.done.cancel()


def _fail(item: _Queued[Any], error: Exception) -> None:
    if not item.done.done():
        item.done.set_exception(error)
