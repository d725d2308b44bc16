"""`python -m bench.replicas --users N --commands M [--replicas 1,2,3]`: throughput by replicas.

One run measures every replica count R in `--replicas` (1, 2 and 3 by default), each against a
fresh `python -m sandbox` process and a fresh PostgreSQL database, with R `python -m bot run`
processes sharing that database (`RCBOT_DB=postgresql://…`, a short `--lease`, each with its own
health port). The load is one pass of bench.load's burst mix: N users, each with a token
delegated in the DM, send M commands in closed loops over DDP (`plan_commands`, `join_users`,
`drive`).

Before the load, every replica must answer `/healthz` and every heartbeat row in `replicas` must
have been written again after all R rows existed, so each replica's live set is complete and
rendezvous hashing splits the users as it will during the load. The figures per R: throughput,
reply latency p50/p95/p99/max, the bot processes' CPU seconds (summed) per command, the
sandbox's and the database server's CPU per command, and per replica the users it owns, the
commands it ran (`/metrics`) and its CPU. CPU is counted until `defer` + 0.5 s after the last
answer, so the other replicas' (failed) claims of the last commands are included. Each figure is
compared with the smallest R (1: the single replica is this benchmark's baseline) measured in
the same run; with `--rounds K` the order of the R alternates and every figure and ratio is the
median over the rounds. `--sample-db-waits` also samples `pg_stat_activity` during the load
(what the bots' connections do, and who blocks those waiting for a lock).

Exactly once, checked after the load and a settling pause (defer + lease + a heartbeat, so late
claims and take-overs would have shown): every bot message in each user's DM history
(`im.history`) is attributed to the command it answers (nickname and bio by their quoted value,
status by its presence: the latest such command sent before it), and each command must have
exactly one answer; in the database no claim is left (`handled_messages.claimed_by`) and
`audit_log` holds one row with cause `command …` per command, per user. Any duplicate, missing or
unattributable answer, timeout, leftover claim or audit mismatch makes the exit status 1.

PostgreSQL: `--postgres URL` (a superuser's URL, to create the databases), else
$RCBOT_TEST_POSTGRES, else a throwaway server (tests/postgres_server.py) for the run. Every run
is bounded (per-answer timeout, overall `--timeout`), its children are stopped in `finally`, and
everything listens on 127.0.0.1.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import platform
import re
import secrets
import time
from collections import Counter
from collections.abc import Callable, Sequence
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import aiohttp
import asyncpg

from bench.client import ChatUser
from bench.load.drive import Answers, VisibilitySampler, drive
from bench.load.plan import Command, plan_commands
from bench.load.report import publish
from bench.load.stats import latency_summary, median_of
from bench.load.targets import bot_environment, new_secret_key
from bench.load.workspace import (
    ADMIN_NAME,
    ADMIN_PASSWORD,
    BOT,
    BOT_NAME,
    READY_TIMEOUT_SECONDS,
    TARGET_PASSWORD,
    WORKSPACE_ENV,
    grant_send_many_messages,
    in_work_folder,
    join_users,
    new_http_session,
    wait_until_answered,
)
from bench.proc import (
    PROJECT_ROOT,
    Child,
    cpu_seconds,
    own_cpu_seconds,
    start_child,
    start_sandbox,
)
from bot.storage.replicas import preferred
from sandbox.people import create_account
from tests.postgres_server import TemporaryPostgres, create_database, drop_database, free_port

DEFAULT_LEASE_SECONDS: Final = 3.0
DEFAULT_DEFER_SECONDS: Final = 1.0  # the bot's default replica_defer
POLL_SECONDS: Final = 0.05
HISTORY_PAGE: Final = 100  # the server's API_Upper_Count_Limit
LOG_PROBLEM: Final = re.compile(r" (WARNING|ERROR|CRITICAL) |Traceback")
LOG_EXCERPT_LINES: Final = 8
DB_SAMPLE_SECONDS: Final = 0.02
METRIC_COMMANDS: Final = "rcbot_commands_total{"


@dataclass(frozen=True)
class Options:
    """The command line, checked."""

    users: int
    commands: int
    replica_counts: tuple[int, ...]
    rounds: int
    lease: float
    defer: float
    reply_timeout: float
    sample_db_waits: bool
    postgres: str | None
    bot_source: Path
    keep: bool


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


def _check_alive(replicas: Sequence[Replica]) -> None:
    for replica in replicas:
        if replica.child.process.returncode is not None:
            raise RuntimeError(f"{replica.child.name} exited early:\n{replica.child.log_tail()}")


async def wait_until_healthy(http: aiohttp.ClientSession, replicas: Sequence[Replica]) -> None:
    """Poll every replica's /healthz until all answer 200 (or one exits, or time runs out)."""
    deadline = time.perf_counter() + READY_TIMEOUT_SECONDS
    waiting = list(replicas)
    while waiting:
        _check_alive(replicas)
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
            _check_alive(replicas)
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


