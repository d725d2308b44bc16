"""Acting for someone else: whatever the text says, a command acts on its sender's own account,
and only the right person's new answer, in the right DM, moves a conversation on."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from sandbox.people import Person
from tests.e2e.conftest import BOT_NAME, PASSWORD, ClockedWorld, ask_bot, delegate
from tests.security.conftest import from_bot, grant, security_world, stays_quiet

PROFILE_FIELDS = ("nickname", "bio", "name", "statusText", "username", "emails", "customFields")


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[ClockedWorld]:
    async with security_world(tmp_path) as running:
        yield running


async def ready(world: ClockedWorld, username: str) -> Person:
    person = await world.person(username)
    assert "stored" in await delegate(person)
    return person


def profile_of(user: dict[str, object]) -> dict[str, object]:
    return {name: user.get(name) for name in PROFILE_FIELDS}


def stored(world: ClockedWorld, query: str) -> list[tuple[object, ...]]:
    assert world.bot_settings is not None
    db = sqlite3.connect(world.bot_settings.db)
    try:
        return db.execute(query).fetchall()
    finally:
        db.close()


# -- commands act on the sender only ----------------------------------------------------------


async def test_a_command_naming_another_user_changes_only_the_senders_profile(
    world: ClockedWorld,
) -> None:
    alice = await ready(world, "alice")
    bob = await ready(world, "bob")
    bob_before = profile_of(await bob.profile())
    assert "“@bob Bobby”" in await ask_bot(alice, "/nick @bob Bobby")
    assert "Bio" in await ask_bot(alice, "/bio @bob is mine now")
    await ask_bot(alice, "/name bob")
    await ask_bot(alice, "/status @bob away")
    await ask_bot(alice, "/field team bob")
    alice_now = await alice.profile()
    assert alice_now["nickname"] == "@bob Bobby" and alice_now["name"] == "bob"
    assert profile_of(await bob.profile()) == bob_before


async def test_another_users_token_is_refused_and_nothing_is_stored(world: ClockedWorld) -> None:
    alice = await world.person("alice")
    bob = await world.person("bob")
    bobs_token = await bob.create_personal_access_token("profile-bot")
    answer = await ask_bot(alice, f"/token set {bobs_token}")
    assert "did not store it" in answer and bobs_token not in answer
    assert stored(world, "SELECT user_id FROM delegated_tokens") == []
    assert "/token set" in await ask_bot(alice, "/nick Bobby")  # still no token for alice
    assert (await bob.profile()).get("nickname", "") == ""


async def test_audit_of_another_user_is_refused_to_a_non_admin(world: ClockedWorld) -> None:
    alice = await ready(world, "alice")
    bob = await ready(world, "bob")
    await ask_bot(bob, "/nick Secret-plan")
    answer = await ask_bot(alice, "/audit @bob")
    assert "Only members of the “admin” role" in answer
    assert "Secret-plan" not in answer


async def test_a_message_posted_under_another_name_acts_for_its_real_sender(
    world: ClockedWorld,
) -> None:
    """An alias (message-impersonate) only changes the name shown; the server's `u` is the
    sender the bot acts for."""
    await grant(world.admin, "message-impersonate", "user")
    alice = await ready(world, "alice")
    bob = await ready(world, "bob")
    alice_dm = await alice.direct_room(BOT_NAME)
    mark = alice.heard_count
    await alice.rest(
        "POST",
        "chat.postMessage",
        json={"roomId": "GENERAL", "text": "!nick Bobby", "alias": "bob", "avatar": ""},
    )
    answer = await alice.hear(from_bot(alice_dm), after=mark)
    assert "Bobby" in answer["msg"]
    assert (await alice.profile())["nickname"] == "Bobby"
    assert (await bob.profile()).get("nickname", "") == ""


# -- conversation answers count only from the right person, room and message ---------------------


async def test_an_answer_from_another_user_never_counts(world: ClockedWorld) -> None:
    alice = await ready(world, "alice")
    bob = await ready(world, "bob")
    assert "@alice to @alice2" in await ask_bot(alice, "/username alice2")
    bob_mark = bob.heard_count
    await bob.tell(BOT_NAME, "yes")
    assert await stays_quiet(bob, after=bob_mark)
    assert "Please answer yes or no" in await ask_bot(alice, "maybe")
    assert (await alice.profile())["username"] == "alice"
    assert stored(world, "SELECT user_id, step FROM conversations") == [(alice.user_id, "confirm")]


async def test_an_answer_in_another_room_never_counts(world: ClockedWorld) -> None:
    alice = await ready(world, "alice")
    await ready(world, "bob")
    assert "@alice to @alice2" in await ask_bot(alice, "/username alice2")
    await alice.say("GENERAL", "yes")
    group = await alice.call("createDirectMessage", "bob", BOT_NAME)
    await alice.say(group["rid"], "yes")
    assert "Please answer yes or no" in await ask_bot(alice, "maybe")
    assert (await alice.profile())["username"] == "alice"


async def test_an_edited_message_never_counts_as_the_answer(world: ClockedWorld) -> None:
    alice = await ready(world, "alice")
    dm = await alice.direct_room(BOT_NAME)
    assert "@alice to @alice2" in await ask_bot(alice, "/username alice2")
    assert "Please answer yes or no" in await ask_bot(alice, "maybe")
    maybe = next(m for m in reversed(alice.heard()) if m["msg"] == "maybe")
    mark = alice.heard_count
    await alice.rest(
        "POST", "chat.update", json={"roomId": dm, "msgId": maybe["_id"], "text": "yes"}
    )
    await alice.hear(lambda m: m["_id"] == maybe["_id"] and m["msg"] == "yes", after=mark)
    assert await stays_quiet(alice, after=mark)
    assert (await alice.profile())["username"] == "alice"
    assert "Cancelled" in await ask_bot(alice, "no")


async def test_an_edited_message_never_counts_as_the_second_factor(world: ClockedWorld) -> None:
    """A password or code must come as a new message, which the bot deletes; a message edited
    into one is never the answer, and, since it may hold the secret, it is deleted too."""
    alice = await ready(world, "alice")
    dm = await alice.direct_room(BOT_NAME)
    assert "(yes/no)" in await ask_bot(alice, "/email alice.new@example.org")
    assert "current password" in await ask_bot(alice, "yes")
    earlier = next(m for m in reversed(alice.heard()) if m["msg"] == "yes")
    mark = alice.heard_count
    await alice.rest(
        "POST", "chat.update", json={"roomId": dm, "msgId": earlier["_id"], "text": PASSWORD}
    )
    told = await alice.hear(lambda m: from_bot(dm)(m) and "edited" in m["msg"], after=mark)
    assert "new message" in told["msg"] and "deleted it" in told["msg"]
    assert PASSWORD not in told["msg"]
    history = await alice.rest("GET", "im.history", params={"roomId": dm})
    assert earlier["_id"] not in [m["_id"] for m in history["messages"]]
    assert (await alice.profile())["emails"][0]["address"] == "alice@example.com"
    assert [step for (step,) in stored(world, "SELECT step FROM conversations")] != []
    # The same password from another user, in their own DM, is not the answer either.
    bob = await ready(world, "bob")
    bob_mark = bob.heard_count
    await bob.tell(BOT_NAME, PASSWORD)
    assert await stays_quiet(bob, after=bob_mark)
    assert (await alice.profile())["emails"][0]["address"] == "alice@example.com"
    assert "Cancelled" in await ask_bot(alice, "cancel")
