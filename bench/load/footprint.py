"""The footprint phase: the bot's start-up time and resident memory with nothing stored, with
`--memory-tokens` delegated tokens, and with as many pending conversations.

The bot is started three more times against one sandbox, its database seeded straight through
the bot's stores (bench/seed.py, run with the bot's own source) with nothing, with fake
delegated tokens (`Store.put_token`), or with pending e-mail changes waiting for "yes"
(`ConversationStore.put`), each plus one real token of a probe user. Memory is VmRSS 0.3 s
after the first `/nick` was answered; start-up is the time from `exec` to that answer (the probe
says `/nick …` every 50 ms until one is answered). The baseline's start-up is measured the same
way with `ping`.
"""

from __future__ import annotations

import asyncio
import os
import sys
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any, Final

from bench.client import ChatUser
from bench.load.phases import Options
from bench.load.targets import new_secret_key, start_baseline, start_bot
from bench.load.workspace import (
    ADMIN_NAME,
    ADMIN_PASSWORD,
    BASELINE_NAME,
    BOT_NAME,
    PROBE_NAME,
    TARGET_PASSWORD,
    USER_PASSWORD,
    WORKSPACE_ENV,
    grant_send_many_messages,
    new_http_session,
    wait_until_answered,
)
from bench.proc import PROJECT_ROOT, child_environment, start_sandbox
from sandbox.people import create_account

SETTLE_SECONDS: Final = 0.3


async def seed_tokens(
    db: Path,
    secret_key: str,
    probe: ChatUser,
    probe_token: str,
    fake: int,
    source: Path,
    conversations: int = 0,
) -> float:
    """Store the probe's real token, `fake` made-up ones and `conversations` pending
    conversations through the bot's stores (in a child, with the bot's own source); returns the
    seconds it took."""
    env = child_environment(
        {
            "PYTHONPATH": f"{source}{os.pathsep}{PROJECT_ROOT}",
            "BENCH_SECRET_KEY": secret_key,
            "BENCH_PROBE_TOKEN": probe_token,
        }
    )
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bench.seed",
        "--db",
        str(db),
        "--fake",
        str(fake),
        "--conversations",
        str(conversations),
        "--probe-user-id",
        probe.user_id,
        "--probe-username",
        probe.username,
        cwd=source,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await process.communicate()
    if process.returncode != 0:
        raise RuntimeError(f"seeding {db} failed:\n{err.decode(errors='replace')[-2000:]}")
    return float(out.decode().strip())


async def run_footprint(options: Options, work: Path) -> dict[str, Any]:
    """Start-up time and resident memory of the bot with nothing stored, with N delegated
    tokens, and with N pending conversations."""
    sandbox, url = await start_sandbox("sandbox-footprint", WORKSPACE_ENV, work)
    runs: dict[str, Any] = {}
    try:
        async with AsyncExitStack() as stack:
            http = await stack.enter_async_context(new_http_session())
            admin = ChatUser(http, url, ADMIN_NAME, ADMIN_PASSWORD)
            await stack.enter_async_context(admin)
            await grant_send_many_messages(admin)
            await create_account(admin, BOT_NAME, TARGET_PASSWORD, roles=["bot"])
            await create_account(admin, BASELINE_NAME, TARGET_PASSWORD, roles=["bot"])
            await create_account(admin, PROBE_NAME, USER_PASSWORD, roles=["user"])
            probe = ChatUser(http, url, PROBE_NAME, USER_PASSWORD)
            await stack.enter_async_context(probe)
            token = await probe.create_personal_access_token("bench")
            many = options.memory_tokens
            variants = {"empty": (0, 0), "tokens": (many, 0), "conversations": (0, many)}
            for label, (fake, conversations) in variants.items():
                db = work / f"bot-footprint-{label}.db"
                key = new_secret_key()
                seeding = await seed_tokens(
                    db, key, probe, token, fake, options.bot_source, conversations
                )
                child = await start_bot(
                    url, db, key, work, f"bot-footprint-{label}", options.bot_source
                )
                try:
                    startup = await wait_until_answered(
                        probe, BOT_NAME, child, f"/nick start-{fake}-{{}}".format
                    )
                    await asyncio.sleep(SETTLE_SECONDS)
                    memory = child.memory_kb()
                finally:
                    await child.stop()
                runs[label] = {
                    "fake_tokens": fake,
                    "pending_conversations": conversations,
                    "seeding_s": round(seeding, 2),
                    "start_to_first_command_s": round(startup, 3),
                    "rss_kb": memory.get("VmRSS"),
                    "peak_rss_kb": memory.get("VmHWM"),
                }
            child = await start_baseline(url, work, "baseline-footprint")
            try:
                baseline_startup = await wait_until_answered(
                    probe, BASELINE_NAME, child, lambda k: f"ping {k}"
                )
                await asyncio.sleep(SETTLE_SECONDS)
                baseline_memory = child.memory_kb()
            finally:
                await child.stop()
    finally:
        await sandbox.stop()
    many = options.memory_tokens

    def per_item(label: str) -> float | None:
        grown = runs[label]["rss_kb"] - runs["empty"]["rss_kb"]
        return round(grown * 1024 / many, 1) if many else None

    return {
        "how": (
            "database seeded through bot.storage.store.Store.put_token with fake tokens plus one "
            "real token of a probe user, or with pending e-mail changes through "
            "ConversationStore.put; memory is VmRSS 0.3 s after the first /nick was answered"
        ),
        "runs": runs,
        "delegated_users": many,
        "bytes_per_delegated_user": per_item("tokens"),
        "pending_conversations": many,
        "bytes_per_pending_conversation": per_item("conversations"),
        "bot_start_to_first_command_s": max(r["start_to_first_command_s"] for r in runs.values()),
        "baseline_start_to_first_answer_s": round(baseline_startup, 3),
        "baseline_rss_kb": baseline_memory.get("VmRSS"),
    }
