"""Group commit, on both backends: writes queued together share one transaction, each caller
gets its own result once committed, and one failing write takes no other write down."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager
from typing import Any

import pytest

from bot.core.crypto import generate_key
from bot.storage.backends import Connection, Database
from bot.storage.base import DatabaseBusy
from bot.storage.group_commit import GroupCommit
from bot.storage.store import Store


class CountingDatabase:
    """The real database, counting the transactions it is asked for."""

    def __init__(self, database: Database) -> None:
        self._database = database
        self.transactions = 0

    def transaction(self) -> AbstractAsyncContextManager[Connection]:
        self.transactions += 1
        return self._database.transaction()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._database, name)


@pytest.fixture
async def store(store_location: str) -> AsyncIterator[Store]:
    async with await Store.open(store_location, secret_key=generate_key()) as opened:
        yield opened


def insert(key: str, value: str) -> Any:
    async def work(db: Connection) -> str:
        await db.execute(
            "INSERT INTO undo_points (user_id, changes, cause, at) VALUES (?, ?, 'test', 'now')",
            (key, value),
        )
        return f"stored {key}"

    return work


async def stored(store: Store, prefix: str) -> dict[str, str]:
    async with store.reading() as db:
        rows = await db.fetchall(
            "SELECT user_id, changes FROM undo_points WHERE user_id LIKE ?", (f"{prefix}%",)
        )
    return {str(key): str(value) for key, value in rows}


async def test_writes_queued_together_share_a_transaction_and_each_gets_its_result(
    store: Store,
) -> None:
    counting = CountingDatabase(store.database)
    group = GroupCommit(counting)  # type: ignore[arg-type]
    results = await asyncio.gather(*(group.write(insert(f"g-{n}", str(n))) for n in range(20)))
    assert results == [f"stored g-{n}" for n in range(20)]
    assert counting.transactions == 1
    assert await stored(store, "g-") == {f"g-{n}": str(n) for n in range(20)}


async def test_a_failing_write_fails_alone(store: Store) -> None:
    group = GroupCommit(store.database)
    writes = [insert("f-1", "a"), insert("f-1", "duplicate"), insert("f-2", "b")]
    results = await asyncio.gather(*(group.write(w) for w in writes), return_exceptions=True)
    assert results[0] == "stored f-1" and results[2] == "stored f-2"
    assert isinstance(results[1], Exception)  # the duplicate key, and only it
    assert await stored(store, "f-") == {"f-1": "a", "f-2": "b"}


async def test_a_caller_that_gives_up_waiting_still_has_its_write_committed(store: Store) -> None:
    group = GroupCommit(store.database)
    waiting = asyncio.create_task(group.write(insert("c-1", "kept")))
    await asyncio.sleep(0)  # queued, not yet written
    waiting.cancel()
    await group.write(insert("c-2", "next"))
    assert await stored(store, "c-") == {"c-1": "kept", "c-2": "next"}


async def test_writes_after_a_batch_go_in_the_next_one(store: Store) -> None:
    counting = CountingDatabase(store.database)
    group = GroupCommit(counting)  # type: ignore[arg-type]
    await group.write(insert("n-1", "first"))
    await group.write(insert("n-2", "second"))
    assert counting.transactions == 2
    assert await stored(store, "n-") == {"n-1": "first", "n-2": "second"}


async def test_a_write_that_gives_up_while_another_process_holds_the_lock_is_dropped(
    tmp_path: Any,
) -> None:
    location = str(tmp_path / "locked.db")
    async with await Store.open(location, secret_key=generate_key()) as opened:
        group = GroupCommit(opened.database)
        other = sqlite3.connect(location, isolation_level=None)  # another process's lock
        other.execute("BEGIN IMMEDIATE")
        try:
            with pytest.raises(DatabaseBusy):
                await group.write(insert("b-1", "dropped"), give_up_after=0.3)
            kept = asyncio.create_task(group.write(insert("b-2", "kept"), give_up_after=30))
            await asyncio.sleep(0.05)
            kept.cancel()  # the caller stops waiting; its write is still queued
        finally:
            other.execute("ROLLBACK")
            other.close()
        await group.write(insert("b-3", "after"))
        assert await stored(opened, "b-") == {"b-2": "kept", "b-3": "after"}
