"""The database server's CPU time and, on request, what the bots' connections wait for;
the database's side of exactly once."""

from __future__ import annotations

import asyncio
import os
from collections import Counter
from pathlib import Path
from typing import Any

import asyncpg

from bench.proc import cpu_seconds
from bench.replicas.options import DB_SAMPLE_SECONDS

# -- the database server's CPU ---------------------------------------------------------------


def _stat_fields(pid: int) -> list[str]:
    stat = Path(f"/proc/{pid}/stat").read_text()
    return stat[stat.rindex(")") + 2 :].split()


async def find_postmaster(db_url: str) -> int | None:
    """The PostgreSQL server's main process, when it runs on this machine (else None)."""
    connection = await asyncpg.connect(db_url)
    try:
        backend = int(await connection.fetchval("SELECT pg_backend_pid()"))
        try:
            return int(_stat_fields(backend)[1])
        except (OSError, IndexError, ValueError):
            return None
    finally:
        await connection.close()


def server_cpu_seconds(postmaster: int) -> float:
    """CPU time of the whole server: the postmaster, its reaped children (cutime + cstime) and
    the children alive now (backends, background workers)."""
    fields = _stat_fields(postmaster)
    total = sum(int(value) for value in fields[11:15]) / os.sysconf("SC_CLK_TCK")
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if int(_stat_fields(int(entry.name))[1]) == postmaster:
                total += cpu_seconds(int(entry.name))
        except (OSError, IndexError, ValueError):
            continue  # gone meanwhile
    return total


class DatabaseWaits:
    """Samples `pg_stat_activity` of one database during the load: what the bots' connections
    are busy with or waiting for, and who blocks the ones waiting for a lock (opt-in: the
    sampling takes some CPU from the 2 cores too)."""

    def __init__(self, db_url: str) -> None:
        self._db_url = db_url
        self._seen: Counter[str] = Counter()
        self._blockers: Counter[str] = Counter()
        self._samples = 0
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Sample in the background every DB_SAMPLE_SECONDS."""
        connection = await asyncpg.connect(self._db_url)
        self._task = asyncio.create_task(self._sample(connection))

    async def _sample(self, connection: asyncpg.Connection) -> None:
        try:
            while not self._stop.is_set():
                rows = await connection.fetch(
                    "SELECT a.state, a.wait_event_type, a.wait_event, left(a.query, 60) AS q,"
                    " (SELECT left(b.query, 60) || ' [' || b.state || ']'"
                    "  FROM pg_stat_activity b WHERE b.pid = (pg_blocking_pids(a.pid))[1])"
                    " AS blocker"
                    " FROM pg_stat_activity a WHERE a.datname = current_database()"
                    " AND a.pid <> pg_backend_pid() AND a.state NOT IN ('idle')"
                )
                self._samples += 1
                for row in rows:
                    wait = f"{row['wait_event_type']}:{row['wait_event']}"
                    key = f"{row['state']} | {wait} | {row['q']}"
                    self._seen[key] += 1
                    if row["blocker"]:
                        self._blockers[f"{row['q']} ← {row['blocker']}"] += 1
                await asyncio.sleep(DB_SAMPLE_SECONDS)
        finally:
            await connection.close()

    async def stop(self) -> dict[str, Any]:
        """Stop sampling; the busiest states, mean connections busy, and the lock waits."""
        self._stop.set()
        if self._task is not None:
            await self._task
        samples = max(self._samples, 1)
        return {
            "samples": self._samples,
            "every_s": DB_SAMPLE_SECONDS,
            "mean_connections_not_idle": round(sum(self._seen.values()) / samples, 2),
            "mean_waiting_for_a_lock": round(sum(self._blockers.values()) / samples, 2),
            "top": [[key, n] for key, n in self._seen.most_common(8)],
            "lock_waits_blocked_by": [[key, n] for key, n in self._blockers.most_common(4)],
        }


async def check_database(db_url: str, expected_per_user: dict[str, int]) -> dict[str, int]:
    """Leftover claims, and audit rows of cause `command …` against the commands per user."""
    connection = await asyncpg.connect(db_url)
    try:
        claims = int(
            await connection.fetchval(
                "SELECT COUNT(*) FROM handled_messages WHERE claimed_by IS NOT NULL"
            )
        )
        rows = await connection.fetch(
            "SELECT user_id, COUNT(*) AS n FROM audit_log"
            " WHERE cause = 'command' OR cause LIKE 'command %' GROUP BY user_id"
        )
        handled = int(await connection.fetchval("SELECT COUNT(*) FROM handled_messages"))
    finally:
        await connection.close()
    found = {str(row["user_id"]): int(row["n"]) for row in rows}
    users = set(found) | set(expected_per_user)
    return {
        "claims_left": claims,
        "handled_message_rows": handled,
        "audit_command_rows": sum(found.values()),
        "audit_duplicates": sum(
            max(0, found.get(u, 0) - expected_per_user.get(u, 0)) for u in users
        ),
        "audit_missing": sum(max(0, expected_per_user.get(u, 0) - found.get(u, 0)) for u in users),
    }
