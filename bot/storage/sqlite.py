"""The SQLite backend: the embedded default for one bot process.

Statements run on the event loop's own thread, through the standard library's sqlite3. A local
SQLite statement in WAL mode (synchronous=NORMAL: a commit does not wait for the disk) takes
microseconds, while handing each one to a worker thread and back (aiosqlite) cost more than the
statement itself: a quarter of the bot's CPU time under load (bench/RESULTS.md). One process
owns the file, so its statements rarely meet another's lock.

Another process may hold the file's lock for a while (an admin's `sqlite3` shell, a backup):
a statement that finds it locked waits for it by sleeping on the event loop, never in sqlite3
(busy_timeout is 0), so the bot's other work goes on meanwhile, and gives up with DatabaseBusy
after LOCK_WAIT_SECONDS.

Every process that opens the file for writing (the bot, `rcbot migrate`, `rotate-key`) holds a
shared `flock` on it while it does, so a command that needs the file to itself (`rotate-key`)
can tell whether a bot is running on it.
"""

from __future__ import annotations

import asyncio
import fcntl
import os
import sqlite3
from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Final, Self, TypeVar

from bot.core.errors import ConfigError, DatabaseUnusable
from bot.core.setting_names import describe_key
from bot.storage.base import LOCK_WAIT_SECONDS, Connection, DatabaseBusy, Dialect, Params, Row

MEMORY: Final = ":memory:"
T = TypeVar("T")


def _is_locked(error: sqlite3.OperationalError) -> bool:
    return error.sqlite_errorcode in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)


async def patiently(statement: Callable[[], T], *, wait: float = LOCK_WAIT_SECONDS) -> T:
    """Run `statement`; while another process holds the lock, sleep and try again (backing off
    from 5 ms to 100 ms) for up to `wait` seconds, then raise DatabaseBusy."""
    try:  # the usual case, without a look at the clock (this runs for every statement)
        return statement()
    except sqlite3.OperationalError as error:
        if not _is_locked(error):
            raise
    return await _retry_while_locked(statement, wait)


async def _retry_while_locked(statement: Callable[[], T], wait: float) -> T:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + wait
    pause = 0.005
    while True:
        try:
            return statement()
        except sqlite3.OperationalError as error:
            if not _is_locked(error) or loop.time() >= deadline:
                if _is_locked(error):
                    raise DatabaseBusy(f"the SQLite file stayed locked for {wait:g} s") from None
                raise
        await asyncio.sleep(pause)
        pause = min(pause * 2, 0.1)


class SqliteConnection:
    """The one sqlite3 connection, seen through the `Connection` interface."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db

    async def execute(self, sql: str, params: Params = ()) -> int:
        cursor = await patiently(lambda: self._db.execute(sql, params))
        return max(cursor.rowcount, 0)

    async def executemany(self, sql: str, rows: Iterable[Params]) -> None:
        batch = list(rows)
        await patiently(lambda: self._db.executemany(sql, batch))

    async def fetchone(self, sql: str, params: Params = ()) -> Row | None:
        def one() -> Row | None:
            cursor = self._db.execute(sql, params)
            row = cursor.fetchone()
            if row is not None:
                cursor.fetchall()  # finish the statement (RETURNING writes on each step)
            return row  # type: ignore[no-any-return]

        return await patiently(one)

    async def fetchall(self, sql: str, params: Params = ()) -> list[Row]:
        return await patiently(lambda: list(self._db.execute(sql, params).fetchall()))


def unusable(where: str, error: sqlite3.DatabaseError | DatabaseBusy) -> DatabaseUnusable:
    """The one sentence for an SQLite file that cannot be used, saying what to do."""
    if isinstance(error, DatabaseBusy):
        reason = (
            f"is locked by another process (an open sqlite3 shell or a backup?) for more than "
            f"{LOCK_WAIT_SECONDS:g} s; finish or close it, then start again"
        )
    elif "readonly" in str(error):
        reason = (
            "is read-only for this process; give the bot's user write access to it and to its "
            "folder (SQLite writes -wal and -shm files beside it)"
        )
    else:
        reason = (
            f"is not a usable SQLite database ({error}); restore it from a backup, or move it "
            "away to start afresh (people will then have to send /token set again)"
        )
    return DatabaseUnusable(f"{describe_key('db')}: {where} {reason}")


def _create_private_file(path: Path) -> None:
    """Create the database file readable by its owner only (SQLite's -wal/-shm follow it)."""
    if path.exists():
        return
    try:
        os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))
    except FileNotFoundError:
        raise ConfigError(
            f"{describe_key('db')}: the folder {path.parent} does not exist; "
            "create it or point db at an existing folder"
        ) from None
    except OSError as exc:
        raise ConfigError(f"{describe_key('db')}: cannot create {path}: {exc.strerror}") from None


