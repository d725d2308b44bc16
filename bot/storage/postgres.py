"""The PostgreSQL backend (asyncpg pool), for several bot replicas sharing one database."""

from __future__ import annotations

import logging
import re
import time
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from functools import lru_cache
from typing import Final, Self

import asyncpg

from bot.core.errors import ConfigError
from bot.core.setting_names import describe_key
from bot.storage.base import Connection, Dialect, Params, Row, redact_url

log = logging.getLogger(__name__)

POOL_SIZE: Final = 8
CONNECT_TIMEOUT: Final = 10.0
# Any constant works: it only has to be the same in every replica (pg_advisory_xact_lock).
SCHEMA_LOCK_ID: Final = 0x7263626F74  # "rcbot"
_PLACEHOLDER = re.compile(r"\?")


@lru_cache(maxsize=512)
def to_postgres(sql: str) -> str:
    """Portable SQL with `?` placeholders → asyncpg's `$1, $2, …`."""
    numbers = iter(range(1, 10_000))
    return _PLACEHOLDER.sub(lambda _: f"${next(numbers)}", sql)


def _changed(status: str) -> int:
    """Rows changed, from a command tag such as 'UPDATE 3' or 'INSERT 0 1'."""
    last = status.rsplit(" ", 1)[-1]
    return int(last) if last.isdigit() else 0


async def _keep_session(connection: asyncpg.Connection) -> None:
    """Released connections need no reset: the bot never leaves session state behind (no SET,
    LISTEN, cursors or session advisory locks; transactions end in their own block), and the
    default reset costs a round trip per transaction."""
    return


class PostgresConnection:
    """One pooled asyncpg connection, seen through the `Connection` interface."""

    def __init__(self, connection: asyncpg.Connection) -> None:
        self._connection = connection

    async def execute(self, sql: str, params: Params = ()) -> int:
        return _changed(await self._connection.execute(to_postgres(sql), *params))

    async def executemany(self, sql: str, rows: Iterable[Params]) -> None:
        await self._connection.executemany(to_postgres(sql), list(rows))

    async def fetchone(self, sql: str, params: Params = ()) -> Row | None:
        row = await self._connection.fetchrow(to_postgres(sql), *params)
        return tuple(row) if row is not None else None

    async def fetchall(self, sql: str, params: Params = ()) -> list[Row]:
        return [tuple(row) for row in await self._connection.fetch(to_postgres(sql), *params)]


class PostgresDatabase:
    """A pool of connections to one PostgreSQL database; every replica may use it at once."""

    dialect: Dialect = "postgresql"
    shared = True

    def __init__(self, pool: asyncpg.Pool, location: str) -> None:
        self._pool = pool
        self.location = location

    def __repr__(self) -> str:
        return f"PostgresDatabase({self.location!r})"

    @classmethod
    async def connect(cls, url: str, *, pool_size: int = POOL_SIZE) -> Self:
        """Open a pool on `url`; ConfigError (without the password) when that fails."""
        shown = redact_url(url)
        try:
            pool = await asyncpg.create_pool(
                url, min_size=1, max_size=pool_size, timeout=CONNECT_TIMEOUT, reset=_keep_session
            )
        except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            reason = str(exc).replace(url, shown) or type(exc).__name__
            raise ConfigError(
                f"{describe_key('db')}: cannot connect to {shown}: {reason}; check that the "
                "server runs, the database exists and the user may log in"
            ) from None
        except (ValueError, OverflowError) as exc:  # a malformed URL, a port out of range
            reason = str(exc).replace(url, shown)
            raise ConfigError(
                f"{describe_key('db')}: {shown} is not a usable URL: {reason}"
            ) from None
        return cls(pool, shown)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[PostgresConnection]:
        async with self._pool.acquire() as connection, connection.transaction():
            yield PostgresConnection(connection)

    @asynccontextmanager
    async def reading(self) -> AsyncIterator[PostgresConnection]:
        async with self._pool.acquire() as connection:
            yield PostgresConnection(connection)

    async def lock_schema(self, db: Connection) -> None:
        await db.fetchone("SELECT pg_advisory_xact_lock(?)", (SCHEMA_LOCK_ID,))

    async def table_exists(self, db: Connection, name: str) -> bool:
        row = await db.fetchone("SELECT to_regclass(?) IS NOT NULL", (name,))
        return bool(row and row[0])

    async def others_using(self, *, lease: float) -> list[str]:
        """The replicas whose heartbeat (bot/replicas.py) is younger than `lease`."""
        async with self.reading() as db:
            if not await self.table_exists(db, "replicas"):
                return []
            rows = await db.fetchall(
                "SELECT replica_id FROM replicas WHERE seen_at >= ? ORDER BY replica_id",
                (time.time() - lease,),
            )
        return [f"replica {row[0]}" for row in rows]

    async def secure_delete(self) -> None:
        return None  # dead rows are reclaimed by wipe_free_space (VACUUM)

    async def wipe_free_space(self) -> None:
        async with self._pool.acquire() as connection:
            await connection.execute("VACUUM delegated_tokens")

    async def close(self) -> None:
        await self._pool.close()
