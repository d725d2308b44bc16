"""Calendar feeds on disk (schema: the "calendar feeds and status layers" migration).

    calendar_feeds   one row per person: the feed address, encrypted with the bot's key like a
                     token; whether their status shows meeting titles and whether all-day
                     events start an out of office (both off unless they say so); the poll
                     state (JSON, bot.automation.calendar.FeedState.as_record); the busy
                     intervals kept from the last expansion (JSON, UTC); the busy block their
                     status shows now; whether they were told their token stopped working

The address is the secret: it is never part of a repr, and only `address` decrypts it. The
state and the intervals are plain JSON the calendar service reads back; nothing here knows what
they mean. Times are UTC text as bot.storage.automation writes them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Final

from bot.storage.automation import from_text, to_text
from bot.storage.store import calendar_context

if TYPE_CHECKING:
    from bot.storage.store import Store

_COLUMNS: Final = (
    "user_id, username, show_titles, all_day_ooo, state, intervals, shown_start, shown_end,"
    " warned, created_at"
)


@dataclass(frozen=True)
class StoredFeed:
    """A person's calendar as kept, without its address (`CalendarStore.address` reads it)."""

    user_id: str
    username: str
    show_titles: bool = False
    all_day_ooo: bool = False
    state: dict[str, Any] = field(default_factory=dict)
    intervals: list[dict[str, Any]] = field(default_factory=list)
    shown_start: datetime | None = None
    shown_end: datetime | None = None
    warned: bool = False
    created_at: datetime | None = None


def _feed(row: Any) -> StoredFeed:
    user_id, username, titles, all_day, state, intervals, start, end, warned, created = row
    return StoredFeed(
        user_id=str(user_id),
        username=str(username),
        show_titles=bool(titles),
        all_day_ooo=bool(all_day),
        state=dict(json.loads(state)),
        intervals=list(json.loads(intervals)),
        shown_start=from_text(start) if start else None,
        shown_end=from_text(end) if end else None,
        warned=bool(warned),
        created_at=from_text(created) if created else None,
    )


class CalendarStore:
    """The queries on `calendar_feeds`; the address is sealed with the Store's key."""

    def __init__(self, store: Store) -> None:
        self._store = store

    async def put(self, user_id: str, username: str, address: str, *, at: datetime) -> None:
        """Store (or replace) the feed address of `user_id`, with a fresh state and no
        intervals; their choices are kept."""
        sealed = self._store.seal(address, context=calendar_context(user_id))
        async with self._store.transaction() as db:
            await db.execute(
                "INSERT INTO calendar_feeds (user_id, username, url_encrypted, state, intervals,"
                " created_at) VALUES (?, ?, ?, '{}', '[]', ?) ON CONFLICT(user_id) DO UPDATE SET"
                " username = excluded.username, url_encrypted = excluded.url_encrypted,"
                " state = '{}', intervals = '[]', warned = 0, created_at = excluded.created_at",
                (user_id, username, sealed, to_text(at)),
            )

    async def address(self, user_id: str) -> str | None:
        """The decrypted address of `user_id`'s feed; None when there is none or the
        configured key cannot read it."""
        async with self._store.reading() as db:
            row = await db.fetchone(
                "SELECT url_encrypted FROM calendar_feeds WHERE user_id = ?", (user_id,)
            )
        if row is None:
            return None
        return self._store.unseal(bytes(row[0]), context=calendar_context(user_id))

    async def get(self, user_id: str) -> StoredFeed | None:
        """The feed of `user_id`, if they set one."""
        async with self._store.reading() as db:
            row = await db.fetchone(
                f"SELECT {_COLUMNS} FROM calendar_feeds WHERE user_id = ?", (user_id,)
            )
        return _feed(row) if row is not None else None

    async def all(self) -> list[StoredFeed]:
        """Every stored feed (what start-up schedules again)."""
        async with self._store.reading() as db:
            rows = await db.fetchall(f"SELECT {_COLUMNS} FROM calendar_feeds ORDER BY user_id")
        return [_feed(row) for row in rows]

    async def set_since(self, moment: datetime) -> list[StoredFeed]:
        """The feeds set (or set again) at or after `moment`: what other replicas added."""
        async with self._store.reading() as db:
            rows = await db.fetchall(
                f"SELECT {_COLUMNS} FROM calendar_feeds WHERE created_at >= ?",
                (to_text(moment),),
            )
        return [_feed(row) for row in rows]

    async def forget(self, user_id: str) -> bool:
        """Delete the feed of `user_id` (address, state, intervals); True if there was one."""
        async with self._store.transaction() as db:
            deleted = await db.execute("DELETE FROM calendar_feeds WHERE user_id = ?", (user_id,))
        return deleted > 0

    async def choose(
        self, user_id: str, *, show_titles: bool | None = None, all_day_ooo: bool | None = None
    ) -> bool:
        """Change the person's choices; False when they have no feed."""
        sets, values = [], []
        if show_titles is not None:
            sets.append("show_titles = ?")
            values.append(int(show_titles))
        if all_day_ooo is not None:
            sets.append("all_day_ooo = ?")
            values.append(int(all_day_ooo))
        if not sets:
            return await self.get(user_id) is not None
        async with self._store.transaction() as db:
            changed = await db.execute(
                f"UPDATE calendar_feeds SET {', '.join(sets)} WHERE user_id = ?",
                (*values, user_id),
            )
        return changed > 0

    async def save_poll(
        self,
        user_id: str,
        state: dict[str, Any],
        intervals: list[dict[str, Any]] | None = None,
    ) -> bool:
        """Keep the poll state and, after a fresh expansion, the intervals; False when the
        feed was removed meanwhile."""
        async with self._store.transaction() as db:
            if intervals is None:
                changed = await db.execute(
                    "UPDATE calendar_feeds SET state = ? WHERE user_id = ?",
                    (json.dumps(state), user_id),
                )
            else:
                changed = await db.execute(
                    "UPDATE calendar_feeds SET state = ?, intervals = ? WHERE user_id = ?",
                    (json.dumps(state), json.dumps(intervals, ensure_ascii=False), user_id),
                )
        return changed > 0

    async def show(self, user_id: str, start: datetime | None, end: datetime | None) -> None:
        """Remember the busy block the status shows now (None, None: none)."""
        async with self._store.transaction() as db:
            await db.execute(
                "UPDATE calendar_feeds SET shown_start = ?, shown_end = ? WHERE user_id = ?",
                (to_text(start) if start else None, to_text(end) if end else None, user_id),
            )

    async def warn(self, user_id: str, warned: bool) -> bool:
        """Set whether the person was told their token stopped working; True when this call
        changed it (so they are told once)."""
        async with self._store.transaction() as db:
            changed = await db.execute(
                "UPDATE calendar_feeds SET warned = ? WHERE user_id = ? AND warned = ?",
                (int(warned), user_id, int(not warned)),
            )
        return changed > 0
