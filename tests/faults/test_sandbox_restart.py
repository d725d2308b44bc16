"""The server restarts (same port, same data file): the bot comes back and loses nothing."""

from __future__ import annotations

import asyncio

from tests.e2e.conftest import BOT_NAME
from tests.faults.conftest import FaultWorld, count, settle


async def test_a_restart_in_the_middle_of_a_conversation_loses_nothing(
    fault_world: FaultWorld,
) -> None:
    await fault_world.start_bot()
    alice = await fault_world.person("alice")
    await alice.delegate()
    question = await alice.ask("/username alice2", "(yes/no)")
    assert "@alice to @alice2" in question

    await fault_world.sandbox.restart()
    # The bot's next login is slow: the answer and a command land before it is back.
    fault_world.sandbox.arm_now(method="login", delay=0.5)
    await alice.tell("yes")
    await alice.tell("/nick Back")
    answers = await alice.wait_for_each("you are now @alice2", "“Back”")
    await settle()
    answers = await alice.answers()
    assert count(answers, "you are now @alice2") == 1
    assert count(answers, "“Back”") == 1
    assert count(answers, "(yes/no)") == 1  # the question was not asked again
    profile = await alice.profile()
    assert (profile["username"], profile["nickname"]) == ("alice2", "Back")
    assert [fault["fired"] for fault in await fault_world.sandbox.faults()] == [1]


async def test_after_a_restart_the_bot_resumes_its_session_from_the_data_file(
    fault_world: FaultWorld,
) -> None:
    await fault_world.start_bot()
    alice = await fault_world.person("alice")
    await alice.delegate()
    sessions = fault_world.sandbox.login_tokens(BOT_NAME)
    await fault_world.sandbox.restart()
    assert "“Again”" in await alice.ask("/nick Again", "Nickname set")
    assert fault_world.sandbox.login_tokens(BOT_NAME) == sessions
    assert (await alice.profile())["nickname"] == "Again"


async def test_an_answer_due_while_the_server_is_down_is_sent_once_it_is_back(
    fault_world: FaultWorld,
) -> None:
    await fault_world.start_bot()
    alice = await fault_world.person("alice")
    await alice.delegate()
    # The change is made; sending its answer hangs, and the server goes down meanwhile.
    await fault_world.sandbox.inject(method="sendMessage", delay=5.0, user=BOT_NAME)
    await alice.tell("/nick Slow")
    await fault_world.sandbox.wait_fired()
    await fault_world.sandbox.stop()
    await asyncio.sleep(0.5)  # several reconnect attempts fail meanwhile
    await fault_world.sandbox.start()
    await alice.wait_for_each("“Slow”")
    await settle()
    answers = await alice.answers()
    assert count(answers, "“Slow”") == 1
    assert count(answers, "Rocket.Chat had a problem") == 0
    assert (await alice.profile())["nickname"] == "Slow"