# -- exactly once ----------------------------------------------------------------------------


def answers(command: Command, text: str) -> bool:
    """True when a bot message `text` can be the answer to `command` (see the docstring)."""
    return command.accepts(text)


@dataclass
class AnswerCount:
    """How many bot answers each command of one user got, from the DM's history."""

    per_command: list[int]
    unmatched: list[str] = field(default_factory=list)

    @property
    def duplicates(self) -> int:
        return sum(max(0, count - 1) for count in self.per_command)

    @property
    def missing(self) -> int:
        return sum(1 for count in self.per_command if count == 0)


def count_answers(plan: Sequence[Command], history: Sequence[dict[str, Any]]) -> AnswerCount:
    """Walk a DM's history (oldest first): the user's messages are the plan's commands in order,
    each bot message after the first command is given to the latest command it can answer."""
    counted = AnswerCount([0] * len(plan))
    sent = 0
    for message in history:
        if message.get("t"):
            continue  # system messages
        text = str(message.get("msg", ""))
        if (message.get("u") or {}).get("username") != BOT_NAME:
            if sent < len(plan) and text == plan[sent].text:
                sent += 1
            continue
        if sent == 0:
            continue  # the answer to `/token set`
        index = next((i for i in range(sent - 1, -1, -1) if answers(plan[i], text)), None)
        if index is None:
            counted.unmatched.append(text[:160])
        else:
            counted.per_command[index] += 1
    return counted  # a command the history does not show counts as missing (0 answers)


async def dm_history(user: ChatUser, room_id: str) -> list[dict[str, Any]]:
    """Every message of a DM, oldest first (im.history pages are newest first)."""
    newest_first: list[dict[str, Any]] = []
    while True:
        page = await user.rest(
            "GET",
            "im.history",
            params={
                "roomId": room_id,
                "count": str(HISTORY_PAGE),
                "offset": str(len(newest_first)),
            },
        )
        messages = page["messages"]
        newest_first.extend(messages)
        if len(messages) < HISTORY_PAGE:
            return newest_first[::-1]


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


# -- one phase -------------------------------------------------------------------------------


async def _stop_all(children: Sequence[Child]) -> None:
    await asyncio.gather(*(child.stop() for child in children), return_exceptions=True)


