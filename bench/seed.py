"""Seed a bot database with delegated tokens and pending conversations, through the bot's own
stores (`Store.put_token`, `ConversationStore.put`).

    BENCH_SECRET_KEY=... BENCH_PROBE_TOKEN=... python -m bench.seed --db FILE --fake N \\
        [--conversations C] --probe-user-id ID --probe-username NAME

Stores the probe user's real token and N made-up ones (random, never valid on any server), and C
pending e-mail changes waiting for a "yes" (deadline a day away, so none expires during the
run), then prints the seconds it took. The benchmark runs it as a child process with the bot's own source
on PYTHONPATH, so the schema written is the one the bot under test expects.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Final

from bot.storage.conversations import ConversationKey, ConversationRecord, ConversationStore
from bot.storage.store import Store

PENDING_FOR: Final = timedelta(days=1)


def fake_user_id(index: int) -> str:
    """The user id of the `index`th made-up delegated token."""
    return f"fakeuser{index:06d}"


async def seed(
    db: Path, secret_key: str, probe: tuple[str, str, str], fake: int, conversations: int = 0
) -> float:
    """Store the probe's token, `fake` fake ones and `conversations` pending conversations;
    returns the seconds taken."""
    started = time.perf_counter()
    store = await Store.open(db, secret_key=secret_key)
    try:
        user_id, username, token = probe
        await store.put_token(user_id=user_id, username=username, token=token)
        for index in range(fake):
            await store.put_token(
                user_id=fake_user_id(index),
                username=f"fake{index:06d}",
                token=secrets.token_urlsafe(32),
            )
        records = ConversationStore(store)
        deadline = datetime.now(UTC) + PENDING_FOR
        for index in range(conversations):
            await records.put(
                ConversationRecord(
                    key=ConversationKey(
                        room_id=f"fakedm{index:06d}", user_id=f"fakeconv{index:06d}"
                    ),
                    flow="email",
                    step="confirm",
                    expires_at=deadline,
                    data={
                        "email": f"fake{index:06d}@example.com",
                        "old": "f***@example.com",
                        "username": f"fakeconv{index:06d}",
                    },
                )
            )
    finally:
        await store.close()
    return time.perf_counter() - started


def main() -> None:
    """`python -m bench.seed ...` (the key and the probe's token come from the environment)."""
    parser = argparse.ArgumentParser(prog="python -m bench.seed", description=__doc__)
    parser.add_argument("--db", type=Path, required=True)
    parser.add_argument("--fake", type=int, default=0)
    parser.add_argument("--conversations", type=int, default=0)
    parser.add_argument("--probe-user-id", required=True)
    parser.add_argument("--probe-username", required=True)
    args = parser.parse_args()
    probe = (args.probe_user_id, args.probe_username, os.environ["BENCH_PROBE_TOKEN"])
    seconds = asyncio.run(
        seed(args.db, os.environ["BENCH_SECRET_KEY"], probe, args.fake, args.conversations)
    )
    print(f"{seconds:.3f}")


if __name__ == "__main__":
    main()
