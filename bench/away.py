"""What one person out of office costs the bot: connections, memory and CPU, against a baseline.

    python -m bench.away [--away 20] [--messages 300] [--idle 10] [--json FILE]

One sandbox and one bot (`python -m bot run`, each its own process); N people with a delegated
token and one more who writes. Two phases on the same bot, measured from /proc:

* baseline: nobody is away. The bot holds its own connection; the writer posts M messages
  in #general (everyone's channel), then the bot sits idle for a while.
* away: the N people send `/ooo for 1d`; once the bot follows each of them (one realtime
  connection per person: its socket count rises by N) the same M messages and the same idle
  time are measured again. Every message of #general now also crosses N followers.

Reported: the bot's sockets, resident memory and CPU seconds (for the M messages, and idle) in
each phase, the ratios away / baseline, and the cost per away person (sockets, KiB, CPU ms per
1,000 messages of their rooms). `tests/bench/test_away_smoke.py` runs it tiny.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

from bench.load.targets import new_secret_key, start_bot
from bench.load.workspace import (
    ADMIN_NAME,
    ADMIN_PASSWORD,
    BOT_NAME,
    TARGET_PASSWORD,
    USER_PASSWORD,
    WORKSPACE_ENV,
)
from bench.proc import PROJECT_ROOT, Child, start_sandbox
from sandbox.people import Person, create_account

WAIT = 60.0


def sockets(pid: int) -> int:
    """Open sockets of the process (its connections: realtime, REST keep-alive)."""
    count = 0
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            count += os.readlink(fd).startswith("socket:")
        except OSError:
            continue
    return count


async def _until(check: Any, what: str) -> None:
    deadline = time.monotonic() + WAIT
    while not check():
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


async def _bot_listens(person: Person) -> None:
    """Until the bot answers (what it is sent before its first login is not for it)."""
    deadline = time.monotonic() + WAIT
    while True:
        try:
            await person.ask(BOT_NAME, "/help", timeout=2.0)
            return
        except TimeoutError:
            if time.monotonic() > deadline:
                raise RuntimeError("the bot does not answer") from None


async def _measure(bot: Child, writer: Person, messages: int, idle: float) -> dict[str, float]:
    """Post `messages` in #general, wait until the bot is quiet again, then sit idle."""
    before = bot.cpu_seconds()
    for index in range(messages):
        await writer.say("GENERAL", f"news {index}: nothing for anyone in particular")
    await asyncio.sleep(1.0)  # the last frames reach the bot and its followers
    traffic = bot.cpu_seconds() - before
    before = bot.cpu_seconds()
    await asyncio.sleep(idle)
    return {
        "sockets": sockets(bot.pid),
        "rss_kib": bot.memory_kb()["VmRSS"],
        "cpu_messages_s": traffic,
        "cpu_idle_s": bot.cpu_seconds() - before,
    }


async def run(away: int, messages: int, idle: float, work: Path) -> dict[str, Any]:
    """Both phases; the figures as a dict."""
    async with AsyncExitStack() as stack:
        sandbox, url = await start_sandbox("sandbox", WORKSPACE_ENV, work)
        stack.push_async_callback(sandbox.stop)
        admin = await stack.enter_async_context(Person(url, ADMIN_NAME, ADMIN_PASSWORD))
        await create_account(admin, BOT_NAME, TARGET_PASSWORD, roles=["bot"])
        await admin.rest(
            "POST",
            "permissions.update",
            json={
                "permissions": [{"_id": "send-many-messages", "roles": ["admin", "user", "bot"]}]
            },
        )
        bot = await start_bot(url, work / "bot.db", new_secret_key(), work, "bot", PROJECT_ROOT)
        stack.push_async_callback(bot.stop)
        people = []
        for index in range(away + 1):
            name = f"away{index:04d}" if index < away else "writer"
            await create_account(admin, name, USER_PASSWORD)
            people.append(await stack.enter_async_context(Person(url, name, USER_PASSWORD)))
        *absent, writer = people
        await _bot_listens(writer)
        for person in absent:
            token = await person.create_personal_access_token("ooo")
            reply = await person.ask(BOT_NAME, f"/token set {token}", timeout=WAIT)
            assert "stored" in reply["msg"], reply["msg"]
        baseline = await _measure(bot, writer, messages, idle)
        for person in absent:
            reply = await person.ask(BOT_NAME, "/ooo for 1d", timeout=WAIT)
            assert "out of office" in reply["msg"], reply["msg"]
        wanted = baseline["sockets"] + away
        await _until(lambda: sockets(bot.pid) >= wanted, f"{away} followers")
        await asyncio.sleep(1.0)  # each follower reads its rooms once (catch-up)
        following = await _measure(bot, writer, messages, idle)
    return _report(away, messages, idle, baseline, following)


