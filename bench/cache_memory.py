"""What the bot keeps in memory per *active* person, measured with tracemalloc.

    python -m bench.cache_memory [--users 10000]

bench.load's footprint phase measures the bot with 10,000 delegated tokens and 10,000 pending
conversations stored but idle: nothing per person is in memory then. A person who uses the bot
leaves three things behind in one process: their decrypted token (`Store.get_token`, kept while
the process runs), the profile Rocket.Chat last returned (`ProfileSnapshots`, for
`profile_snapshot_seconds`, and past it while the realtime API keeps its status exact, at most
`MAX_KEPT` people), and, with a conversation pending, its key
(`ConversationStore.may_have`). This fills each for N people through the bot's own classes and
reports the bytes per person next to the same process before (the baseline: the stores open,
nothing cached). The user document is shaped like Rocket.Chat's answer to
users.updateOwnBasicInfo (the sandbox's), custom fields included.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import secrets
import sys
import tempfile
import tracemalloc
from pathlib import Path
from typing import Any

from bench.seed import fake_user_id, seed
from bot.core.credentials import Credentials
from bot.core.crypto import generate_key
from bot.profile.model import Profile
from bot.profile.snapshots import MAX_KEPT, ProfileSnapshots
from bot.storage.conversations import ConversationKey, ConversationStore
from bot.storage.store import Store

TARGET_BYTES = 2048


def user_document(index: int) -> dict[str, Any]:
    """A user as users.updateOwnBasicInfo returns it (services cut: the bot never keeps them)."""
    return {
        "_id": f"user{index:06d}abcdefgh",
        "username": f"person{index:06d}",
        "name": f"Person Number {index}",
        "status": "away",
        "statusDefault": "away",
        "statusText": "In a meeting until 3 pm",
        "nickname": f"P{index}",
        "bio": "Likes long walks and short meetings. " * 3,
        "customFields": {"team": "Platform", "location": "Berlin"},
        "utcOffset": 1,
        "roles": ["user"],
    }


async def measure(users: int, folder: Path) -> dict[str, Any]:
    """Bytes per active person for each cache, after N people used the bot once."""
    key = generate_key()
    probe = ("probe-user-id", "probe", secrets.token_urlsafe(32))
    await seed(folder / "bot.db", key, probe, fake=users, conversations=users)
    # A fresh process's view: rows on disk, nothing cached yet.
    store = await Store.open(folder / "bot.db", secret_key=key)
    try:
        return await _fill(store, users)
    finally:
        await store.close()


async def _fill(store: Store, users: int) -> dict[str, Any]:
    snapshots = ProfileSnapshots(3600.0)
    snapshots.watching(1)  # kept by the realtime API, as on a connected bot
    conversations = ConversationStore(store)
    documents = [user_document(i) for i in range(users)]
    figures: dict[str, Any] = {"users": users}
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.take_snapshot()
    for index in range(users):
        await store.get_token(fake_user_id(index))
    figures["token_bytes_per_user"] = _grown(before, users)
    before = tracemalloc.take_snapshot()
    for index, document in enumerate(documents):
        credentials = Credentials(document["_id"], f"token-{index}")
        snapshots.put(credentials, Profile.from_user(document))
    figures["snapshot_bytes_per_user"] = _grown(before, users)
    before = tracemalloc.take_snapshot()
    await conversations.may_have(ConversationKey("none", "none"))  # loads every key
    figures["conversation_key_bytes"] = _grown(before, users)
    tracemalloc.stop()
    figures["active_user_bytes"] = round(
        figures["token_bytes_per_user"] + figures["snapshot_bytes_per_user"], 1
    )
    figures["target_bytes"] = TARGET_BYTES
    return figures


def _grown(before: tracemalloc.Snapshot, users: int) -> float:
    gc.collect()
    after = tracemalloc.take_snapshot()
    grown = sum(stat.size_diff for stat in after.compare_to(before, "filename"))
    return round(grown / users, 1)


def main(argv: list[str] | None = None) -> int:
    """`python -m bench.cache_memory [--users N]`: prints the figures as text and JSON."""
    parser = argparse.ArgumentParser(prog="python -m bench.cache_memory", description=__doc__)
    parser.add_argument("--users", type=int, default=10_000)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="rcbot-cache-memory-") as folder:
        figures = asyncio.run(measure(args.users, Path(folder)))
    ok = figures["active_user_bytes"] <= TARGET_BYTES
    print(
        f"bench.cache_memory: {args.users} people, each having used the bot once "
        f"(baseline: the same process before, nothing cached)\n"
        f"  decrypted token kept       {figures['token_bytes_per_user']:>8} B per person\n"
        f"  profile snapshot kept      {figures['snapshot_bytes_per_user']:>8} B per person "
        f"(at most {MAX_KEPT:,} people)\n"
        f"  pending conversation key   {figures['conversation_key_bytes']:>8} B per conversation\n"
        f"  active person in all       {figures['active_user_bytes']:>8} B "
        f"(target {TARGET_BYTES} B: {'met' if ok else 'MISSED'})"
    )
    print(json.dumps(figures))
    return 0


if __name__ == "__main__":
    sys.exit(main())
