"""Secrets that slip past the filters: a token or a password answer is deleted wherever it was
sent, however it was dressed up, and whatever else is wrong with the message (bot.flows.leaks).

Each test sends the secret over the realtime API as a person would, then reads the room's
history over REST to see that the message is gone, and what the bot told its sender.
"""

from __future__ import annotations

import secrets
import string
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from sandbox.people import Person
from tests.e2e.conftest import BOT_NAME, PASSWORD, ClockedWorld, ask_bot, delegate
from tests.security.conftest import from_bot, security_world, stays_quiet

HISTORY = {"c": "channels.history", "p": "groups.history", "d": "im.history"}


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[ClockedWorld]:
    async with security_world(
        tmp_path, rate_limit_per_user=5, rate_limit_global=0, max_message_length=1000
    ) as running:
        yield running


async def gone(person: Person, room_id: str, message_id: str, *, kind: str = "c") -> bool:
    """True when the message is no longer in the room's history."""
    history = await person.rest("GET", HISTORY[kind], params={"roomId": room_id})
    return message_id not in [m["_id"] for m in history["messages"]]


async def flood(person: Person) -> None:
    """Send commands in a room until the bot says to slow down (the limit here is 5)."""
    dm = await person.direct_room(BOT_NAME)
    mark = person.heard_count
    for _ in range(6):
        await person.say("GENERAL", "/profile")
    await person.hear(lambda m: from_bot(dm)(m) and "Slow down" in m["msg"], after=mark)


async def leak(person: Person, room_id: str, text: str) -> tuple[str, str]:
    """Send `text` where it should not be; the message id and what the bot said in the DM."""
    dm = await person.direct_room(BOT_NAME)
    mark = person.heard_count
    sent = await person.say(room_id, text)
    told = await person.hear(from_bot(dm), after=mark)
    return sent, str(told["msg"])


@pytest.mark.parametrize(
    "dressed",
    [
        '/token set "{token}".',
        "/token set ({token})",
        "/token set <{token}>",
        "here is my token: `{token}`, please store it",
        "```\n/token set {token}\n```",
        "/tokne set {token}",
        "/tokens set {token}",
        "/token set {token}\x00",
        "/token set {token} " + "padding " * 200,
    ],
    ids=[
        "quoted-with-stop",
        "brackets",
        "angle-brackets",
        "code-span-in-a-sentence",
        "code-block",
        "typo-tokne",
        "typo-tokens",
        "control-character",
        "over-the-length-limit",
    ],
)
async def test_a_token_in_a_room_is_deleted_however_it_is_dressed(
    world: ClockedWorld, dressed: str
) -> None:
    alice = await world.person("alice")
    token = await alice.create_personal_access_token("leaked")
    sent, told = await leak(alice, "GENERAL", dressed.format(token=token))
    assert "regenerate" in told and token not in told
    assert await gone(alice, "GENERAL", sent)
    assert "I need your personal access token" in await ask_bot(alice, "/nick Ali")


async def test_a_token_edited_into_a_message_in_a_room_is_deleted(world: ClockedWorld) -> None:
    alice = await world.person("alice")
    token = await alice.create_personal_access_token("leaked")
    first = await alice.say("GENERAL", "my token is coming")
    dm = await alice.direct_room(BOT_NAME)
    mark = alice.heard_count
    await alice.rest(
        "POST",
        "chat.update",
        json={"roomId": "GENERAL", "msgId": first, "text": f"my token is {token}"},
    )
    told = await alice.hear(from_bot(dm), after=mark)
    assert "regenerate" in told["msg"]
    assert await gone(alice, "GENERAL", first)


async def test_a_token_sent_over_the_flood_limit_is_still_deleted(world: ClockedWorld) -> None:
    alice = await world.person("alice")
    token = await alice.create_personal_access_token("leaked")
    await flood(alice)
    sent, told = await leak(alice, "GENERAL", f"/token set {token}")
    assert "regenerate" in told
    assert await gone(alice, "GENERAL", sent)


async def test_a_leaked_stored_token_is_forgotten(world: ClockedWorld) -> None:
    alice = await world.person("alice")
    token = await alice.create_personal_access_token("profile-bot")
    assert "stored" in await ask_bot(alice, f"/token set {token}")
    sent, told = await leak(alice, "GENERAL", f"oops {token}")
    assert "forgot" in told
    assert await gone(alice, "GENERAL", sent)
    assert "I need your personal access token" in await ask_bot(alice, "/nick Ali")


