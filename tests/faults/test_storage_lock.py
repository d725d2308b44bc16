"""Another process holding the SQLite lock must not freeze every user: the command that needs
to write meanwhile gets an answer saying so, everyone else goes on, and no handled-message
record is lost (it is written once the lock is free)."""

from __future__ import annotations

import asyncio
import sqlite3
import sys

from tests.faults.conftest import FaultWorld, Talker, count

HOLD_SECONDS = 8.0
LOCKER = """
import sqlite3, sys, time
db = sqlite3.connect(sys.argv[1], isolation_level=None)
db.execute("BEGIN IMMEDIATE")
print("locked", flush=True)
time.sleep(float(sys.argv[2]))
db.execute("ROLLBACK")
"""


async def ready(world: FaultWorld, name: str) -> Talker:
    person = await world.person(name)
    await person.delegate()
    return person


async def test_a_locked_database_is_an_answer_for_one_and_no_pause_for_others(
    fault_world: FaultWorld,
) -> None:
    await fault_world.start_bot()
    alice = await ready(fault_world, "alice")
    bob = await ready(fault_world, "bob")
    await bob.ask("/help", "/status")  # bob's DM exists before the lock

    locker = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        LOCKER,
        str(fault_world.db),
        str(HOLD_SECONDS),
        stdout=asyncio.subprocess.PIPE,
    )
    try:
        assert locker.stdout is not None
        assert await locker.stdout.readline() == b"locked\n"
        nick = await alice.tell("/nick Locked")
        await asyncio.sleep(0.2)
        helped = await bob.tell("/help")
        # bob is answered while alice's command waits for the lock, not after it.
        bob_answers = await bob.wait_for(lambda got: count(got, "/status") >= 2)
        assert count(bob_answers, "/status") == 2
        assert count(await alice.answers(), "busy") == 0
        answers = await alice.wait_for_each("busy")
        busy = next(answer for answer in answers if "busy" in answer)
        assert "nothing was changed" in busy and "try again" in busy
        assert "nickname" not in await alice.profile()
    finally:
        await locker.wait()

    # Once the lock is free, every message is on record, and the bot works as before.
    assert "“Free”" in await alice.ask("/nick Free", "Nickname set")
    with sqlite3.connect(fault_world.db) as connection:
        handled = {row[0] for row in connection.execute("SELECT message_id FROM handled_messages")}
    assert {nick, helped} <= handled
