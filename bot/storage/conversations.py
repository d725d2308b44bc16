"""Pending conversations on disk: one row per (room, user), in the bot's SQLite file.

A row is what a conversation needs to go on after a restart: which flow, which step, the flow's
non-secret data (JSON) and the deadline for the next answer. Passwords, new passwords and codes
are never part of a row (bot.flows.conversations keeps them out). The table comes from migration
version 2 in bot.storage.store.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Final

if TYPE_CHECKING:
    from bot.storage.store import Store


@dataclass(frozen=True, slots=True)
class ConversationKey:
    """Whose conversation it is and where it happens: the user's DM with the bot."""

    room_id: str
    user_id: str


@dataclass(frozen=True)
class ConversationRecord:
    """One pending conversation: its flow, the step waiting for an answer, and its data.

    `data` holds only what may be stored (addresses, names, counters); `expires_at` is the
    deadline for the answer to the current step.
    """

    key: ConversationKey
    flow: str
    step: str
    expires_at: datetime
    data: Mapping[str, Any] = field(default_factory=dict)


def _seconds(moment: datetime) -> float:
    return moment.astimezone(UTC).timestamp()


def _record(row: tuple[Any, ...]) -> ConversationRecord:
    room_id, user_id, flow, step, data, expires_at = row
    return ConversationRecord(
        key=ConversationKey(room_id=room_id, user_id=user_id),
        flow=flow,
        step=step,
        expires_at=datetime.fromtimestamp(expires_at, UTC),
        data=json.loads(data),
    )


_COLUMNS: Final = "room_id, user_id, flow, step, data, expires_at"


class ConversationStore:
    """The queries on the `conversations` table, each one transaction of the shared Store."""

    def __init__(self, store: Store) -> None:
        self._store = store
        # In one process, which keys have a row: every DM is checked for a conversation, and
        # almost never has one, so that answer should not cost a read. Loaded on first use.
        self._keys: set[ConversationKey] | None = None

    async def get(self, key: ConversationKey) -> ConversationRecord | None:
        """The conversation under `key`, if any."""
        if not await self.may_have(key):
            return None
        async with self._store.reading() as db:
            row = await db.fetchone(
                f"SELECT {_COLUMNS} FROM conversations WHERE room_id = ? AND user_id = ?",
                (key.room_id, key.user_id),
            )
        return _record(tuple(row)) if row is not None else None

    async def may_have(self, key: ConversationKey) -> bool:
        """False when there is surely no conversation under `key` (known without a read in
        one process); True when there may be one."""
        return self._store.shared or key in await self._known_keys()

    async def _known_keys(self) -> set[ConversationKey]:
        if self._keys is None:
            async with self._store.reading() as db:
                rows = await db.fetchall("SELECT room_id, user_id FROM conversations")
                # Set while the database is still held, so no write slips in between.
                self._keys = {ConversationKey(room_id=r[0], user_id=r[1]) for r in rows}
        return self._keys

    async def of_user(self, user_id: str) -> list[ConversationRecord]:
        """Every conversation of `user_id` (normally at most one), oldest deadline first."""
        async with self._store.reading() as db:
            rows = await db.fetchall(
                f"SELECT {_COLUMNS} FROM conversations WHERE user_id = ? ORDER BY expires_at",
                (user_id,),
            )
        return [_record(tuple(row)) for row in rows]

    async def put(self, record: ConversationRecord) -> None:
        """Insert or replace the conversation under its key."""
        async with self._store.transaction() as db:
            await db.execute(
                f"INSERT INTO conversations ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?)"
                " ON CONFLICT(room_id, user_id) DO UPDATE SET flow = excluded.flow,"
                " step = excluded.step, data = excluded.data, expires_at = excluded.expires_at",
                (
                    record.key.room_id,
                    record.key.user_id,
                    record.flow,
                    record.step,
                    json.dumps(dict(record.data), separators=(",", ":"), sort_keys=True),
                    _seconds(record.expires_at),
                ),
            )
            if self._keys is not None:  # before the commit: a key too many only costs a read
                self._keys.add(record.key)

    async def delete(self, key: ConversationKey) -> bool:
        """Remove the conversation; True if there was one."""
        async with self._store.transaction() as db:
            deleted = await db.execute(
                "DELETE FROM conversations WHERE room_id = ? AND user_id = ?",
                (key.room_id, key.user_id),
            )
        if self._keys is not None:
            self._keys.discard(key)
        return deleted > 0

    async def submitted(self) -> list[ConversationRecord]:
        """The conversations whose change went out and was not settled (a crash, a restart)."""
        async with self._store.reading() as db:
            rows = await db.fetchall(
                f"SELECT {_COLUMNS} FROM conversations WHERE data LIKE ?", ('%"submitted"%',)
            )
        return [record for record in map(_record, map(tuple, rows)) if "submitted" in record.data]

    async def due(self, now: datetime) -> list[ConversationRecord]:
        """The conversations whose deadline is `now` or earlier."""
        async with self._store.reading() as db:
            rows = await db.fetchall(
                f"SELECT {_COLUMNS} FROM conversations WHERE expires_at <= ? ORDER BY expires_at",
                (_seconds(now),),
            )
        return [_record(tuple(row)) for row in rows]

    async def next_deadline(self) -> datetime | None:
        """The earliest deadline of all pending conversations, or None when there are none."""
        async with self._store.reading() as db:
            row = await db.fetchone("SELECT MIN(expires_at) FROM conversations")
        if row is None or row[0] is None:
            return None
        return datetime.fromtimestamp(row[0], UTC)
