"""Storage backends behind one small interface: SQLite for one process, PostgreSQL for replicas.

Feature stores (tokens, conversations, automation, the handled-message ledger) write portable
SQL with `?` placeholders and run it through a `Connection` from `Database.transaction()` or
`Database.reading()`; each backend translates what it must. `open_database` picks the backend
from the `db` setting: a `postgresql://` URL, or else a path to an SQLite file.
"""

from __future__ import annotations

from bot.storage.base import Connection, Database, Row, is_postgres_url, redact_url

__all__ = ["Connection", "Database", "Row", "is_postgres_url", "open_database", "redact_url"]


async def open_database(location: str) -> Database:
    """Connect to the database named by `location` (ConfigError with what to do on failure)."""
    if is_postgres_url(location):
        from bot.storage.postgres import PostgresDatabase

        return await PostgresDatabase.connect(location)
    from bot.storage.sqlite import SqliteDatabase

    return await SqliteDatabase.connect(location)
