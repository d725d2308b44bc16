"""Out-of-office absences on disk, and what the bot keeps of each while it lasts.

    absences           one row per person: the absence's dates, its note and its state
                       (scheduled → starting → active → ending; the row goes once it ended),
                       the server time (epoch ms) before which nothing is answered (`anchor_ms`)
                       and up to which the person's rooms have been read (`mark_ms`)
    absence_messages   the direct messages and mentions noted for the return digest: who,
                       where, when, the message id for its link; never the text
    absence_replies    one auto-reply per (absence, sender): claimed with a lease before it is
                       sent, then marked sent, so no restart or replica sends it twice
    ooo_choices        who wants "(OOO until …)" after their display name while away

A state change is a conditional update (`advance`): of two replicas or two runs, one wins.
Times are UTC text as bot.storage.automation writes them; server times are epoch ms.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Final, Literal

from bot.storage.automation import from_text, to_text

if TYPE_CHECKING:
    from bot.storage.backends import Connection
    from bot.storage.store import Store

AbsenceState = Literal["scheduled", "starting", "active", "ending"]
RoomKind = Literal["direct", "group", "channel", "private"]

_COLUMNS: Final = (
    "absence_id, user_id, username, state, starts_at, ends_at, note, zone, name_suffix,"
    " anchor_ms, mark_ms, created_at"
)
_MESSAGE_COLUMNS: Final = (
    "message_id, room_id, room_kind, room_name, thread_id, sender_id, sender_username, ts"
)


@dataclass(frozen=True)
class Absence:
    """One person's out of office: from `starts_at` until `ends_at` (UTC), with their note.

    `zone` is how their time zone was written when they set it (an IANA name or ±HH:MM), so
    dates are shown back to them as they meant them.
    """

    absence_id: str
    user_id: str
    username: str
    state: AbsenceState
    starts_at: datetime
    ends_at: datetime
    note: str
    zone: str
    name_suffix: bool
    created_at: datetime
    anchor_ms: float | None = None
    mark_ms: float | None = None


@dataclass(frozen=True)
class NotedMessage:
    """A direct message or mention that reached someone while away (for the digest)."""

    message_id: str
    room_id: str
    room_kind: RoomKind
    room_name: str | None
    thread_id: str | None
    sender_id: str
    sender_username: str
    ts: float  # epoch ms, the server's time of the message


def _absence(row: Any) -> Absence:
    (absence_id, user_id, username, state, starts_at, ends_at, note, zone, suffix) = row[:9]
    anchor, mark, created = row[9:12]
    return Absence(
        absence_id=str(absence_id),
        user_id=str(user_id),
        username=str(username),
        state=state,
        starts_at=from_text(starts_at),
        ends_at=from_text(ends_at),
        note=str(note),
        zone=str(zone),
        name_suffix=bool(suffix),
        created_at=from_text(created),
        anchor_ms=float(anchor) if anchor is not None else None,
        mark_ms=float(mark) if mark is not None else None,
    )


async def _forget(db: Connection, absence_ids: Iterable[str]) -> None:
    for absence_id in absence_ids:
        for table in ("absence_replies", "absence_messages", "absences"):
            await db.execute(f"DELETE FROM {table} WHERE absence_id = ?", (absence_id,))


class AbsenceStore:
    """The queries on the out-of-office tables, each one transaction of the shared Store."""

    def __init__(self, store: Store) -> None:
        self._store = store

    # -- absences ---------------------------------------------------------------------------

    async def replace(self, absence: Absence) -> None:
        """Store `absence` as the person's only one (an earlier one is forgotten with what it
        noted)."""
        async with self._store.transaction() as db:
            rows = await db.fetchall(
                "SELECT absence_id FROM absences WHERE user_id = ?", (absence.user_id,)
            )
            await _forget(db, [str(row[0]) for row in rows])
            await db.execute(
                f"INSERT INTO absences ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    absence.absence_id,
                    absence.user_id,
                    absence.username,
                    absence.state,
                    to_text(absence.starts_at),
                    to_text(absence.ends_at),
                    absence.note,
                    absence.zone,
                    int(absence.name_suffix),
                    absence.anchor_ms,
                    absence.mark_ms,
                    to_text(absence.created_at),
                ),
            )

    async def change_end(self, absence_id: str, *, ends_at: datetime, note: str) -> bool:
        """Move the end of an absence that has not started ending, and replace its note."""
        async with self._store.transaction() as db:
            changed = await db.execute(
                "UPDATE absences SET ends_at = ?, note = ? WHERE absence_id = ?"
                " AND state IN ('scheduled', 'starting', 'active')",
                (to_text(ends_at), note, absence_id),
            )
        return changed > 0

    async def get(self, absence_id: str) -> Absence | None:
        """The absence with this id, if it is still on."""
        async with self._store.reading() as db:
            row = await db.fetchone(
                f"SELECT {_COLUMNS} FROM absences WHERE absence_id = ?", (absence_id,)
            )
        return _absence(row) if row is not None else None

    async def of_user(self, user_id: str) -> Absence | None:
        """The person's absence (scheduled, under way or ending), if any."""
        async with self._store.reading() as db:
            row = await db.fetchone(
                f"SELECT {_COLUMNS} FROM absences WHERE user_id = ?", (user_id,)
            )
        return _absence(row) if row is not None else None

    async def all(self) -> list[Absence]:
        """Every stored absence, earliest start first (what start-up schedules again)."""
        async with self._store.reading() as db:
            rows = await db.fetchall(f"SELECT {_COLUMNS} FROM absences ORDER BY starts_at")
        return [_absence(row) for row in rows]

    async def advance(
        self, absence_id: str, *, from_states: Iterable[AbsenceState], to: AbsenceState
    ) -> bool:
        """Move the absence to state `to` if it is in one of `from_states`; True for the one
        caller whose update did it."""
        states = list(from_states)
        marks = ", ".join("?" for _ in states)
        async with self._store.transaction() as db:
            changed = await db.execute(
                f"UPDATE absences SET state = ? WHERE absence_id = ? AND state IN ({marks})",
                (to, absence_id, *states),
            )
        return changed > 0

    async def anchor(self, absence_id: str, anchor_ms: float) -> float:
        """Set the server time before which nothing is answered, once; returns the one kept."""
        async with self._store.transaction() as db:
            await db.execute(
                "UPDATE absences SET anchor_ms = ?, mark_ms = COALESCE(mark_ms, ?)"
                " WHERE absence_id = ? AND anchor_ms IS NULL",
                (anchor_ms, anchor_ms, absence_id),
            )
            row = await db.fetchone(
                "SELECT anchor_ms FROM absences WHERE absence_id = ?", (absence_id,)
            )
        return float(row[0]) if row is not None and row[0] is not None else anchor_ms

    async def mark(self, absence_id: str, mark_ms: float) -> None:
        """Everything up to `mark_ms` (server time) has been read; the mark never goes back."""
        async with self._store.transaction() as db:
            await db.execute(
                "UPDATE absences SET mark_ms = ? WHERE absence_id = ?"
                " AND (mark_ms IS NULL OR mark_ms < ?)",
                (mark_ms, absence_id, mark_ms),
            )

    async def forget(self, absence_id: str) -> None:
        """Drop the absence with everything noted for it (it ended, or was called off)."""
        async with self._store.transaction() as db:
            await _forget(db, [absence_id])

    # -- the digest -------------------------------------------------------------------------

    async def note(self, absence_id: str, message: NotedMessage) -> bool:
        """Keep `message` for the digest; False when it was noted already."""
        async with self._store.transaction() as db:
            added = await db.execute(
                f"INSERT INTO absence_messages (absence_id, {_MESSAGE_COLUMNS})"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
                (
                    absence_id,
                    message.message_id,
                    message.room_id,
                    message.room_kind,
                    message.room_name,
                    message.thread_id,
                    message.sender_id,
                    message.sender_username,
                    message.ts,
                ),
            )
        return added > 0

    async def noted(self, absence_id: str) -> list[NotedMessage]:
        """The messages noted for the digest, oldest first."""
        async with self._store.reading() as db:
            rows = await db.fetchall(
                f"SELECT {_MESSAGE_COLUMNS} FROM absence_messages WHERE absence_id = ?"
                " ORDER BY ts, message_id",
                (absence_id,),
            )
        return [
            NotedMessage(
                message_id=str(row[0]),
                room_id=str(row[1]),
                room_kind=row[2],
                room_name=row[3],
                thread_id=row[4],
                sender_id=str(row[5]),
                sender_username=str(row[6]),
                ts=float(row[7]),
            )
            for row in rows
        ]

    # -- auto-replies -----------------------------------------------------------------------

    async def claim_reply(
        self, absence_id: str, sender_id: str, *, owner: str, now: float, lease: float
    ) -> bool:
        """Claim the one auto-reply to `sender_id` in this absence: True when it is this
        caller's to send (never sent, and nobody else's claim is alive)."""
        async with self._store.transaction() as db:
            row = await db.fetchone(
                "INSERT INTO absence_replies (absence_id, sender_id, claimed_by, claim_until)"
                " VALUES (?, ?, ?, ?) ON CONFLICT(absence_id, sender_id) DO UPDATE SET"
                " claimed_by = excluded.claimed_by, claim_until = excluded.claim_until"
                " WHERE absence_replies.sent = 0 AND absence_replies.claim_until < ?"
                " RETURNING claimed_by",
                (absence_id, sender_id, owner, now + lease, now),
            )
        return row is not None and row[0] == owner

    async def reply_sent(self, absence_id: str, sender_id: str) -> None:
        """The auto-reply to `sender_id` went out: it is final."""
        async with self._store.transaction() as db:
            await db.execute(
                "UPDATE absence_replies SET sent = 1 WHERE absence_id = ? AND sender_id = ?",
                (absence_id, sender_id),
            )

    async def release_reply(self, absence_id: str, sender_id: str, *, owner: str) -> None:
        """Sending failed: give the claim up, so a later message of theirs may try again."""
        async with self._store.transaction() as db:
            await db.execute(
                "DELETE FROM absence_replies WHERE absence_id = ? AND sender_id = ?"
                " AND claimed_by = ? AND sent = 0",
                (absence_id, sender_id, owner),
            )

    async def replied_to(self, absence_id: str) -> int:
        """How many people got an auto-reply in this absence."""
        async with self._store.reading() as db:
            row = await db.fetchone(
                "SELECT COUNT(*) FROM absence_replies WHERE absence_id = ? AND sent = 1",
                (absence_id,),
            )
        return int(row[0]) if row is not None else 0

    # -- the display name suffix ------------------------------------------------------------

    async def wants_name_suffix(self, user_id: str) -> bool:
        """True when the person asked for "(OOO until …)" after their display name."""
        async with self._store.reading() as db:
            row = await db.fetchone(
                "SELECT name_suffix FROM ooo_choices WHERE user_id = ?", (user_id,)
            )
        return bool(row[0]) if row is not None else False

    async def choose_name_suffix(self, user_id: str, on: bool) -> None:
        """Record whether the person wants the suffix on their next absences."""
        async with self._store.transaction() as db:
            await db.execute(
                "INSERT INTO ooo_choices (user_id, name_suffix) VALUES (?, ?)"
                " ON CONFLICT(user_id) DO UPDATE SET name_suffix = excluded.name_suffix",
                (user_id, int(on)),
            )