async def run_replica_phase(
    count: int, options: Options, admin_url: str, work: Path, round_number: int
) -> dict[str, Any]:
    """A fresh sandbox and database, R bots, N users, M commands; the figures and the checks."""
    suffix = f"r{count}-{round_number}"
    db_name = f"bench_replicas_{suffix.replace('-', '_')}_{secrets.token_hex(3)}"
    db_url = await create_database(admin_url, db_name)
    sandbox, url = await start_sandbox(f"sandbox-{suffix}", WORKSPACE_ENV, work)
    replicas: list[Replica] = []
    waits: DatabaseWaits | None = None
    try:
        async with AsyncExitStack() as stack:
            http = await stack.enter_async_context(new_http_session())
            admin = ChatUser(http, url, ADMIN_NAME, ADMIN_PASSWORD)
            await stack.enter_async_context(admin)
            await grant_send_many_messages(admin)
            await create_account(admin, BOT_NAME, TARGET_PASSWORD, roles=["bot"])
            replicas = await start_replicas(count, url, db_url, options, work, f"bot-{suffix}")
            await wait_until_healthy(http, replicas)
            ids = await wait_for_full_live_set(db_url, replicas, options.lease)
            ready = await wait_until_answered(
                admin, BOT_NAME, replicas[0].child, lambda _: BOT.probe_text
            )
            setup_started = time.perf_counter()
            users = await join_users(stack, http, admin, options.users, BOT, options.reply_timeout)
            setup_seconds = time.perf_counter() - setup_started
            plans = plan_commands([user.username for user, _ in users], options.commands, 0)
            sampler = VisibilitySampler(admin, 0, options.reply_timeout)  # nothing is sampled
            result = Answers()
            postmaster = await find_postmaster(db_url)
            owners = Counter(preferred(user.user_id, sorted(ids.values())) for user, _ in users)
            commands_before = [await r.commands_run(http) for r in replicas]
            cpu_before = [r.child.cpu_seconds() for r in replicas]
            sandbox_cpu_before = sandbox.cpu_seconds()
            db_cpu_before = server_cpu_seconds(postmaster) if postmaster else math.nan
            own_cpu_before = own_cpu_seconds()
            cpu_window_started = time.perf_counter()
            if options.sample_db_waits:
                waits = DatabaseWaits(db_url)
                await waits.start()
            await asyncio.gather(
                *(
                    drive(user, room_id, plan, result, sampler, options.reply_timeout)
                    for (user, room_id), plan in zip(users, plans, strict=True)
                )
            )
            own_cpu = own_cpu_seconds() - own_cpu_before
            # The other replicas try to claim each message `defer` seconds after it came: wait
            # for the last ones so their cost is counted too.
            await asyncio.sleep(options.defer + 0.5)
            wait_figures = await waits.stop() if waits is not None else None
            cpu = [r.child.cpu_seconds() - b for r, b in zip(replicas, cpu_before, strict=True)]
            cpu_window = time.perf_counter() - cpu_window_started
            sandbox_cpu = sandbox.cpu_seconds() - sandbox_cpu_before
            db_cpu = server_cpu_seconds(postmaster) - db_cpu_before if postmaster else None
            memory = [r.child.memory_kb() for r in replicas]
            # Late duplicates and take-overs of claims would show up within a lease and a beat.
            await asyncio.sleep(options.lease + options.lease / 3 + 0.5)
            _check_alive(replicas)
            commands_run = [
                await r.commands_run(http) - b
                for r, b in zip(replicas, commands_before, strict=True)
            ]
            counts = [
                count_answers(plan, await dm_history(user, room_id))
                for (user, room_id), plan in zip(users, plans, strict=True)
            ]
            expected = {
                user.user_id: len(plan) for (user, _), plan in zip(users, plans, strict=True)
            }
            database = await check_database(db_url, expected)
    finally:
        if waits is not None:
            await waits.stop()  # again, harmless: only to close its connection after a failure
        await _stop_all([r.child for r in replicas])
        await sandbox.stop()
        if not options.keep:
            await drop_database(admin_url, db_name)
    handled = len(result.latencies)
    duration = result.last_answered - result.first_sent if handled else math.nan
    per_command = max(handled, 1)
    once = {
        "answers_heard": sum(sum(c.per_command) + len(c.unmatched) for c in counts),
        "duplicates": sum(c.duplicates for c in counts),
        "missing": sum(c.missing for c in counts),
        "unmatched": sum(len(c.unmatched) for c in counts),
        "unmatched_examples": [text for c in counts for text in c.unmatched][:5],
        **database,
        "audit_expected": options.commands,
    }
    once["ok"] = (
        once["duplicates"] == once["missing"] == once["unmatched"] == 0
        and result.timeouts == result.wrong == 0
        and database["claims_left"] == database["audit_duplicates"] == 0
        and database["audit_missing"] == 0
        and database["audit_command_rows"] == options.commands
    )
    problems = [line for r in replicas for line in r.log_problems()]
    return {
        "replicas": count,
        "round": round_number,
        "commands_sent": options.commands,
        "answered_ok": handled,
        "answered_wrong": result.wrong,
        "timeouts": result.timeouts,
        "extra_messages": result.extra,
        "wrong_examples": result.wrong_examples,
        "duration_s": round(duration, 3),
        "throughput_per_s": round(handled / duration, 2) if handled else None,
        "reply_latency": latency_summary(result.latencies),
        "bot_cpu_s": round(sum(cpu), 3),
        "bot_cpu_ms_per_command": round(sum(cpu) * 1000 / per_command, 3),
        "bot_cpu_cores": round(sum(cpu) / cpu_window, 2),
        "sandbox_cpu_ms_per_command": round(sandbox_cpu * 1000 / per_command, 3),
        "postgres_cpu_ms_per_command": (
            round(db_cpu * 1000 / per_command, 3) if db_cpu is not None else None
        ),
        "loadgen_cpu_share_of_a_core": round(own_cpu / duration, 2) if handled else None,
        "per_replica": [
            {
                "replica_id": ids[r.child.pid],
                "users_owned": owners.get(ids[r.child.pid], 0),
                "commands_run": run,
                "cpu_s": round(c, 3),
                "peak_rss_kb": m.get("VmHWM"),
                "log_problems": len(r.log_problems()),
            }
            for r, run, c, m in zip(replicas, commands_run, cpu, memory, strict=True)
        ],
        "exactly_once": once,
        "database_activity": wait_figures,
        "log_excerpts": problems[:LOG_EXCERPT_LINES],
        "start_to_first_answer_s": round(ready, 3),
        "setup_s": round(setup_seconds, 2),
    }


