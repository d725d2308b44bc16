"""The bot as a real process, killed with SIGKILL mid-work or stopped with SIGTERM under load:
on restart nothing is lost (tokens, conversations, reverts, the handled-message record) and no
command is answered twice."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.e2e.conftest import BOT_PASSWORD
from tests.faults.conftest import BotProcess, FaultWorld, count, settle


@pytest.fixture
async def bot_process(fault_world: FaultWorld) -> AsyncIterator[BotProcess]:
    process = BotProcess(fault_world)
    await process.start()
    try:
        yield process
    finally:
        await process.ensure_stopped()


def rows(db: Path, query: str) -> list[tuple[object, ...]]:
    """Read the bot's database as it is on disk (after the process is gone)."""
    with sqlite3.connect(db) as connection:
        return list(connection.execute(query))


async def test_sigkill_mid_command_loses_nothing_and_repeats_no_answer(
    fault_world: FaultWorld, bot_process: BotProcess
) -> None:
    alice = await fault_world.person("alice")
    await alice.delegate()
    await alice.ask("/status away Lunch for 1h", "Status set to away")
    await alice.ask("/username alice2", "(yes/no)")
    # The next change hangs on the server: kill the bot while it waits for the answer.
    await fault_world.sandbox.inject(endpoint="users.updateOwnBasicInfo", delay=1.0)
    nick = await alice.tell("/nick K1")
    await fault_world.sandbox.wait_fired()
    await bot_process.kill()
    bio = await alice.tell("/bio Sent while the bot was dead")
    answer = await alice.tell("yes")

    await bot_process.start()
    answers = await alice.wait_for_each("“K1”", "Bio set", "you are now @alice2")
    await settle()
    answers = await alice.answers()
    for text in ("stored", "Status set to away", "(yes/no)", "“K1”", "Bio set", "now @alice2"):
        assert count(answers, text) == 1, (text, answers)
    profile = await alice.profile()
    assert (profile["nickname"], profile["username"]) == ("K1", "alice2")
    assert profile["bio"] == "Sent while the bot was dead"
    # The token survived: the commands after the restart ran without a new /token set.
    assert await bot_process.terminate() == 0
    db = fault_world.db
    assert rows(db, "SELECT user_id, valid FROM delegated_tokens") == [(alice.user_id, 1)]
    assert rows(db, "SELECT user_id, field_group FROM pending_reverts") == [
        (alice.user_id, "status")
    ]
    assert rows(db, "SELECT COUNT(*) FROM conversations") == [(0,)]
    handled = {row[0] for row in rows(db, "SELECT message_id FROM handled_messages")}
    assert {nick, bio, answer} <= handled
    nick_changes = rows(db, "SELECT COUNT(*) FROM audit_log WHERE changes LIKE '%K1%'")
    assert nick_changes == [(1,)]
    assert BOT_PASSWORD not in bot_process.text()


async def test_a_change_that_landed_before_the_kill_is_settled_not_repeated(
    fault_world: FaultWorld, bot_process: BotProcess
) -> None:
    alice = await fault_world.person("alice")
    await alice.delegate()
    await alice.ask("/nick Before", "Nickname set to “Before”")
    # The server holds the update, the bot dies waiting, then the server applies it anyway
    # (as Rocket.Chat does when a client goes away mid-request).
    await fault_world.sandbox.inject(endpoint="users.updateOwnBasicInfo", delay=0.5)
    await alice.tell("/nick After")
    await fault_world.sandbox.wait_fired()
    await bot_process.kill()
    for _ in range(40):
        if (await alice.profile()).get("nickname") == "After":
            break
        await asyncio.sleep(0.05)
    assert (await alice.profile())["nickname"] == "After"  # landed while the bot was dead

    await bot_process.start()
    await alice.wait_for_each("Nickname set to “After”")
    await settle()
    answers = await alice.answers()
    assert count(answers, "“After”") == 1, answers  # answered as done, not "already"
    assert await bot_process.terminate() == 0
    audit = rows(fault_world.db, "SELECT changes, pending FROM audit_log ORDER BY id")
    assert audit[-1] == ('[{"field": "nickname", "old": "Before", "new": "After"}]', 0)
    assert len(audit) == 2


