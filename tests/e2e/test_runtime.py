"""The runtime around the commands: where answers go, what is ignored, order and help."""

from __future__ import annotations

import asyncio

import pytest

from sandbox.people import Person
from tests.e2e.conftest import BOT_NAME, BOT_PASSWORD, World, ask_bot, delegate, running_world


async def test_room_command_gets_a_reaction_and_the_details_in_a_dm(world: World) -> None:
    alice = await world.person("alice")
    await delegate(alice)
    dm = await alice.direct_room(BOT_NAME)
    mark = alice.heard_count
    message_id = await alice.say("GENERAL", "!nick Ali")
    reacted = await alice.hear(
        lambda m: m["_id"] == message_id and bool(m.get("reactions")), after=mark
    )
    assert list(reacted["reactions"]) == [":white_check_mark:"]
    answer = await alice.hear(
        lambda m: m["rid"] == dm and m["u"]["username"] == BOT_NAME, after=mark
    )
    assert "Ali" in answer["msg"]
    general = await alice.rest(
        "GET", "channels.history", params={"roomId": "GENERAL", "count": "50"}
    )
    said_by_bot = [
        m for m in general["messages"] if m["u"]["username"] == BOT_NAME and not m.get("t")
    ]
    assert said_by_bot == []  # the room stays quiet


async def test_failed_room_command_gets_a_cross(world: World) -> None:
    alice = await world.person("alice")
    mark = alice.heard_count
    message_id = await alice.say("GENERAL", "/nick Ali")  # no token yet
    reacted = await alice.hear(
        lambda m: m["_id"] == message_id and bool(m.get("reactions")), after=mark
    )
    assert list(reacted["reactions"]) == [":x:"]


async def test_answer_to_a_thread_message_stays_in_the_thread(world: World) -> None:
    alice = await world.person("alice")
    dm = await alice.direct_room(BOT_NAME)
    root = await alice.say(dm, "a thread about my profile")
    mark = alice.heard_count
    await alice.say(dm, "/help", thread_id=root)
    answer = await alice.hear(
        lambda m: m["u"]["username"] == BOT_NAME and m["rid"] == dm, after=mark
    )
    assert answer.get("tmid") == root


async def test_dm_without_prefix_is_a_command_but_chatter_is_ignored(world: World) -> None:
    alice = await world.person("alice")
    assert "/token set" in await ask_bot(alice, "help token")
    with pytest.raises(TimeoutError):
        await ask_bot(alice, "hello there", timeout=0.5)


async def test_unknown_command_gets_a_suggestion_in_dm_and_silence_in_rooms(world: World) -> None:
    alice = await world.person("alice")
    assert "/status" in await ask_bot(alice, "/stauts away")
    mark = alice.heard_count
    message_id = await alice.say("GENERAL", "/giphy cats")
    with pytest.raises(TimeoutError):
        await alice.hear(
            lambda m: m["_id"] == message_id and bool(m.get("reactions")), after=mark, timeout=0.5
        )


async def test_bot_ignores_its_own_messages(world: World) -> None:
    alice = await world.person("alice")
    async with Person(world.url, BOT_NAME, BOT_PASSWORD) as bot_as_person:
        room = await bot_as_person.direct_room("alice")
        mark = alice.heard_count
        await bot_as_person.say(room, "/help")
        await alice.hear(lambda m: m["msg"] == "/help", after=mark)
        with pytest.raises(TimeoutError):
            await alice.hear(
                lambda m: m["u"]["username"] == BOT_NAME and m["msg"] != "/help",
                after=mark,
                timeout=0.5,
            )


async def test_commands_of_one_user_run_in_the_order_sent(world: World) -> None:
    alice = await world.person("alice")
    await delegate(alice)
    dm = await alice.direct_room(BOT_NAME)
    mark = alice.heard_count
    for name in ("One", "Two", "Three"):
        await alice.say(dm, f"/nick {name}")
    for name in ("One", "Two", "Three"):
        await alice.hear(
            lambda m, n=name: m["u"]["username"] == BOT_NAME and n in m["msg"], after=mark
        )
    assert (await alice.profile())["nickname"] == "Three"
    answers = [m["msg"] for m in alice.heard()[mark:] if m["u"]["username"] == BOT_NAME]
    assert [a for a in answers if "Nickname" in a] == [
        "Nickname set to “One”.",
        "Nickname set to “Two”.",
        "Nickname set to “Three”.",
    ]


async def test_different_users_are_served_concurrently(world: World) -> None:
    people = [await world.person(name) for name in ("ann", "ben", "cat")]
    for person in people:
        await delegate(person)
    answers = await asyncio.gather(*(ask_bot(p, f"/nick {p.username}-nick") for p in people))
    assert all(f"{p.username}-nick" in a for p, a in zip(people, answers, strict=True))


async def test_help_lists_commands_and_explains_one(world: World) -> None:
    alice = await world.person("alice")
    listing = await ask_bot(alice, "/help")
    for name in ("status", "bio", "nick", "name", "field", "profile", "token", "help"):
        assert f"/{name}" in listing
    one = await ask_bot(alice, "/help status")
    assert "online|away|busy|offline" in one


async def test_new_dm_after_start_is_noticed(world: World) -> None:
    """Bob opens his first DM with the bot long after the bot started listening."""
    await asyncio.sleep(0.2)
    bob = await world.person("bob")
    assert "/token set" in await ask_bot(bob, "/nick Bobby")


async def test_commands_wait_out_rocket_chats_rate_limit_and_all_succeed(tmp_path) -> None:
    """With Rocket.Chat's limiter at 2 calls per second per endpoint, a burst still lands."""
    async with running_world(
        tmp_path,
        OVERWRITE_SETTING_API_Enable_Rate_Limiter_Limit_Calls_Default="2",
        OVERWRITE_SETTING_API_Enable_Rate_Limiter_Limit_Time_Default="1000",
    ) as limited:
        alice = await limited.person("alice")
        assert "stored" in await delegate(alice)
        answers = [await ask_bot(alice, f"/nick Nick{n}", timeout=10) for n in range(4)]
        assert answers == [f"Nickname set to “Nick{n}”." for n in range(4)]
        assert (await alice.profile())["nickname"] == "Nick3"


async def test_an_edited_message_is_not_run_again(world: World) -> None:
    alice = await world.person("alice")
    await delegate(alice)
    dm = await alice.direct_room(BOT_NAME)
    assert "One" in await ask_bot(alice, "/nick One")
    first = next(m for m in reversed(alice.heard()) if m["msg"] == "/nick One")
    mark = alice.heard_count
    await alice.rest(
        "POST", "chat.update", json={"roomId": dm, "msgId": first["_id"], "text": "/nick Two"}
    )
    await alice.hear(lambda m: m["_id"] == first["_id"] and m["msg"] == "/nick Two", after=mark)
    with pytest.raises(TimeoutError):
        await alice.hear(lambda m: m["u"]["username"] == BOT_NAME, after=mark, timeout=0.5)
    assert (await alice.profile())["nickname"] == "One"
