"""The storage interface every backend implements, and helpers for database URLs."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from contextlib import AbstractAsyncContextManager
from typing import Any, Final, Literal, Protocol
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from bot.core.errors import DatabaseBusy

__all__ = ["LOCK_WAIT_SECONDS", "Connection", "Database", "DatabaseBusy", "Row"]

Row = Sequence[Any]
LOCK_WAIT_SECONDS: Final = 5.0  # how long a statement waits for another process's lock
Dialect = Literal["sqlite", "postgresql"]
Params = Sequence[Any]


class Connection(Protocol):
    """A transaction (or a read) on one backend. SQL uses `?` placeholders."""

    async def execute(self, sql: str, params: Params = ()) -> int:
        """Run one statement; the number of rows it changed."""
        ...

    async def executemany(self, sql: str, rows: Iterable[Params]) -> None:
        """Run one statement once per parameter row."""
        ...

    async def fetchone(self, sql: str, params: Params = ()) -> Row | None:
        """The first row of a query (or of a statement with RETURNING), or None."""
        ...

    async def fetchall(self, sql: str, params: Params = ()) -> list[Row]:
        """Every row of a query."""
        ...


class Database(Protocol):
    """A connected backend."""

    dialect: Dialect
    #: True when several bot processes may share it, so claims must be made in the database.
    shared: bool
    #: Where it is, safe to print (no password).
    location: str

    def transaction(self) -> AbstractAsyncContextManager[Connection]:
        """A write transaction, committed at the end of the block, rolled back if it raises."""
        ...

    def reading(self) -> AbstractAsyncContextManager[Connection]:
        """A connection for reads."""
        ...

    async def lock_schema(self, db: Connection) -> None:
        """Inside a transaction: keep other processes from migrating at the same time."""
        ...

    async def table_exists(self, db: Connection, name: str) -> bool:
        """True when the table exists."""
        ...

    async def others_using(self, *, lease: float) -> list[str]:
        """Who else uses the database right now (running bots, other rcbot commands), to be
        named in a refusal; [] when this process has it to itself. `lease`: how long a replica's
        heartbeat counts as alive."""
        ...

    async def secure_delete(self) -> None:
        """Before rewriting secrets: overwrite what is deleted from now on, where supported."""
        ...

    async def wipe_free_space(self) -> None:
        """After secrets were rewritten: make sure old copies are not left in free pages."""
        ...

    async def close(self) -> None:
        """Close every connection."""
        ...


def is_postgres_url(location: str) -> bool:
    """True for a `postgresql://` (or `postgres://`) URL."""
    return location.startswith(("postgresql://", "postgres://"))


SECRET_PARAMETERS: Final = frozenset({"password", "sslpassword"})


def redact_url(location: str) -> str:
    """`location` with any password (in the user part or the query) replaced by ***, for
    messages and logs; a URL too malformed to take apart is hidden whole."""
    if not is_postgres_url(location):
        return location
    try:
        parts = urlsplit(location)
        password = parts.password
    except ValueError:
        return f"{location.split(':', 1)[0]}://*** (malformed)"
    netloc = parts.netloc
    if password is not None:
        netloc = f"{parts.username or ''}:***@{netloc.rsplit('@', 1)[-1]}"
    query = parts.query
    if query:
        pairs = parse_qsl(query, keep_blank_values=True)
        if any(key.lower() in SECRET_PARAMETERS for key, _ in pairs):
            shown = [(k, "***" if k.lower() in SECRET_PARAMETERS else v) for k, v in pairs]
            query = urlencode(shown, safe="*")
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))
