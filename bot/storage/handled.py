"""The handled-message record: which messages the bot has finished with, across restarts.

The dispatcher's in-memory seen-set stops a message from running twice while the process lives;
this record (schema version 4, in the bot's SQLite file) does it across restarts and catch-ups:

* a message is *accepted* when the dispatcher queues it and *finished* when its lane is done
  with it (answered, or taken by a hook, or found to be chatter). Finishing writes its id and,
  in the same transaction, the room's catch-up mark: the server time up to which every message
  of the room is finished (the newest finished one, but never past one still in flight).
* after a reconnect or a restart the bot asks each room for its history since the mark (a
  little before: clients may date their messages a few seconds back) and feeds what it finds
  to the dispatcher; `is_new` turns away whatever was finished or is still in flight.
* a message killed in flight (SIGKILL) was never finished, so it runs again after the restart.
  Profile changes set values, so running one again lands on the same profile.
* nothing older than `window` seconds runs: neither a missed command from long ago, nor an old
  message the server re-sends (a reaction to it). Ids are kept a while longer, then pruned.

Room '' holds when the bot first listened: a room without a mark is caught up from there.

With replicas (PostgreSQL, `store.shared`), every replica sees every message, so accepting one
is a *claim* in the database: its row is written with the replica's id and a lease, atomically,
and only the replica whose insert went through runs it. The heartbeat (bot/replicas.py) extends
the leases of the claims a replica holds; a claim whose lease ran out belongs to a replica that
died, and `expired_claims` tells the others which rooms to read again so one of them takes it
over. On SQLite one process owns the file, so the claim stays in memory.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from enum import Enum
from typing import Final

from bot.core.message import IncomingMessage
from bot.storage.backends import Connection
from bot.storage.store import Store

log = logging.getLogger(__name__)


class Claim(Enum):
    """What the ledger says about a message this process wants to handle."""

    MINE = "mine"  # handle it now
    TAKEN = "taken"  # handled already, in flight, elsewhere, or too old: drop it
    WAIT = "wait"  # an older message of the sender is unfinished on another replica: ask later


FIRST_RUN: Final = ""  # the catch_up_marks row of the whole bot
# Rocket.Chat lets a client date a message up to 10 s back (more is replaced by the server's
# time), so a message may arrive older than one already handled: look back this far.
MARK_SLACK_MS: Final = 30_000.0
# Ids outlive the window by this much, for clocks that disagree a little.
KEEP_EXTRA_SECONDS: Final = 3600.0
PRUNE_EVERY: Final = 500  # finished messages between two prunes
BLOCK_LEASES: Final = 3  # leases an expired claim still keeps its sender's next messages waiting


class HandledMessages:
    """The stored record of finished messages and per-room catch-up marks (a MessageLedger)."""

    def __init__(
        self,
        store: Store,
        *,
        window: float,
        clock: Callable[[], float] = time.time,
        owner: str = "",
        lease: float = 15.0,
    ) -> None:
        self._store = store
        self.window = window
        self._clock = clock  # wall-clock seconds, comparable with the server's message times
        self.owner = owner  # this replica's id, written into its claims
        self.lease = lease
        self._in_flight: dict[str, dict[str, float | None]] = {}  # room → {message id: ts}
        self._newest: dict[str, float] = {}  # room → newest finished ts
        self._since_prune = 0

    @property
    def claims_in_database(self) -> bool:
        """True when other replicas share the record, so claims are made in the database."""
        return self._store.shared

    # -- the dispatcher's side (MessageLedger) ------------------------------------------------

    def too_old(self, ts: float | None) -> bool:
        """True when a message of server time `ts` (epoch ms) is older than the window."""
        return ts is not None and ts < (self._clock() - self.window) * 1000

    async def claim(
        self, message: IncomingMessage, ts: float | None, *, late: bool = False
    ) -> Claim:
        """MINE when this process is to handle the message: it is not finished, not in flight
        here, not too old, and (with replicas) no live replica claimed it first. With
        replicas, WAIT while an older message of the same sender is unfinished elsewhere, so
        that one person's commands run in the order sent even when a replica dies."""
        if message.id in self._in_flight.get(message.room_id, {}):
            return Claim.TAKEN
        if self.too_old(ts):
            log.info("not acting on message %s: older than the catch-up window", message.id)
            return Claim.TAKEN
        if self.claims_in_database:
            verdict = await self._claim_in_database(message, ts, late=late)
            if verdict is not Claim.MINE:
                return verdict
        else:
            async with self._store.reading() as db:
                if await db.fetchone(
                    "SELECT 1 FROM handled_messages WHERE message_id = ?", (message.id,)
                ):
                    return Claim.TAKEN
        self._in_flight.setdefault(message.room_id, {})[message.id] = ts
        return Claim.MINE

    async def _claim_in_database(
        self, message: IncomingMessage, ts: float | None, *, late: bool
    ) -> Claim:
        now, when = self._clock(), ts or 0.0
        if late:
            # A message left to its owner is usually claimed by now: a plain read says so
            # without taking the row's lock (which the owner's finish may be waiting for).
            async with self._store.reading() as db:
                row = await db.fetchone(
                    "SELECT claimed_by, lease_until FROM handled_messages WHERE message_id = ?",
                    (message.id,),
                )
            if row is not None and (row[0] is None or float(row[1]) >= now):
                return Claim.TAKEN
        async with self._store.transaction() as db:
            won = await db.fetchone(
                "INSERT INTO handled_messages (message_id, room_id, sender_id, ts, handled_at,"
                " claimed_by, lease_until)"
                " SELECT ?, ?, ?, CAST(? AS DOUBLE PRECISION), CAST(? AS DOUBLE PRECISION), ?,"
                " CAST(? AS DOUBLE PRECISION)"
                " WHERE NOT EXISTS (SELECT 1 FROM handled_messages AS older"
                " WHERE older.sender_id = ? AND older.claimed_by IS NOT NULL"
                " AND older.claimed_by <> ? AND older.ts < ? AND older.message_id <> ?"
                " AND older.lease_until >= ?)"
                " ON CONFLICT(message_id) DO UPDATE SET claimed_by = excluded.claimed_by,"
                " lease_until = excluded.lease_until, handled_at = excluded.handled_at,"
                " sender_id = excluded.sender_id"
                " WHERE handled_messages.claimed_by IS NOT NULL"
                " AND handled_messages.lease_until < ?"
                " RETURNING message_id",
                (
                    message.id,
                    message.room_id,
                    message.sender_id,
                    when,
                    now,
                    self.owner,
                    now + self.lease,
                    message.sender_id,
                    self.owner,
                    when,
                    message.id,
                    # A stopped replica's claim holds the sender's later messages back only
                    # for a while: long enough to be taken over, not forever if it never is.
                    now - BLOCK_LEASES * self.lease,
                    now,
                ),
            )
            if won is not None:
                return Claim.MINE
            row = await db.fetchone(
                "SELECT claimed_by, lease_until FROM handled_messages WHERE message_id = ?",
                (message.id,),
            )
        if row is not None and (row[0] is None or float(row[1]) >= now):
            return Claim.TAKEN  # finished, or in a live replica's hands
        return Claim.WAIT  # an older message of the sender comes first

    async def finished(self, message: IncomingMessage) -> None:
        """Record the message as handled and move its room's mark, durably, before returning.

        Messages finishing together share one transaction (Store.write_together): under load
        one write records many, and each caller still returns only once its own row is stored.
        """
        room = self._in_flight.get(message.room_id, {})
        ts = room.get(message.id)
        mark = self._mark_after(message.room_id, ts, finishing=message.id)
        now = self._clock()

        async def write(db: Connection) -> None:
            if self.claims_in_database:
                await db.execute(
                    "UPDATE handled_messages SET claimed_by = NULL, lease_until = NULL,"
                    " handled_at = ? WHERE message_id = ? AND claimed_by = ?",
                    (now, message.id, self.owner),
                )
            else:
                await db.execute(
                    "INSERT INTO handled_messages (message_id, room_id, ts, handled_at)"
                    " VALUES (?, ?, ?, ?) ON CONFLICT(message_id) DO NOTHING",
                    (message.id, message.room_id, ts or 0.0, now),
                )
            if mark is not None:
                await db.execute(
                    "INSERT INTO catch_up_marks (room_id, ts) VALUES (?, ?)"
                    " ON CONFLICT(room_id) DO UPDATE SET ts = CASE"
                    " WHEN excluded.ts > catch_up_marks.ts THEN excluded.ts"
                    " ELSE catch_up_marks.ts END",
                    (message.room_id, mark),
                )

        try:
            await self._store.write_together(write)
        finally:
            # Only now: until the row is written, `claim` must still see it in flight.
            room.pop(message.id, None)
            if not room:
                self._in_flight.pop(message.room_id, None)
        self._since_prune += 1
        if self._since_prune >= PRUNE_EVERY:
            await self.prune()

    def _mark_after(self, room_id: str, ts: float | None, *, finishing: str) -> float | None:
        if ts is not None:
            self._newest[room_id] = max(ts, self._newest.get(room_id, ts))
        newest = self._newest.get(room_id)
        if newest is None:
            return None
        waiting = [
            t
            for other, t in self._in_flight.get(room_id, {}).items()
            if t is not None and other != finishing
        ]
        return min(newest, min(waiting) - 1) if waiting else newest

    # -- replicas -----------------------------------------------------------------------------

    async def renew(self) -> int:
        """Extend the leases of every claim this replica holds; returns how many."""
        if not self.claims_in_database or not self._in_flight:
            return 0
        # SKIP LOCKED: a row locked meanwhile is being finished by this replica's own write
        # (its claim is about to go), and waiting for it while holding the others' locks could
        # deadlock with that write, which PostgreSQL only breaks after a second.
        async with self._store.transaction() as db:
            return await db.execute(
                "UPDATE handled_messages SET lease_until = ? WHERE message_id IN"
                " (SELECT message_id FROM handled_messages WHERE claimed_by = ?"
                " FOR UPDATE SKIP LOCKED)",
                (self._clock() + self.lease, self.owner),
            )

    async def expired_claims(self) -> dict[str, float]:
        """room id → the oldest server time (epoch ms) of a claim whose lease ran out: what a
        replica that stopped was working on, to be read again and taken over."""
        if not self.claims_in_database:
            return {}
        async with self._store.transaction() as db:
            # Claims too old to act on are given up: nobody may take them over any more.
            await db.execute(
                "UPDATE handled_messages SET claimed_by = NULL, lease_until = NULL"
                " WHERE claimed_by IS NOT NULL AND lease_until < ? AND ts < ?",
                (self._clock(), (self._clock() - self.window) * 1000),
            )
            rows = await db.fetchall(
                "SELECT room_id, MIN(ts) FROM handled_messages"
                " WHERE claimed_by IS NOT NULL AND lease_until < ? GROUP BY room_id",
                (self._clock(),),
            )
        return {str(room): float(ts) for room, ts in rows}

    # -- catch-up ---------------------------------------------------------------------------

    async def start(self) -> None:
        """Note when the bot first listened (once), and prune old ids."""
        async with self._store.transaction() as db:
            await db.execute(
                "INSERT INTO catch_up_marks (room_id, ts) VALUES (?, ?) ON CONFLICT DO NOTHING",
                (FIRST_RUN, self._clock() * 1000),
            )
        await self.prune()

    async def since(self) -> Callable[[str], float]:
        """Per room, the server time (epoch ms) after which its history must be read."""
        async with self._store.reading() as db:
            rows = await db.fetchall("SELECT room_id, ts FROM catch_up_marks")
        marks = {str(room): float(ts) for room, ts in rows}
        first_run = marks.pop(FIRST_RUN, self._clock() * 1000)
        oldest = (self._clock() - self.window) * 1000

        def since(room_id: str) -> float:
            mark = marks[room_id] - MARK_SLACK_MS if room_id in marks else first_run
            return max(mark, oldest)

        return since

    async def prune(self) -> int:
        """Forget ids handled longer ago than the window (and a margin); returns how many."""
        self._since_prune = 0
        cutoff = self._clock() - self.window - KEEP_EXTRA_SECONDS
        async with self._store.transaction() as db:
            removed = await db.execute(
                "DELETE FROM handled_messages WHERE handled_at < ? AND claimed_by IS NULL",
                (cutoff,),
            )
        if removed:
            log.info("forgot %d handled message id(s) older than the catch-up window", removed)
        return removed
