"""The websocket drops: the bot reconnects, logs in with its resume token, and catches up."""

from __future__ import annotations

from tests.e2e.conftest import BOT_NAME
from tests.faults.conftest import FaultWorld, count, settle


async def test_commands_sent_while_the_socket_is_down_are_caught_up_once_in_order(
    fault_world: FaultWorld,
) -> None:
    await fault_world.start_bot()
    alice = await fault_world.person("alice")
    await alice.delegate()
    assert "One" in await alice.ask("/nick One", "Nickname set")
    # The bot's next login is slow, so these land while it is away and only history has them.
    # (Only the bot logs in over DDP here: people talk over REST.)
    await fault_world.sandbox.inject(method="login", delay=0.6)
    assert await fault_world.sandbox.drop_websockets(BOT_NAME) == 1
    for name in ("Two", "Three", "Four"):
        await alice.tell(f"/nick {name}")
    answers = await alice.wait_for_each("“Four”")
    await settle()
    answers = await alice.answers()
    nick_answers = [a for a in answers if a.startswith("Nickname set")]
    assert nick_answers == [f"Nickname set to “{n}”." for n in ("One", "Two", "Three", "Four")]
    assert (await alice.profile())["nickname"] == "Four"
    assert [fault["fired"] for fault in await fault_world.sandbox.faults()] == [1]


async def test_the_bot_logs_in_again_with_its_resume_token(fault_world: FaultWorld) -> None:
    await fault_world.start_bot()
    alice = await fault_world.person("alice")
    await alice.ask("/help", "/status")
    sessions = fault_world.sandbox.login_tokens(BOT_NAME)
    for _ in range(3):
        await fault_world.sandbox.drop_websockets(BOT_NAME)
        await alice.ask("/help nick", "/nick")
    assert fault_world.sandbox.login_tokens(BOT_NAME) == sessions  # no new password logins


async def test_a_refused_resume_token_falls_back_to_the_password(fault_world: FaultWorld) -> None:
    await fault_world.start_bot()
    alice = await fault_world.person("alice")
    await alice.ask("/help", "/status")
    state = fault_world.sandbox.state
    assert state is not None
    bot_user = state.user_by_username(BOT_NAME)
    assert bot_user is not None
    bot_user["services"]["resume"]["loginTokens"] = []  # "log out everywhere"
    await fault_world.sandbox.drop_websockets(BOT_NAME)
    assert "/nick" in await alice.ask("/help nick", "/nick")
    assert fault_world.sandbox.login_tokens(BOT_NAME) == 1


async def test_a_drop_in_the_middle_of_a_burst_answers_every_command_once(
    fault_world: FaultWorld,
) -> None:
    await fault_world.start_bot()
    people = [await fault_world.person(name) for name in ("ann", "ben")]
    for person in people:
        await person.delegate()
    names = [f"N{n}" for n in range(8)]
    for position, name in enumerate(names):
        for person in people:
            await person.tell(f"/nick {person.username}-{name}")
        if position == 3:
            await fault_world.sandbox.drop_websockets(BOT_NAME)
    for person in people:
        await person.wait_for_each(f"“{person.username}-{names[-1]}”")
    await settle()
    for person in people:
        answers = [a for a in await person.answers() if a.startswith("Nickname set")]
        assert answers == [f"Nickname set to “{person.username}-{n}”." for n in names]
        assert (await person.profile())["nickname"] == f"{person.username}-{names[-1]}"


async def test_an_old_command_resent_after_a_restart_is_not_run_again(
    fault_world: FaultWorld,
) -> None:
    await fault_world.start_bot()
    alice = await fault_world.person("alice")
    await alice.delegate()
    command = await alice.tell("/nick Once")
    await alice.wait_for_each("“Once”")
    await fault_world.stop_bot()
    await fault_world.start_bot()  # a new process: its seen-set is empty
    # A reaction makes the server send the old message again on the stream.
    await alice.rest("POST", "chat.react", json={"emoji": ":tada:", "messageId": command})
    assert "/status" in await alice.ask("/help", "/status")  # later in alice's queue
    await settle()
    assert count(await alice.answers(), "“Once”") == 1


async def test_a_message_too_big_for_the_socket_does_not_stop_the_catch_up(
    fault_world: FaultWorld,
) -> None:
    """Sent while the bot is away, a message over the websocket's frame limit closes the socket
    on every history read; the bot reads that room over REST and skips the giant."""
    state = fault_world.sandbox.state
    assert state is not None
    state.settings["Message_MaxAllowedSize"] = 3_000_000  # an admin allowed huge messages
    await fault_world.start_bot()
    alice = await fault_world.person("alice")
    await alice.delegate()
    await fault_world.sandbox.inject(method="login", delay=0.5)
    await fault_world.sandbox.drop_websockets(BOT_NAME)
    await alice.tell("/nick Before")
    await alice.tell("/bio " + "y" * 1_200_000)
    await alice.tell("/nick After")
    await alice.wait_for_each("“Before”", "“After”")
    await settle()
    answers = await alice.answers()
    assert count(answers, "“Before”") == 1 and count(answers, "“After”") == 1
    assert not any("bio" in answer.lower() for answer in answers)
    assert (await alice.profile())["nickname"] == "After"


async def test_catch_up_skips_edited_and_system_messages_as_the_live_stream_does(
    fault_world: FaultWorld,
) -> None:
    await fault_world.start_bot()
    alice = await fault_world.person("alice")
    await alice.delegate()
    await fault_world.sandbox.inject(method="login", delay=0.5)
    await fault_world.sandbox.drop_websockets(BOT_NAME)
    edited = await alice.tell("/nick Draft")
    dm = await alice.dm()
    await alice.rest(
        "POST", "chat.update", json={"roomId": dm, "msgId": edited, "text": "/nick X"}
    )
    await fault_world.person("bob")  # joins #general: a system message there
    await alice.tell("/nick Final")
    await alice.wait_for_each("“Final”")
    await settle()
    answers = await alice.answers()
    assert count(answers, "Nickname set") == 1  # neither the draft nor its edit ran
    assert (await alice.profile())["nickname"] == "Final"


async def test_commands_caught_up_after_an_outage_are_not_refused_as_a_flood(
    fault_world: FaultWorld,
) -> None:
    """Missed commands were sent at their own pace: the flood gate judges only live traffic."""
    await fault_world.start_bot(rate_limit_per_user=2)
    alice = await fault_world.person("alice")
    await alice.delegate()
    await fault_world.stop_bot()
    names = [f"Away{n}" for n in range(4)]
    for name in names:
        await alice.tell(f"/nick {name}")
    await fault_world.start_bot(rate_limit_per_user=2)
    await alice.wait_for_each(f"“{names[-1]}”")
    await settle()
    answers = [a for a in await alice.answers() if a.startswith("Nickname set")]
    assert answers == [f"Nickname set to “{name}”." for name in names]