def _ratio(a: float, b: float) -> float | None:
    return round(a / b, 3) if b > 0 else None


def _report(
    away: int, messages: int, idle: float, base: dict[str, float], on: dict[str, float]
) -> dict[str, Any]:
    return {
        "away": away,
        "messages": messages,
        "idle_s": idle,
        "baseline": base,
        "away_phase": on,
        "ratio_rss": _ratio(on["rss_kib"], base["rss_kib"]),
        "ratio_cpu_messages": _ratio(on["cpu_messages_s"], base["cpu_messages_s"]),
        "ratio_cpu_idle": _ratio(on["cpu_idle_s"], base["cpu_idle_s"]),
        "per_person_sockets": (on["sockets"] - base["sockets"]) / away,
        "per_person_kib": round((on["rss_kib"] - base["rss_kib"]) / away, 1),
        "per_person_cpu_ms_per_1000_messages": round(
            (on["cpu_messages_s"] - base["cpu_messages_s"]) * 1000 / away * 1000 / messages, 2
        ),
        "per_person_idle_cpu_ms_per_s": round(
            (on["cpu_idle_s"] - base["cpu_idle_s"]) * 1000 / away / idle, 3
        ),
    }


def _print(figures: dict[str, Any]) -> None:
    base, on = figures["baseline"], figures["away_phase"]
    print(
        f"{figures['away']} away, {figures['messages']} messages in #general, {figures['idle_s']:g} s idle"
    )
    print(f"{'':12}{'baseline':>12}{'away':>12}{'ratio':>8}")
    for key, label in (
        ("sockets", "sockets"),
        ("rss_kib", "RSS KiB"),
        ("cpu_messages_s", "CPU msgs s"),
        ("cpu_idle_s", "CPU idle s"),
    ):
        ratio = _ratio(on[key], base[key])
        print(f"{label:12}{base[key]:>12.3f}{on[key]:>12.3f}{ratio if ratio else '-':>8}")
    print(
        f"one away person: {figures['per_person_sockets']:g} connection(s), "
        f"{figures['per_person_kib']:g} KiB, "
        f"{figures['per_person_cpu_ms_per_1000_messages']:g} ms CPU per 1,000 messages of "
        f"their rooms, {figures['per_person_idle_cpu_ms_per_s']:g} ms CPU per idle second"
    )


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.away", description=__doc__)
    parser.add_argument("--away", type=int, default=20, help="people out of office (20)")
    parser.add_argument("--messages", type=int, default=300, help="messages per phase (300)")
    parser.add_argument("--idle", type=float, default=10.0, help="idle seconds measured (10)")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()
    if args.away < 1 or args.messages < 1:
        parser.error("--away and --messages must be at least 1")
    with tempfile.TemporaryDirectory(prefix="rcbot-away-") as folder:
        figures = asyncio.run(run(args.away, args.messages, args.idle, Path(folder)))
    _print(figures)
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2))
    print(json.dumps(figures))
    sys.exit(0)


if __name__ == "__main__":
    main()