async def test_a_word_that_only_looks_like_a_token_is_left_alone(world: ClockedWorld) -> None:
    """Neither a random 43-character word nor someone else's token is the sender's secret:
    Rocket.Chat refuses them as the sender's credentials, so the message stays."""
    alice = await world.person("alice")
    bob = await world.person("bob")
    bobs = await bob.create_personal_access_token("bobs")
    lookalike = "".join(secrets.choice(string.ascii_letters + string.digits) for _ in range(43))
    mark = alice.heard_count
    first = await alice.say("GENERAL", f"build id {lookalike}")
    second = await alice.say("GENERAL", f"bob's is {bobs}")
    assert await stays_quiet(alice, after=mark)
    assert not await gone(alice, "GENERAL", first)
    assert not await gone(alice, "GENERAL", second)


@pytest.mark.parametrize(
    "dressed", ["{token}", "`{token}`", "```\n{token}\n```", '"{token}"', "/token set {token}."]
)
async def test_a_token_alone_in_the_dm_is_recognised_and_stored(
    world: ClockedWorld, dressed: str
) -> None:
    alice = await world.person("alice")
    token = await alice.create_personal_access_token("profile-bot")
    dm = await alice.direct_room(BOT_NAME)
    sent, told = await leak(alice, dm, dressed.format(token=token))
    assert "stored it" in told and token not in told
    assert await gone(alice, dm, sent, kind="d")
    assert "Nickname set" in await ask_bot(alice, "/nick Ali")


@pytest.mark.parametrize(
    "dressed",
    ["my token is {token}, can you use it?", "/tokne set {token}", "/token set {token}\x00"],
)
async def test_a_token_in_a_dm_message_it_cannot_be_read_from_is_deleted(
    world: ClockedWorld, dressed: str
) -> None:
    alice = await world.person("alice")
    token = await alice.create_personal_access_token("profile-bot")
    dm = await alice.direct_room(BOT_NAME)
    sent, told = await leak(alice, dm, dressed.format(token=token))
    assert "deleted it" in told and "/token set <token>" in told
    assert await gone(alice, dm, sent, kind="d")


async def test_a_password_answer_with_control_characters_is_deleted(world: ClockedWorld) -> None:
    alice = await world.person("alice")
    await delegate(alice)
    dm = await alice.direct_room(BOT_NAME)
    assert "new password" in await ask_bot(alice, "/password")
    sent, told = await leak(alice, dm, "New-pass-1\x00")
    assert "control characters" in told and "deleted it" in told
    assert await gone(alice, dm, sent, kind="d")
    assert "once more" in await ask_bot(alice, "New-pass-123!")


async def test_a_password_answer_over_the_length_limit_is_deleted(world: ClockedWorld) -> None:
    alice = await world.person("alice")
    await delegate(alice)
    dm = await alice.direct_room(BOT_NAME)
    assert "new password" in await ask_bot(alice, "/password")
    sent, told = await leak(alice, dm, "x" * 1500)
    assert "too long" in told and "deleted it" in told
    assert await gone(alice, dm, sent, kind="d")


async def test_a_password_answer_over_the_flood_limit_is_deleted(world: ClockedWorld) -> None:
    alice = await world.person("alice")
    await delegate(alice)
    dm = await alice.direct_room(BOT_NAME)
    assert "new password" in await ask_bot(alice, "/password")
    await flood(alice)
    sent, told = await leak(alice, dm, "New-pass-123!")
    assert "deleted it" in told and "New-pass" not in told
    assert await gone(alice, dm, sent, kind="d")


async def test_a_mistyped_password_command_in_a_room_is_deleted(world: ClockedWorld) -> None:
    alice = await world.person("alice")
    await delegate(alice)
    sent, told = await leak(alice, "GENERAL", "/pasword Hunter2-hunter2")
    assert "never write a password in a room" in told
    assert await gone(alice, "GENERAL", sent)


async def test_a_password_command_in_a_room_with_control_characters_is_deleted(
    world: ClockedWorld,
) -> None:
    alice = await world.person("alice")
    await delegate(alice)
    sent, told = await leak(alice, "GENERAL", "/password Hunter2-hunter2\x07")
    assert "never write a password in a room" in told
    assert await gone(alice, "GENERAL", sent)
    assert PASSWORD not in told
