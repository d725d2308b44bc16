"""What the per-command bookkeeping costs, in process, without Rocket.Chat.

    python -m bench.bookkeeping [--in-flight 32] [--commands 10000] [--rounds 3]

Each simulated command does what a status change does to the bot's SQLite file, through the
real classes: the handled-message claim (a read), the write-ahead audit entry, the settled entry
with its undo point and the cancelled reverts, then the handled record with the room's catch-up
mark; `--in-flight` commands at once, so the group commit batches as it does under load. It
prints one JSON line: the CPU per command (process time, µs) of every round and their median.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from bot.core.crypto import generate_key
from bot.core.message import IncomingMessage, RoomType
from bot.storage.automation import AutomationStore, UndoPoint
from bot.storage.handled import HandledMessages
from bot.storage.store import Store

PEOPLE = 3000
CAUSE = "command /status"


async def _one_command(
    number: int, automation: AutomationStore, handled: HandledMessages, at: datetime
) -> None:
    message_id, user_id = f"m{number}", f"u{number % PEOPLE}"
    message = IncomingMessage(
        id=message_id,
        room_id=f"r{number % PEOPLE}",
        room_type=RoomType.DIRECT,
        text="/status away",
        sender_id=user_id,
        sender_username=user_id,
    )
    await handled.claim(message, time.time() * 1000)
    changes = [{"field": "status_text", "old": "before", "new": "after"}]
    await automation.intend(
        message_id, at=at, user_id=user_id, username=user_id, changes=changes, cause=CAUSE
    )
    await automation.settle(
        user_id=user_id,
        username=user_id,
        at=at,
        changes=changes,
        cause=CAUSE,
        message_id=message_id,
        undo=UndoPoint(user_id, {"status_text": ("before", "after")}, CAUSE, at),
        drop_undo=False,
        cancel_reverts=["status"],
    )
    await handled.finished(message)


async def one_round(folder: Path, in_flight: int, commands: int) -> float:
    """CPU µs per command for `commands` commands, `in_flight` at a time, in a fresh file."""
    async with await Store.open(folder / "bookkeeping.db", secret_key=generate_key()) as store:
        automation = AutomationStore(store)
        handled = HandledMessages(store, window=3600)
        at = datetime.now(UTC)
        gate = asyncio.Semaphore(in_flight)

        async def gated(number: int) -> None:
            async with gate:
                await _one_command(number, automation, handled, at)

        started = time.process_time()
        await asyncio.gather(*(gated(number) for number in range(commands)))
        return (time.process_time() - started) / commands * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--in-flight", type=int, default=32)
    parser.add_argument("--commands", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=3)
    options = parser.parse_args()
    rounds = []
    for _ in range(options.rounds):
        with tempfile.TemporaryDirectory() as folder:
            cpu = asyncio.run(one_round(Path(folder), options.in_flight, options.commands))
        rounds.append(round(cpu, 1))
    figures = {
        "in_flight": options.in_flight,
        "commands": options.commands,
        "cpu_us_per_command": rounds,
        "median_cpu_us_per_command": statistics.median(rounds),
    }
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
