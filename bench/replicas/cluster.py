"""Starting R bot replicas on one PostgreSQL database and waiting until each sees all."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import asyncpg

from bench.load.targets import bot_environment, new_secret_key
from bench.load.workspace import READY_TIMEOUT_SECONDS
from bench.proc import (
    Child,
    start_child,
)
from bench.replicas.options import (
    LOG_PROBLEM,
    METRIC_COMMANDS,
    POLL_SECONDS,
    Options,
)
from tests.postgres_server import free_port

# -- the replicas ----------------------------------------------------------------------------


@dataclass
class Replica:
    """One `python -m bot run` process of a phase and the port of its /healthz and /metrics."""

    child: Child
    health_port: int

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.health_port}"

    async def healthy(self, http: aiohttp.ClientSession) -> bool:
        """True once the replica is connected and logged in (GET /healthz answers 200)."""
        try:
            async with http.get(f"{self.base}/healthz") as answer:
                return answer.status == 200
        except aiohttp.ClientError:
            return False

    async def commands_run(self, http: aiohttp.ClientSession) -> int:
        """Commands this replica has run so far, whatever their outcome (rcbot_commands_total)."""
        async with http.get(f"{self.base}/metrics") as answer:
            text = await answer.text()
        return round(
            sum(
                float(line.rsplit(" ", 1)[1])
                for line in text.splitlines()
                if line.startswith(METRIC_COMMANDS)
            )
        )

    def log_problems(self) -> list[str]:
        """The warning, error and traceback lines of its stderr."""
        try:
            lines = self.child.log_path.read_text(errors="replace").splitlines()
        except OSError:
            return []
        return [line for line in lines if LOG_PROBLEM.search(line)]


async def start_replicas(
    count: int, url: str, db_url: str, options: Options, work: Path, name: str
) -> list[Replica]:
    """R bots on one database: one secret key, the given lease and defer, a health port each."""
    key = new_secret_key()
    replicas: list[Replica] = []
    for number in range(1, count + 1):
        port = free_port()
        env = {
            **bot_environment(url, db_url, key, options.bot_source),
            "RCBOT_REPLICA_LEASE": str(options.lease),
            "RCBOT_REPLICA_DEFER": str(options.defer),
            "RCBOT_HEALTH_PORT": str(port),
        }
        child = await start_child(
            f"{name}-{number}",
            ["-m", "bot", "run"],
            env=env,
            log_dir=work,
            stdout_pipe=False,
            cwd=options.bot_source,
        )
        replicas.append(Replica(child, port))
    return replicas


def check_alive(replicas: Sequence[Replica]) -> None:
    """Raise if a replica has exited."""
    for replica in replicas:
        if replica.child.process.returncode is not None:
            raise RuntimeError(f"{replica.child.name} exited early:\n{replica.child.log_tail()}")


async def wait_until_healthy(http: aiohttp.ClientSession, replicas: Sequence[Replica]) -> None:
    """Poll every replica's /healthz until all answer 200 (or one exits, or time runs out)."""
    deadline = time.perf_counter() + READY_TIMEOUT_SECONDS
    waiting = list(replicas)
    while waiting:
        check_alive(replicas)
        if time.perf_counter() > deadline:
            names = ", ".join(r.child.name for r in waiting)
            raise RuntimeError(f"not healthy within {READY_TIMEOUT_SECONDS} s: {names}")
        waiting = [r for r in waiting if not await r.healthy(http)]
        if waiting:
            await asyncio.sleep(POLL_SECONDS)


async def wait_for_full_live_set(
    db_url: str, replicas: Sequence[Replica], lease: float
) -> dict[int, str]:
    """Wait until every replica wrote its heartbeat again after all R rows existed (so each
    one's live set holds all R); returns pid → replica id."""
    deadline = time.perf_counter() + READY_TIMEOUT_SECONDS + 2 * lease
    all_rows_at: float | None = None
    connection = await asyncpg.connect(db_url)
    try:
        while True:
            check_alive(replicas)
            if time.perf_counter() > deadline:
                raise RuntimeError("the replicas did not all see each other in time")
            rows = await connection.fetch("SELECT replica_id, seen_at FROM replicas")
            if len(rows) >= len(replicas):
                if all_rows_at is None:
                    all_rows_at = time.time()
                elif all(row["seen_at"] > all_rows_at for row in rows):
                    break
            await asyncio.sleep(POLL_SECONDS)
    finally:
        await connection.close()
    by_pid = {
        int(str(row["replica_id"]).rsplit("-", 2)[1]): str(row["replica_id"]) for row in rows
    }
    missing = [r.child.name for r in replicas if r.child.pid not in by_pid]
    if missing or len(rows) != len(replicas):
        raise RuntimeError(f"unexpected heartbeat rows {sorted(by_pid.values())} ({missing})")
    return by_pid
