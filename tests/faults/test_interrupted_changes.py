"""An interrupted sensitive change tells the truth: when the bot dies after it submitted an
email, username or password change, the next start finds out whether the change landed and
tells the person what happened, with an audit entry; it never says "nothing was changed" when
it was. A replayed /undo answers as the first run would have.

The bot runs as a real process and is SIGKILLed while Rocket.Chat holds the change (a delay
fault): the sandbox then applies it, or refuses it, after the bot is gone.
"""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.e2e.conftest import PASSWORD
from tests.faults.conftest import BotProcess, FaultWorld, Talker, count, settle


@pytest.fixture
async def bot_process(fault_world: FaultWorld) -> AsyncIterator[BotProcess]:
    # Interrupted changes are looked at request_timeout + in_doubt_wait after they went out.
    process = BotProcess(fault_world, request_timeout=2, in_doubt_wait=0.2)
    await process.start()
    try:
        yield process
    finally:
        await process.ensure_stopped()


def audit(db: Path, user_id: str) -> list[tuple[str, str, int]]:
    with sqlite3.connect(db) as connection:
        return list(
            connection.execute(
                "SELECT changes, cause, pending FROM audit_log WHERE user_id = ? ORDER BY id",
                (user_id,),
            )
        )


async def kill_while_held(
    world: FaultWorld, bot: BotProcess, person: Talker, answer: str, **fault: object
) -> None:
    """Send `answer`, and SIGKILL the bot while Rocket.Chat holds the change it submits."""
    await world.sandbox.inject(endpoint="users.updateOwnBasicInfo", count=1, **fault)
    await person.tell(answer)
    await world.sandbox.wait_fired()
    await bot.kill()


async def test_a_username_change_that_landed_while_the_bot_was_dead_is_reported_done(
    fault_world: FaultWorld, bot_process: BotProcess
) -> None:
    alice = await fault_world.person("alice")
    await alice.delegate()
    await alice.ask("/username alice2", "(yes/no)")
    await kill_while_held(fault_world, bot_process, alice, "yes", delay=0.8)
    await settle(1.0)  # Rocket.Chat applies it with nobody waiting for the answer
    assert (await alice.profile())["username"] == "alice2"

    await bot_process.start()
    answers = await alice.wait_for_each("you are now @alice2")
    await settle()
    answers = await alice.answers()
    assert count(answers, "you are now @alice2") == 1
    assert count(answers, "nothing was changed") == 0
    await bot_process.terminate()
    (changes, cause, pending), *_ = [
        row for row in audit(fault_world.db, alice.user_id) if "username" in row[0]
    ]
    assert "alice2" in changes and cause == "command /username" and pending == 0


async def test_an_email_change_whose_code_was_deleted_is_found_out_after_a_restart(
    fault_world: FaultWorld, bot_process: BotProcess
) -> None:
    """The answer that carried the second factor was deleted before the change went out, so
    nothing replays it: the start-up itself must look at the account."""
    alice = await fault_world.person("alice")
    await alice.delegate()
    await alice.ask("/email alice.new@example.org", "(yes/no)")
    await alice.ask("yes", "current password")
    await kill_while_held(fault_world, bot_process, alice, PASSWORD, delay=0.8)
    await settle(1.0)
    assert (await alice.profile())["emails"][0]["address"] == "alice.new@example.org"

    await bot_process.start()
    await alice.wait_for_each("your email address is now alice.new@example.org")
    await settle()
    answers = await alice.answers()
    assert count(answers, "now alice.new@example.org") == 1
    assert count(answers, "nothing was changed") == 0
    await bot_process.terminate()
    assert any(
        "alice.new@example.org" in changes and pending == 0
        for changes, _, pending in audit(fault_world.db, alice.user_id)
    )


async def test_an_email_change_that_did_not_land_is_reported_not_made(
    fault_world: FaultWorld, bot_process: BotProcess
) -> None:
    alice = await fault_world.person("alice")
    await alice.delegate()
    await alice.ask("/email alice.new@example.org", "(yes/no)")
    await alice.ask("yes", "current password")
    # The server answers 503 (after the bot is gone) instead of running the change.
    await kill_while_held(fault_world, bot_process, alice, PASSWORD, delay=0.8, status=503)
    await settle(1.0)

    await bot_process.start()
    await alice.wait_for_each("did not go through: nothing was changed")
    answers = await alice.answers()
    assert count(answers, "now alice.new@example.org") == 0
    assert (await alice.profile())["emails"][0]["address"] == "alice@example.com"
    await bot_process.terminate()
    assert not any(
        "alice.new@example.org" in changes
        for changes, _, _ in audit(fault_world.db, alice.user_id)
    )


async def test_an_interrupted_password_change_says_it_cannot_tell(
    fault_world: FaultWorld, bot_process: BotProcess
) -> None:
    """The bot never keeps a password, so after a restart it cannot check which one holds: it
    says so, with what to try, and never claims that nothing was changed."""
    alice = await fault_world.person("alice")
    await alice.delegate()
    await alice.ask("/password", "new password")
    await alice.ask("Brand-new-pass-9", "once more")
    await alice.ask("Brand-new-pass-9", "current password")
    await kill_while_held(fault_world, bot_process, alice, PASSWORD, delay=0.8)
    await settle(1.0)
    # The change signed alice's sessions out: she signs in with the new password.
    alice = await fault_world.stack.enter_async_context(
        Talker(fault_world.sandbox, "alice", "Brand-new-pass-9")
    )

    await bot_process.start()
    answers = await alice.wait_for_each("can't tell whether your password")
    assert count(answers, "nothing was changed") == 0
    await bot_process.terminate()
    rows = audit(fault_world.db, alice.user_id)
    assert any("password" in changes and "outcome unknown" in cause for changes, cause, _ in rows)


async def test_a_replayed_undo_answers_as_the_first_run_would_have(
    fault_world: FaultWorld, bot_process: BotProcess
) -> None:
    alice = await fault_world.person("alice")
    await alice.delegate()
    await alice.ask("/nick First", "“First”")
    await alice.ask("/nick Second", "“Second”")
    await kill_while_held(fault_world, bot_process, alice, "/undo", delay=0.8)
    await settle(1.0)
    assert (await alice.profile())["nickname"] == "First"

    await bot_process.start()
    answers = await alice.wait_for_each("Undone")
    await settle()
    answers = await alice.answers()
    assert count(answers, "Undone (command /nick): nickname back to “First”.") == 1
    assert count(answers, "nothing to undo") == 0 and count(answers, "already undone") == 0
