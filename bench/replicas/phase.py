"""One phase: R replicas against a fresh sandbox and database, the load, the checks."""

from __future__ import annotations

import asyncio
import math
import secrets
import time
from collections import Counter
from collections.abc import Sequence
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

from bench.client import ChatUser
from bench.load.drive import Answers, VisibilitySampler, drive
from bench.load.plan import plan_commands
from bench.load.stats import latency_summary
from bench.load.workspace import (
    ADMIN_NAME,
    ADMIN_PASSWORD,
    BOT,
    BOT_NAME,
    TARGET_PASSWORD,
    WORKSPACE_ENV,
    grant_send_many_messages,
    join_users,
    new_http_session,
    wait_until_answered,
)
from bench.proc import (
    Child,
    own_cpu_seconds,
    start_sandbox,
)
from bench.replicas.cluster import (
    Replica,
    check_alive,
    start_replicas,
    wait_for_full_live_set,
    wait_until_healthy,
)
from bench.replicas.database import (
    DatabaseWaits,
    check_database,
    find_postmaster,
    server_cpu_seconds,
)
from bench.replicas.exactly_once import count_answers, dm_history
from bench.replicas.options import (
    LOG_EXCERPT_LINES,
    Options,
)
from bot.storage.replicas import preferred
from sandbox.people import create_account
from tests.postgres_server import create_database, drop_database

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
            check_alive(replicas)
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