async def test_a_change_recorded_but_not_yet_answered_is_answered_once_after_a_kill(
    fault_world: FaultWorld, bot_process: BotProcess
) -> None:
    alice = await fault_world.person("alice")
    await alice.delegate()
    await alice.ask("/nick Before", "Nickname set to “Before”")
    # The change is made and recorded; the server holds the bot's answer, and the bot dies
    # before it has noted the message as handled.
    await fault_world.sandbox.inject(method="sendMessage", user="profilebot", delay=0.5)
    await alice.tell("/nick After")
    await fault_world.sandbox.wait_fired()
    await bot_process.kill()
    assert rows(fault_world.db, "SELECT pending FROM audit_log ORDER BY id")[-1] == (0,)

    await bot_process.start()
    await alice.wait_for_each("Nickname set to “After”")
    await settle()
    answers = await alice.answers()
    assert count(answers, "“After”") == 1, answers  # the same answer, not "already" as well
    assert await bot_process.terminate() == 0
    assert len(rows(fault_world.db, "SELECT id FROM audit_log")) == 2


async def test_sigkill_with_a_conversation_pending_keeps_it(
    fault_world: FaultWorld, bot_process: BotProcess
) -> None:
    alice = await fault_world.person("alice")
    await alice.delegate()
    await alice.ask("/username alice3", "(yes/no)")
    await bot_process.kill()
    assert rows(fault_world.db, "SELECT flow, step FROM conversations") == [
        ("username", "confirm")
    ]
    await bot_process.start()
    assert "you are now @alice3" in await alice.ask("yes", "you are now")
    assert (await alice.profile())["username"] == "alice3"
    await settle()
    assert count(await alice.answers(), "(yes/no)") == 1


async def test_sigterm_under_load_finishes_what_is_in_flight_and_the_rest_after_restart(
    fault_world: FaultWorld, bot_process: BotProcess
) -> None:
    people = [await fault_world.person(name) for name in ("ann", "ben", "cat")]
    for person in people:
        await person.delegate()
    # Every change takes a while, so commands are in flight when SIGTERM comes.
    await fault_world.sandbox.inject(endpoint="users.updateOwnBasicInfo", delay=0.2, count=100)
    early, late = [f"E{n}" for n in range(4)], ["L0", "L1"]
    for name in early:
        await asyncio.gather(*(p.tell(f"/nick {p.username}-{name}") for p in people))
    await fault_world.sandbox.wait_fired(2)
    bot_process.send_sigterm()
    await asyncio.sleep(0.1)
    for name in late:  # sent while the bot drains: it takes no new work, the next start does
        await asyncio.gather(*(p.tell(f"/nick {p.username}-{name}") for p in people))
    assert await bot_process.exit_code() == 0  # drained, then exited cleanly
    answered_before_exit = 0
    for person in people:  # what was in flight was finished and answered before the exit
        expected = [f"Nickname set to “{person.username}-{n}”." for n in early + late]
        answers = [a for a in await person.answers() if a.startswith("Nickname set")]
        assert answers == expected[: len(answers)]
        answered_before_exit += len(answers)
    assert answered_before_exit >= 2  # at least the two changes under way at SIGTERM
    await bot_process.start()
    for person in people:
        await person.wait_for_each(f"“{person.username}-{late[-1]}”", timeout=15)
    await settle()
    for person in people:
        answers = [a for a in await person.answers() if a.startswith("Nickname set")]
        assert answers == [f"Nickname set to “{person.username}-{n}”." for n in early + late]
        assert (await person.profile())["nickname"] == f"{person.username}-{late[-1]}"
    assert await bot_process.terminate() == 0
    log = bot_process.text()
    assert "Traceback" not in log and BOT_PASSWORD not in log
