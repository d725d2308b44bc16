"""Status presets and recent statuses (schema: the "status presets" migration).

    status_presets    per (user, name folded to lower case): a status the person saved
    recent_statuses   per (user, text): the statuses they set through /status, newest id last
    status_menus      per user: the numbered list /status showed them last (JSON)

A status is stored as its presence, its text and how long it lasts: `for_seconds` (a duration)
or `until_time` (`HH:MM` in the person's time zone), or neither. Nothing here is secret.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal

from bot.storage.automation import from_text, to_text
from bot.storage.base import LOCK_WAIT_SECONDS

if TYPE_CHECKING:
    from bot.storage.backends import Connection
    from bot.storage.store import Store

SaveOutcome = Literal["added", "replaced", "full"]
_STATUS_COLUMNS = "presence, status_text, for_seconds, until_time"


@dataclass(frozen=True)
class SavedStatus:
    """A status as stored: presence, text, and at most one of a duration and an end time."""

    presence: str
    text: str
    for_seconds: int | None = None
    until_time: str | None = None


@dataclass(frozen=True)
class StoredPreset:
    """One of a person's presets: the name as they wrote it, and the status."""

    name: str
    status: SavedStatus


@dataclass(frozen=True)
class StoredMenu:
    """The list a person was shown last: its entries (JSON objects) and when."""

    entries: list[dict[str, Any]]
    shown_at: datetime


def name_key(name: str) -> str:
    """How a preset name is looked up: `Lunch` and `lunch` are one preset."""
    return name.casefold()


def _status(row: Sequence[Any]) -> SavedStatus:
    presence, text, for_seconds, until_time = row
    return SavedStatus(
        presence=str(presence),
        text=str(text),
        for_seconds=int(for_seconds) if for_seconds is not None else None,
        until_time=str(until_time) if until_time is not None else None,
    )


def _values(status: SavedStatus) -> tuple[str, str, int | None, str | None]:
    return (status.presence, status.text, status.for_seconds, status.until_time)


class PresetStore:
    """The queries on the preset tables; every write is one transaction of the shared Store."""

    def __init__(self, store: Store) -> None:
        self._store = store

    # -- personal presets ---------------------------------------------------------------------

    async def presets(self, user_id: str) -> list[StoredPreset]:
        """The presets of `user_id`, by name."""
        async with self._store.reading() as db:
            rows = await db.fetchall(
                f"SELECT name, {_STATUS_COLUMNS} FROM status_presets WHERE user_id = ?"
                " ORDER BY name_key",
                (user_id,),
            )
        return [StoredPreset(name=str(row[0]), status=_status(row[1:])) for row in rows]

    async def save_preset(
        self, user_id: str, name: str, status: SavedStatus, *, at: datetime, limit: int
    ) -> SaveOutcome:
        """Keep `status` as the preset `name` of `user_id`, replacing one of the same name;
        "full" (and nothing written) when it would be a new one beyond `limit`."""
        key = name_key(name)
        async with self._store.transaction() as db:
            existing = await db.fetchone(
                "SELECT 1 FROM status_presets WHERE user_id = ? AND name_key = ?", (user_id, key)
            )
            if existing is None:
                row = await db.fetchone(
                    "SELECT COUNT(*) FROM status_presets WHERE user_id = ?", (user_id,)
                )
                if row is not None and int(row[0]) >= limit:
                    return "full"
            await db.execute(
                f"INSERT INTO status_presets (user_id, name_key, name, {_STATUS_COLUMNS},"
                " saved_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT(user_id, name_key) DO UPDATE SET name = excluded.name,"
                " presence = excluded.presence, status_text = excluded.status_text,"
                " for_seconds = excluded.for_seconds, until_time = excluded.until_time,"
                " saved_at = excluded.saved_at",
                (user_id, key, name, *_values(status), to_text(at)),
            )
        return "added" if existing is None else "replaced"

    async def delete_preset(self, user_id: str, name: str) -> bool:
        """Forget the preset `name` of `user_id`; True if there was one."""
        async with self._store.transaction() as db:
            deleted = await db.execute(
                "DELETE FROM status_presets WHERE user_id = ? AND name_key = ?",
                (user_id, name_key(name)),
            )
        return deleted > 0

    # -- recent statuses ----------------------------------------------------------------------

    async def record_recent(
        self, user_id: str, status: SavedStatus, *, at: datetime, keep: int
    ) -> None:
        """`user_id` used `status`: it becomes their newest recent, replacing one with the same
        text; only the newest `keep` are kept. Committed together with the other commands'
        writes of the moment (a group commit: one per /status was a transaction of its own)."""
        used_at = to_text(at)

        async def write(db: Connection) -> None:
            await db.execute(
                "DELETE FROM recent_statuses WHERE user_id = ? AND status_text = ?",
                (user_id, status.text),
            )
            await db.execute(
                f"INSERT INTO recent_statuses (user_id, {_STATUS_COLUMNS}, used_at)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (user_id, *_values(status), used_at),
            )
            await db.execute(
                "DELETE FROM recent_statuses WHERE user_id = ? AND id NOT IN"
                " (SELECT id FROM recent_statuses WHERE user_id = ? ORDER BY id DESC LIMIT ?)",
                (user_id, user_id, keep),
            )

        await self._store.write_together(write, give_up_after=LOCK_WAIT_SECONDS)

    async def recent(self, user_id: str, limit: int) -> list[SavedStatus]:
        """The newest `limit` recent statuses of `user_id`, newest first."""
        async with self._store.reading() as db:
            rows = await db.fetchall(
                f"SELECT {_STATUS_COLUMNS} FROM recent_statuses WHERE user_id = ?"
                " ORDER BY id DESC LIMIT ?",
                (user_id, limit),
            )
        return [_status(row) for row in rows]

    # -- the list a person was shown -------------------------------------------------------------

    async def put_menu(
        self, user_id: str, entries: Sequence[Mapping[str, Any]], *, at: datetime
    ) -> None:
        """Remember the numbered list `user_id` was just shown (replacing the one before)."""
        text = json.dumps([dict(entry) for entry in entries], ensure_ascii=False)
        async with self._store.transaction() as db:
            await db.execute(
                "INSERT INTO status_menus (user_id, entries, shown_at) VALUES (?, ?, ?)"
                " ON CONFLICT(user_id) DO UPDATE SET entries = excluded.entries,"
                " shown_at = excluded.shown_at",
                (user_id, text, to_text(at)),
            )

    async def menu(self, user_id: str) -> StoredMenu | None:
        """The list `user_id` was shown last, if any."""
        async with self._store.reading() as db:
            row = await db.fetchone(
                "SELECT entries, shown_at FROM status_menus WHERE user_id = ?", (user_id,)
            )
        if row is None:
            return None
        entries, shown_at = row
        return StoredMenu(entries=list(json.loads(entries)), shown_at=from_text(shown_at))