# -- the run ---------------------------------------------------------------------------------


def _ratio(value: Any, base: Any) -> float | None:
    if not isinstance(value, int | float) or not isinstance(base, int | float) or not base:
        return None
    return round(value / base, 2)


def ratios(phase: dict[str, Any], base: dict[str, Any]) -> dict[str, float | None]:
    """R replicas against the baseline R, figure by figure."""
    latency, base_latency = phase["reply_latency"], base["reply_latency"]
    return {
        "throughput": _ratio(phase["throughput_per_s"], base["throughput_per_s"]),
        "reply_p50": _ratio(latency["p50_ms"], base_latency["p50_ms"]),
        "reply_p95": _ratio(latency["p95_ms"], base_latency["p95_ms"]),
        "reply_p99": _ratio(latency["p99_ms"], base_latency["p99_ms"]),
        "reply_max": _ratio(latency["max_ms"], base_latency["max_ms"]),
        "bot_cpu_per_command": _ratio(
            phase["bot_cpu_ms_per_command"], base["bot_cpu_ms_per_command"]
        ),
        "sandbox_cpu_per_command": _ratio(
            phase["sandbox_cpu_ms_per_command"], base["sandbox_cpu_ms_per_command"]
        ),
        "postgres_cpu_per_command": _ratio(
            phase["postgres_cpu_ms_per_command"], base["postgres_cpu_ms_per_command"]
        ),
    }


