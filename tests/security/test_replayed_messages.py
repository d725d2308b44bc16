"""A replayed message id is ignored: Rocket.Chat re-sends a message with the same `_id` for each
reaction, edit and thread reply, and none of those re-sends may run the command again."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from sandbox.people import Person
from tests.e2e.conftest import BOT_NAME, ClockedWorld, ask_bot, delegate
from tests.security.conftest import bot_messages, security_world


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[ClockedWorld]:
    async with security_world(tmp_path) as running:
        yield running


async def ready(world: ClockedWorld, username: str) -> Person:
    person = await world.person(username)
    assert "stored" in await delegate(person)
    return person


def message_said(person: Person, text: str) -> dict[str, object]:
    return next(m for m in reversed(person.heard()) if m["msg"] == text and not m.get("t"))


async def resent(person: Person, message_id: object, after: int) -> None:
    """Wait until `person` heard message `message_id` again (the replay reached everyone)."""
    await person.hear(lambda m: m["_id"] == message_id, after=after)


async def test_reactions_to_a_command_in_a_dm_do_not_run_it_again(world: ClockedWorld) -> None:
    alice = await ready(world, "alice")
    dm = await alice.direct_room(BOT_NAME)
    mark = alice.heard_count
    assert "“One”" in await ask_bot(alice, "/nick One")
    assert "“Two”" in await ask_bot(alice, "/nick Two")
    first = message_said(alice, "/nick One")
    replays = alice.heard_count
    for emoji in (":thumbsup:", ":tada:", ":thumbsup:"):  # the last one takes the first back
        await alice.call("setReaction", emoji, first["_id"])
    await resent(alice, first["_id"], replays)
    # Alice's lane is ordered: once /help is answered, every replay before it has been seen.
    assert "/status" in await ask_bot(alice, "/help")
    answers = bot_messages(alice, after=mark, room_id=dm)
    assert sum("“One”" in text for text in answers) == 1
    assert (await alice.profile())["nickname"] == "Two"


async def test_reactions_to_a_room_command_by_others_do_not_run_it_again(
    world: ClockedWorld,
) -> None:
    alice = await ready(world, "alice")
    bob = await world.person("bob")
    dm = await alice.direct_room(BOT_NAME)
    mark = alice.heard_count
    message_id = await alice.say("GENERAL", "!nick Uno")
    await alice.hear(lambda m: m["_id"] == message_id and bool(m.get("reactions")), after=mark)
    await alice.hear(lambda m: m["rid"] == dm and "“Uno”" in m["msg"], after=mark)
    assert "“Dos”" in await ask_bot(alice, "/nick Dos")
    replays = alice.heard_count
    await bob.call("setReaction", ":eyes:", message_id)
    await alice.call("setReaction", ":wave:", message_id)
    await resent(alice, message_id, replays)
    assert "/status" in await ask_bot(alice, "/help")
    answers = bot_messages(alice, after=mark, room_id=dm)
    assert sum("“Uno”" in text for text in answers) == 1
    assert (await alice.profile())["nickname"] == "Dos"
    general = await alice.rest(
        "GET", "channels.history", params={"roomId": "GENERAL", "count": "50"}
    )
    reactions = next(m for m in general["messages"] if m["_id"] == message_id)["reactions"]
    assert reactions[":white_check_mark:"]["usernames"] == [BOT_NAME]  # one answer, one tick


async def test_a_thread_reply_re_sending_its_parent_does_not_run_it_again(
    world: ClockedWorld,
) -> None:
    alice = await ready(world, "alice")
    dm = await alice.direct_room(BOT_NAME)
    mark = alice.heard_count
    assert "“Root”" in await ask_bot(alice, "/nick Root")
    root = message_said(alice, "/nick Root")
    assert "“Leaf”" in await ask_bot(alice, "/nick Leaf")
    replays = alice.heard_count
    await alice.say(dm, "about that nickname", thread_id=str(root["_id"]))
    await alice.hear(lambda m: m["_id"] == root["_id"] and bool(m.get("tcount")), after=replays)
    assert "/status" in await ask_bot(alice, "/help")
    answers = bot_messages(alice, after=mark, room_id=dm)
    assert sum("“Root”" in text for text in answers) == 1
    assert (await alice.profile())["nickname"] == "Leaf"


async def test_an_edit_re_sending_a_command_does_not_run_it_or_the_new_text(
    world: ClockedWorld,
) -> None:
    alice = await ready(world, "alice")
    dm = await alice.direct_room(BOT_NAME)
    mark = alice.heard_count
    assert "“Before”" in await ask_bot(alice, "/nick Before")
    first = message_said(alice, "/nick Before")
    replays = alice.heard_count
    for text in ("/nick Before", "/nick After"):  # the same text again, then another
        await alice.rest(
            "POST", "chat.update", json={"roomId": dm, "msgId": first["_id"], "text": text}
        )
    await alice.hear(
        lambda m: m["_id"] == first["_id"] and m["msg"] == "/nick After", after=replays
    )
    assert "/status" in await ask_bot(alice, "/help")
    answers = bot_messages(alice, after=mark, room_id=dm)
    assert sum("Nickname" in text for text in answers) == 1
    assert (await alice.profile())["nickname"] == "Before"
