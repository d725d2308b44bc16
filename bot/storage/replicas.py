"""Several bot processes on one PostgreSQL database: who is alive, who leads, who owns whom.

Every replica logs in as the same bot account and sees every message. Claims in the database
make sure each message is handled once (bot/handled.py); this module adds what a replica needs
to share the work well:

* a heartbeat row per replica (`replicas`), refreshed every `lease / 3` seconds (at most every
  second), so each one knows which others are alive;
* per sender, one preferred replica among the live ones (rendezvous hashing): it claims that
  person's messages at once, the others only after `defer` seconds if nobody has. One person's
  commands and conversation answers thus land on one replica, in order, where a conversation's
  in-memory state is; when that replica stops, its people move to the others and nobody else's;
* named leases (`leases`): the scheduler runs only on the replica holding "scheduler", which
  renews it with each heartbeat; if it stops renewing, another takes it once it runs out.

Wall-clock seconds (`time.time`) are compared across replicas: keep their clocks in sync (NTP)
to well within the lease.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import secrets
import socket
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Final

from bot.storage.store import Store

log = logging.getLogger(__name__)

FORGET_AFTER_LEASES: Final = 20  # heartbeat rows of replicas gone this long are deleted
MAX_BEAT_SECONDS: Final = 1.0  # replicas learn of a new one this fast, whatever the lease
JOIN_BEATS: Final = 2  # a new replica leaves everyone to the others until they know it


def beat_period(lease: float) -> float:
    """Seconds between heartbeats: a third of the lease (so a claim outlives two missed beats),
    at most MAX_BEAT_SECONDS."""
    return min(lease / 3, MAX_BEAT_SECONDS)


def new_replica_id() -> str:
    """host-pid-random: unique, and says where to look for the process."""
    return f"{socket.gethostname()}-{os.getpid()}-{secrets.token_hex(3)}"


def _weight(key: str, replica_id: str) -> bytes:
    return hashlib.blake2b(f"{key}\x00{replica_id}".encode(), digest_size=8).digest()


def preferred(key: str, replica_ids: Sequence[str]) -> str | None:
    """The replica that owns `key` (rendezvous hashing): stable while the set is, and when one
    replica leaves only its keys move."""
    return max(replica_ids, key=lambda rid: _weight(key, rid), default=None)


class Replicas:
    """This replica's identity, the live set, preference per sender, and named leases."""

    def __init__(
        self,
        store: Store,
        *,
        lease: float,
        defer: float,
        replica_id: str | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._store = store
        self.lease = lease
        self.defer = defer
        self.id = replica_id or new_replica_id()
        self._clock = clock
        self._started = clock()
        self.live: tuple[str, ...] = (self.id,)

    def __repr__(self) -> str:
        return f"Replicas({self.id!r}, live={len(self.live)})"

    async def beat(self) -> tuple[str, ...]:
        """Say this replica is alive and learn which others are; returns the live ids."""
        now = self._clock()
        async with self._store.transaction() as db:
            await db.execute(
                "INSERT INTO replicas (replica_id, host, started_at, seen_at) VALUES (?, ?, ?, ?)"
                " ON CONFLICT(replica_id) DO UPDATE SET seen_at = excluded.seen_at",
                (self.id, socket.gethostname(), self._started, now),
            )
            await db.execute(
                "DELETE FROM replicas WHERE seen_at < ?", (now - FORGET_AFTER_LEASES * self.lease,)
            )
            rows = await db.fetchall(
                "SELECT replica_id FROM replicas WHERE seen_at >= ? ORDER BY replica_id",
                (now - self.lease,),
            )
        live = tuple(str(row[0]) for row in rows)
        if live != self.live:
            log.info("live replicas: %s", ", ".join(live))
        self.live = live or (self.id,)
        return self.live

    async def leave(self) -> None:
        """On a clean stop: drop the heartbeat row so the others take over at once."""
        async with self._store.transaction() as db:
            await db.execute("DELETE FROM replicas WHERE replica_id = ?", (self.id,))
            await db.execute("DELETE FROM leases WHERE owner = ?", (self.id,))

    def prefers(self, key: str) -> bool:
        """True when this replica is the one that should handle `key` (a sender id) first.

        Until the others have had time to see a new replica's heartbeat, it prefers nothing:
        they still share its people among themselves, and two replicas that both think a
        person is theirs would split that person's messages.
        """
        joining = self._clock() - self._started < JOIN_BEATS * beat_period(self.lease)
        view = tuple(rid for rid in self.live if rid != self.id) if joining else self.live
        return preferred(key, view) in (self.id, None)

    def defer_for(self, key: str) -> float:
        """Seconds to wait before claiming work of `key`: 0 when it is ours."""
        return 0.0 if self.prefers(key) else self.defer

    async def acquire(self, name: str) -> bool:
        """Take or renew the lease `name`; True while this replica holds it."""
        now = self._clock()
        async with self._store.transaction() as db:
            holder = await db.fetchone(
                "INSERT INTO leases (name, owner, until_at) VALUES (?, ?, ?)"
                " ON CONFLICT(name) DO UPDATE SET owner = excluded.owner,"
                " until_at = excluded.until_at"
                " WHERE leases.owner = excluded.owner OR leases.until_at < ?"
                " RETURNING owner",
                (name, self.id, now + self.lease, now),
            )
        return holder is not None

    async def release(self, name: str) -> None:
        """Give the lease `name` up (if this replica holds it)."""
        async with self._store.transaction() as db:
            await db.execute("DELETE FROM leases WHERE name = ? AND owner = ?", (name, self.id))

    async def holder(self, name: str) -> str | None:
        """Who holds the lease `name` now, if anyone."""
        async with self._store.reading() as db:
            row = await db.fetchone(
                "SELECT owner FROM leases WHERE name = ? AND until_at >= ?", (name, self._clock())
            )
        return str(row[0]) if row else None


Step = Callable[[], Awaitable[object]]


class Heartbeat:
    """Runs its steps every `period` seconds until stopped; a failed step is logged and the
    others still run (a database restart must not stop the heartbeat for good)."""

    def __init__(self, period: float, steps: Sequence[tuple[str, Step]]) -> None:
        self.period = period
        self._steps = list(steps)
        self._task: asyncio.Task[None] | None = None

    async def once(self) -> None:
        """Run every step once."""
        for name, step in self._steps:
            try:
                await step()
            except asyncio.CancelledError:
                raise
            except Exception as error:  # noqa: BLE001 - the next beat tries again
                log.warning("replica heartbeat: %s failed (%s)", name, error)

    def start(self) -> None:
        """Beat in the background."""
        if self._task is None:
            self._task = asyncio.create_task(self._forever(), name="rcbot-heartbeat")

    async def stop(self) -> None:
        """Stop beating."""
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    async def _forever(self) -> None:
        while True:
            await asyncio.sleep(self.period)
            await self.once()