def exactly_once_total(phases: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """The checks summed over every phase of every round (a median would hide one failure)."""
    keys = ("duplicates", "missing", "unmatched", "claims_left", "audit_duplicates")
    total: dict[str, Any] = {key: sum(p["exactly_once"][key] for p in phases) for key in keys}
    total["audit_missing"] = sum(p["exactly_once"]["audit_missing"] for p in phases)
    total["timeouts"] = sum(p["timeouts"] for p in phases)
    total["wrong_answers"] = sum(p["answered_wrong"] for p in phases)
    total["phases_failed"] = [
        f"R={p['replicas']} round {p['round']}" for p in phases if not p["exactly_once"]["ok"]
    ]
    total["ok"] = not total["phases_failed"]
    return total


async def run_benchmark(options: Options, admin_url: str, work: Path) -> dict[str, Any]:
    """Every replica count in every round; medians, ratios and the exactly-once verdict."""
    base = min(options.replica_counts)
    report: dict[str, Any] = {
        "config": {
            "users": options.users,
            "commands": options.commands,
            "replicas": list(options.replica_counts),
            "baseline_replicas": base,
            "rounds": options.rounds,
            "replica_lease_s": options.lease,
            "replica_defer_s": options.defer,
            "mode": "closed loop: each user sends its next command after the previous answer",
            "mix": "cycling /nick, /bio, /status (first 4 /status of a user with a text)",
            "database": "PostgreSQL, a fresh database per phase",
            "bot_source": str(options.bot_source),
            "machine": {
                "cpus": os.cpu_count(),
                "python": platform.python_version(),
                "platform": platform.platform(),
                "loadavg_at_start": Path("/proc/loadavg").read_text().split()[:3],
            },
            "started_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        },
    }
    rounds: list[dict[str, Any]] = []
    for number in range(1, options.rounds + 1):
        # Alternate the order so that drift in the machine's other load favours no R.
        order = options.replica_counts if number % 2 else options.replica_counts[::-1]
        measured = {
            str(count): await run_replica_phase(count, options, admin_url, work, number)
            for count in order
        }
        measured["ratios"] = {
            str(count): ratios(measured[str(count)], measured[str(base)])
            for count in options.replica_counts
        }
        rounds.append(measured)
    report["results"] = {
        str(count): median_of([measured[str(count)] for measured in rounds])
        for count in options.replica_counts
    }
    report["ratios"] = {
        str(count): median_of([measured["ratios"][str(count)] for measured in rounds])
        for count in options.replica_counts
    }
    if options.rounds > 1:
        report["rounds"] = rounds
    report["exactly_once"] = exactly_once_total(
        [measured[str(count)] for measured in rounds for count in options.replica_counts]
    )
    return report


# -- report ----------------------------------------------------------------------------------


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:,.2f}"
    return f"{value:,}" if isinstance(value, int) else str(value)


def render(report: dict[str, Any]) -> str:
    """The plain-text report: one column per replica count, value and ratio to the baseline."""
    config = report["config"]
    counts = [str(count) for count in config["replicas"]]
    lines = [
        (
            f"bench.replicas: {config['users']} users, {config['commands']} commands, closed "
            f"loop; replicas {','.join(counts)} on one PostgreSQL database (lease "
            f"{config['replica_lease_s']} s, defer {config['replica_defer_s']} s); "
            f"{config['machine']['cpus']} CPUs, load average at start "
            f"{config['machine']['loadavg_at_start']}"
        ),
        f"each cell: the figure (its ratio to {config['baseline_replicas']} replica(s), same run)",
    ]
    if config["rounds"] > 1:
        lines.append(
            f"{config['rounds']} rounds, order alternating: medians over the rounds (ratios: "
            "median of the rounds' ratios)"
        )
    rows: list[tuple[str, Callable[[dict[str, Any]], Any], str | None]] = [
        ("throughput (commands/s)", lambda r: r["throughput_per_s"], "throughput"),
        ("reply latency p50 (ms)", lambda r: r["reply_latency"]["p50_ms"], "reply_p50"),
        ("reply latency p95 (ms)", lambda r: r["reply_latency"]["p95_ms"], "reply_p95"),
        ("reply latency p99 (ms)", lambda r: r["reply_latency"]["p99_ms"], "reply_p99"),
        ("reply latency max (ms)", lambda r: r["reply_latency"]["max_ms"], "reply_max"),
        (
            "bot CPU per command (ms, sum)",
            lambda r: r["bot_cpu_ms_per_command"],
            "bot_cpu_per_command",
        ),
        ("bot CPU (cores busy)", lambda r: r["bot_cpu_cores"], None),
        (
            "sandbox CPU per command (ms)",
            lambda r: r["sandbox_cpu_ms_per_command"],
            "sandbox_cpu_per_command",
        ),
        (
            "PostgreSQL CPU per command (ms)",
            lambda r: r["postgres_cpu_ms_per_command"],
            "postgres_cpu_per_command",
        ),
        ("load generator CPU (cores)", lambda r: r["loadgen_cpu_share_of_a_core"], None),
        ("answered ok", lambda r: r["answered_ok"], None),
        ("wrong answers / timeouts", lambda r: f"{r['answered_wrong']} / {r['timeouts']}", None),
        (
            "duplicates / missing / unmatched",
            lambda r: "{duplicates} / {missing} / {unmatched}".format(**r["exactly_once"]),
            None,
        ),
        ("claims left in the database", lambda r: r["exactly_once"]["claims_left"], None),
        (
            "audit rows (command) / expected",
            lambda r: "{audit_command_rows} / {audit_expected}".format(**r["exactly_once"]),
            None,
        ),
        (
            "commands run per replica",
            lambda r: "/".join(str(p["commands_run"]) for p in r["per_replica"]),
            None,
        ),
        (
            "users owned per replica",
            lambda r: "/".join(str(p["users_owned"]) for p in r["per_replica"]),
            None,
        ),
    ]
    results, ratio = report["results"], report["ratios"]
    lines.append("")
    lines.append(
        f"{'':34}" + "".join(f"{f'{c} replica' + ('s' if c != '1' else ''):>20}" for c in counts)
    )
    for title, pick, key in rows:
        cells = []
        for count in counts:
            text = _cell(pick(results[count]))
            if key is not None and count != str(config["baseline_replicas"]):
                text += f" ({_cell(ratio[count].get(key))})"
            cells.append(f"{text:>20}")
        lines.append(f"{title:34}" + "".join(cells))
    for number, measured in enumerate(report.get("rounds", []), start=1):
        parts = [
            f"R={count}: throughput ×{_cell(measured['ratios'][count]['throughput'])}, p50 "
            f"×{_cell(measured['ratios'][count]['reply_p50'])}"
            for count in counts
            if count != str(config["baseline_replicas"])
        ]
        lines.append(f"round {number}: " + "; ".join(parts))
    for count in counts:
        activity = results[count].get("database_activity")
        if activity:
            busiest = activity["top"][0][0] if activity["top"] else "-"
            lines.append(
                f"R={count} database: {activity['mean_connections_not_idle']} connections busy, "
                f"{activity['mean_waiting_for_a_lock']} waiting for a lock (mean of "
                f"{activity['samples']} samples); busiest: {busiest}"
            )
            for blocked, n in activity["lock_waits_blocked_by"][:2]:
                lines.append(f"    lock wait ({n}x): {blocked}")
        for line in results[count]["log_excerpts"][:3]:
            lines.append(f"R={count} log: {line[:200]}")
    once = report["exactly_once"]
    lines.append("")
    lines.append(
        "exactly once: "
        + ("ok" if once["ok"] else f"FAILED in {', '.join(once['phases_failed'])}")
        + f" (duplicates {once['duplicates']}, missing {once['missing']}, unmatched "
        f"{once['unmatched']}, timeouts {once['timeouts']}, claims left {once['claims_left']}, "
        f"audit duplicates/missing {once['audit_duplicates']}/{once['audit_missing']}; summed "
        "over every phase)"
    )
    return "\n".join(lines)


# -- command line ----------------------------------------------------------------------------


def parse_options(argv: Sequence[str] | None) -> tuple[Options, argparse.Namespace]:
    """The command line."""
    parser = argparse.ArgumentParser(
        prog="python -m bench.replicas", description=(__doc__ or "").split("\n\n")[0]
    )
    parser.add_argument("--users", type=int, default=20)
    parser.add_argument("--commands", type=int, default=1000)
    parser.add_argument(
        "--replicas", default="1,2,3", help="comma-separated replica counts (default 1,2,3)"
    )
    parser.add_argument("--rounds", type=int, default=1, help="repeat every count; medians")
    parser.add_argument("--json", type=Path, metavar="FILE", help="also write the report here")
    parser.add_argument(
        "--postgres",
        metavar="URL",
        help="a PostgreSQL superuser's URL (default: $RCBOT_TEST_POSTGRES, else a throwaway "
        "server started for the run)",
    )
    parser.add_argument(
        "--lease", type=float, default=DEFAULT_LEASE_SECONDS, help="RCBOT_REPLICA_LEASE (s)"
    )
    parser.add_argument(
        "--defer", type=float, default=DEFAULT_DEFER_SECONDS, help="RCBOT_REPLICA_DEFER (s)"
    )
    parser.add_argument("--reply-timeout", type=float, default=20.0)
    parser.add_argument(
        "--sample-db-waits",
        action="store_true",
        help="sample what the bots' database connections do during the load (pg_stat_activity)",
    )
    parser.add_argument(
        "--timeout", type=float, default=1800.0, help="stop the whole run after this many seconds"
    )
    parser.add_argument("--keep", type=Path, help="keep the children's logs (and databases)")
    parser.add_argument(
        "--bot-source",
        type=Path,
        default=PROJECT_ROOT,
        help="run the bots from this source tree (default: this project)",
    )
    args = parser.parse_args(argv)
    try:
        counts = tuple(sorted({int(part) for part in args.replicas.split(",") if part.strip()}))
    except ValueError:
        counts = ()
    if (
        not counts
        or counts[0] < 1
        or args.users < 1
        or args.commands < args.users
        or args.rounds < 1
        or args.lease <= 0
        or args.defer < 0
    ):
        parser.error(
            "need --replicas like 1,2,3 (each ≥ 1), --users ≥ 1, --commands ≥ --users, "
            "--rounds ≥ 1, --lease > 0, --defer ≥ 0"
        )
    options = Options(
        users=args.users,
        commands=args.commands,
        replica_counts=counts,
        rounds=args.rounds,
        lease=args.lease,
        defer=args.defer,
        reply_timeout=args.reply_timeout,
        sample_db_waits=args.sample_db_waits,
        postgres=args.postgres or os.environ.get("RCBOT_TEST_POSTGRES") or None,
        bot_source=args.bot_source.resolve(),
        keep=args.keep is not None,
    )
    return options, args


async def _with_postgres(options: Options, work: Path) -> dict[str, Any]:
    if options.postgres is not None:
        return await run_benchmark(options, options.postgres, work)
    server = TemporaryPostgres()
    admin_url = await asyncio.to_thread(server.start)
    try:
        return await run_benchmark(options, admin_url, work)
    finally:
        await asyncio.to_thread(server.stop)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark, print the report, write the JSON if asked; 1 unless exactly once."""
    options, args = parse_options(argv)
    report = asyncio.run(
        in_work_folder(
            args.keep, "bench-replicas-", args.timeout, lambda work: _with_postgres(options, work)
        )
    )
    publish(render(report), report, args.json)
    return 0 if report["exactly_once"]["ok"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
