"""A group DM is not a private DM: a room of type `d` with more than two members is read by all
of them, so the bot treats it as any other room. Only a person's one-to-one DM with the bot is
private: unprefixed commands, answers to a conversation, tokens and the details of answers
belong there, and nowhere else."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from sandbox.people import Person
from tests.e2e.conftest import BOT_NAME, ClockedWorld, ask_bot, delegate
from tests.security.conftest import bot_messages, from_bot, security_world, stays_quiet

CHATTER = (
    "name of the project is Apollo",
    "bio lab meeting moved to 3pm",
    "nick and I join later",
)


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[ClockedWorld]:
    async with security_world(tmp_path) as running:
        yield running


async def group_with(alice: Person, *others: str) -> str:
    """A group DM of alice, `others` and the bot, as the web client creates it."""
    room = await alice.call("createDirectMessage", *others, BOT_NAME)
    return str(room["rid"])


async def test_chatter_in_a_group_dm_changes_nobodys_profile(world: ClockedWorld) -> None:
    alice = await world.person("alice")
    bob = await world.person("bob")
    await delegate(alice)
    before = await alice.profile()
    group = await group_with(alice, "bob")
    mark = bob.heard_count
    for text in CHATTER:
        await alice.say(group, text)
    assert await stays_quiet(bob, after=mark)
    after = await alice.profile()
    for field in ("name", "bio", "nickname"):
        assert after.get(field) == before.get(field)


async def test_a_command_in_a_group_dm_is_answered_in_the_one_to_one_dm(
    world: ClockedWorld,
) -> None:
    alice = await world.person("alice")
    bob = await world.person("bob")
    await delegate(alice)
    group = await group_with(alice, "bob")
    dm = await alice.direct_room(BOT_NAME)
    mark, bob_mark = alice.heard_count, bob.heard_count
    command = await alice.say(group, "/profile")
    answer = await alice.hear(from_bot(dm), after=mark)
    assert "@alice" in answer["msg"]
    reacted = await alice.hear(
        lambda m: m["_id"] == command and bool(m.get("reactions")), after=mark
    )
    assert ":white_check_mark:" in reacted["reactions"]
    assert bot_messages(bob, after=bob_mark, room_id=group) == []
    assert await stays_quiet(bob, after=bob_mark, room_id=group)


async def test_a_token_in_a_group_dm_is_refused_deleted_and_rotation_advised(
    world: ClockedWorld,
) -> None:
    alice = await world.person("alice")
    await world.person("bob")
    group = await group_with(alice, "bob")
    dm = await alice.direct_room(BOT_NAME)
    token = await alice.create_personal_access_token("leaked")
    mark = alice.heard_count
    sent = await alice.say(group, f"/token set {token}")
    told = await alice.hear(from_bot(dm), after=mark)
    assert "regenerate" in told["msg"].lower() and token not in told["msg"]
    history = await alice.rest("GET", "im.history", params={"roomId": group})
    assert sent not in [m["_id"] for m in history["messages"]]
    assert "I need your personal access token" in await ask_bot(alice, "/nick Ali")


async def test_chatter_in_a_group_dm_does_not_count_against_the_flood_limit(
    tmp_path: Path,
) -> None:
    async with security_world(tmp_path, rate_limit_per_user=3, rate_limit_global=0) as world:
        alice = await world.person("alice")
        bob = await world.person("bob")
        group = await group_with(alice, "bob")
        for number in range(6):
            await bob.say(group, f"lunch at {number}?")
        await asyncio.sleep(0.3)
        assert "no change waiting" in await ask_bot(bob, "/cancel")


async def test_a_confirmation_in_a_group_dm_does_not_count(world: ClockedWorld) -> None:
    alice = await world.person("alice")
    await world.person("bob")
    await delegate(alice)
    group = await group_with(alice, "bob")
    assert "@alice to @alice2" in await ask_bot(alice, "/username alice2")
    await alice.say(group, "yes")
    assert "Please answer yes or no" in await ask_bot(alice, "maybe")
    assert (await alice.profile())["username"] == "alice"
    assert "Done" in await ask_bot(alice, "yes")
