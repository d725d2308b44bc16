"""The SQLite backend: the embedded default for one bot process.

Statements run on the event loop's own thread, through the standard library's sqlite3. A local
SQLite statement in WAL mode (synchronous=NORMAL: a commit does not wait for the disk) takes
microseconds, while handing each one to a worker thread and back (aiosqlite) cost more than the
statement itself: a quarter of the bot's CPU time under load (bench/RESULTS.md). One process
owns the file, so no statement waits on another's lock (`busy_timeout` covers `rcbot` admin
commands run beside it).

Every process that opens the file for writing (the bot, `rcbot migrate`, `rotate-key`) holds a
shared `flock` on it while it does, so a command that needs the file to itself (`rotate-key`)
can tell whether a bot is running on it.
"""

from __future__ import annotations

import asyncio
import fcntl
import os
import sqlite3
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Final, Self

from bot.config import ConfigError, describe_key
from bot.db.base import Connection, Dialect, Params, Row

MEMORY: Final = ":memory:"


class SqliteConnection:
    """The one sqlite3 connection, seen through the `Connection` interface."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db

    async def execute(self, sql: str, params: Params = ()) -> int:
        return max(self._db.execute(sql, params).rowcount, 0)

    async def executemany(self, sql: str, rows: Iterable[Params]) -> None:
        self._db.executemany(sql, rows)

    async def fetchone(self, sql: str, params: Params = ()) -> Row | None:
        cursor = self._db.execute(sql, params)
        row = cursor.fetchone()
        if row is not None:
            cursor.fetchall()  # finish the statement (RETURNING writes on each step)
        return row  # type: ignore[no-any-return]

    async def fetchall(self, sql: str, params: Params = ()) -> list[Row]:
        return list(self._db.execute(sql, params).fetchall())


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
        self._lock = asyncio.Lock()
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
            db.execute("PRAGMA busy_timeout=5000")
            db.execute("PRAGMA foreign_keys=ON")
        except sqlite3.DatabaseError as exc:
            db.close()
            raise ConfigError(
                f"{describe_key('db')}: {where} is not a usable SQLite database ({exc})"
            ) from None
        in_use = None
        if not read_only and where != MEMORY:
            in_use = os.open(where, os.O_RDONLY)
            fcntl.flock(in_use, fcntl.LOCK_SH)
        return cls(db, where, in_use=in_use)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[SqliteConnection]:
        async with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._connection
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

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
            self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    async def close(self) -> None:
        self._db.close()
        if self._in_use is not None:
            os.close(self._in_use)  # releases the flock
            self._in_use = None