class SqliteDatabase:
    """One file, one connection, one write transaction at a time (BEGIN IMMEDIATE)."""

    dialect: Dialect = "sqlite"
    shared = False

    def __init__(
        self, db: sqlite3.Connection, location: str, *, in_use: int | None = None
    ) -> None:
        self._db = db
        self._connection = SqliteConnection(db)
        self._writer = asyncio.Lock()  # one transaction at a time on the one connection
        self._lock = asyncio.Lock()  # held while a transaction is open: reads wait for it
        self._in_use = in_use  # a descriptor of the file holding the shared flock
        self.location = location

    def __repr__(self) -> str:
        return f"SqliteDatabase({self.location!r})"

    @classmethod
    async def connect(cls, location: str | Path, *, read_only: bool = False) -> Self:
        """Open (creating it unless `read_only`) the SQLite file at `location`."""
        where = str(location)
        try:
            if read_only:
                uri = f"{Path(where).resolve().as_uri()}?mode=ro"
                db = sqlite3.connect(uri, uri=True, isolation_level=None)
            else:
                if where != MEMORY:
                    _create_private_file(Path(where))
                db = sqlite3.connect(where, isolation_level=None)
        except sqlite3.Error as exc:
            raise ConfigError(f"{describe_key('db')}: cannot open {where}: {exc}") from None
        try:
            if not read_only:
                db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            db.execute("PRAGMA busy_timeout=0")  # waiting happens in `patiently`
            db.execute("PRAGMA foreign_keys=ON")
        except sqlite3.DatabaseError as exc:
            db.close()
            raise unusable(where, exc) from None
        in_use = None
        if not read_only and where != MEMORY:
            in_use = os.open(where, os.O_RDONLY)
            fcntl.flock(in_use, fcntl.LOCK_SH)
        return cls(db, where, in_use=in_use)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[SqliteConnection]:
        async with self._writer:
            # Waiting for another process's lock happens before `_lock`: reads go on meanwhile.
            await patiently(lambda: self._db.execute("BEGIN IMMEDIATE"))
            async with self._lock:
                try:
                    yield self._connection
                    await patiently(lambda: self._db.execute("COMMIT"))
                except BaseException:
                    self._db.execute("ROLLBACK")
                    raise

    @asynccontextmanager
    async def reading(self) -> AsyncIterator[SqliteConnection]:
        async with self._lock:  # never in the middle of another task's transaction
            yield self._connection

    async def lock_schema(self, db: Connection) -> None:
        return None  # BEGIN IMMEDIATE already keeps other writers out

    async def table_exists(self, db: Connection, name: str) -> bool:
        row = await db.fetchone(
            "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = ?", (name,)
        )
        return bool(row and row[0])

    async def others_using(self, *, lease: float) -> list[str]:
        if self._in_use is None:
            return []
        try:
            fcntl.flock(self._in_use, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return ["another rcbot process (a running bot?)"]
        fcntl.flock(self._in_use, fcntl.LOCK_SH)  # back to sharing: it was only a question
        return []

    async def secure_delete(self) -> None:
        """From now on overwrite deleted content with zeros (before rewriting secrets)."""
        async with self._lock:
            self._db.execute("PRAGMA secure_delete=ON")

    async def wipe_free_space(self) -> None:
        async with self._lock:
            await patiently(lambda: self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)"))

    async def close(self) -> None:
        self._db.close()
        if self._in_use is not None:
            os.close(self._in_use)  # releases the flock
            self._in_use = None
