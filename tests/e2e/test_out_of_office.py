"""Out of office (`/ooo`), end to end on the injected clock: the status while away, one
automatic answer per sender posted as the away person, nothing for muted rooms, bots or
themselves, the digest and the profile put back on return, a restart while away."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from bot.automation.ooo.responder import MARK
from sandbox.people import Person, create_account
from tests.e2e.conftest import (
    BOT_NAME,
    PASSWORD,
    ClockedWorld,
    advance,
    ask_bot,
    automation_world,
    delegate,
    status_of,
)

# The ManualClock starts on Monday 5 Jan 2026, 09:00 UTC (10:00 in Berlin, the default zone).
BACK = datetime(2026, 1, 9, 23, 0, tzinfo=UTC)  # midnight after Friday 9 Jan, in Berlin
WAIT = 10.0


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[ClockedWorld]:
    async with automation_world(tmp_path, default_timezone="Europe/Berlin") as running:
        yield running


async def ready(world: ClockedWorld, name: str) -> Person:
    person = await world.person(name)
    assert "stored" in await delegate(person)
    return person


async def following(world: ClockedWorld, person: Person) -> None:
    """Wait until the bot follows `person`'s own connection (connected and caught up)."""
    automation = world.bot.automation
    assert automation is not None
    for _ in range(200):
        for follower in automation.ooo.followers.values():
            if follower.responder.absence.user_id == person.user_id:
                await asyncio.wait_for(follower.following.wait(), WAIT)
                return
        await asyncio.sleep(0.02)
    raise AssertionError(f"nobody follows {person.username}")


def is_answer(room_id: str) -> Any:
    return lambda m: m["rid"] == room_id and str(m.get("msg", "")).startswith(MARK)


async def answer_in(person: Person, room_id: str, *, after: int) -> dict[str, Any]:
    """The next automatic answer `person` hears in `room_id`."""
    return await person.hear(is_answer(room_id), after=after, timeout=WAIT)


def answers(person: Person, room_id: str) -> list[dict[str, Any]]:
    """The distinct automatic answers `person` heard in `room_id`."""
    found = {m["_id"]: m for m in person.heard() if is_answer(room_id)(m)}
    return list(found.values())


async def end_now(person: Person) -> str:
    """`/ooo off`; returns the digest (which comes before the answer)."""
    room = await person.direct_room(BOT_NAME)
    mark = person.heard_count
    await person.say(room, "/ooo off")
    await person.hear(
        lambda m: (
            m["rid"] == room and str(m.get("msg", "")).startswith("Your out of office is over")
        ),
        after=mark,
        timeout=WAIT,
    )
    return await digest(person, after=mark)


async def digest(person: Person, *, after: int) -> str:
    room = await person.direct_room(BOT_NAME)
    heard = await person.hear(
        lambda m: m["rid"] == room and str(m.get("msg", "")).startswith("Welcome back"),
        after=after,
        timeout=WAIT,
    )
    return str(heard["msg"])


async def test_away_answers_each_sender_once_and_the_return_puts_everything_back(
    world: ClockedWorld,
) -> None:
    alice = await ready(world, "alice")
    bob, carol, dave = [await world.person(name) for name in ("bob", "carol", "dave")]
    reply = await ask_bot(alice, "/ooo until 2026-01-09 Skiing, back on the 10th")
    assert reply.startswith("You are out of office until Fri 9 Jan.")
    assert await status_of(alice) == (
        "away",
        "Out of office until 9 Jan: Skiing, back on the 10th",
    )
    await following(world, alice)

    to_bob = await bob.direct_room("alice")
    mark = bob.heard_count
    first = await bob.say(to_bob, "Are you there? @all should see the answer")
    answer = await answer_in(bob, to_bob, after=mark)
    assert answer["u"]["username"] == "alice"  # posted as the person, in the same room
    assert "I'm out of office until Fri 9 Jan (Skiing, back on the 10th)" in answer["msg"]
    assert "> Are you there?" in answer["msg"] and not answer.get("tmid")
    assert answer.get("mentions", []) == []  # the quote mentions nobody again
    await bob.say(to_bob, "Hello again")
    to_carol = await carol.direct_room("alice")
    mark = carol.heard_count
    await carol.say(to_carol, "Quick question")
    await answer_in(carol, to_carol, after=mark)  # handled in order: bob's second came before
    assert len(answers(bob, to_bob)) == 1

    mark = dave.heard_count
    mention = await dave.say("GENERAL", "@alice can you review this?")
    await dave.say("GENERAL", "nobody is mentioned here")
    in_thread = await answer_in(dave, "GENERAL", after=mark)
    assert in_thread["tmid"] == mention  # a channel stays quiet: the answer is in a thread

    shown = await ask_bot(alice, "/ooo")
    assert "until Fri 9 Jan" in shown and "3 person(s) got an automatic answer" in shown

    mark = alice.heard_count
    await advance(world, to=BACK)
    assert await status_of(alice) == ("online", "")
    text = await digest(alice, after=mark)
    lines = text.splitlines()
    assert "4 messages were for you, oldest first" in lines[0]
    assert [line.split(" — ")[1].split(" ")[0] for line in lines[1:5]] == [
        "@bob",
        "@bob",
        "@carol",
        "@dave",
    ]
    assert f"{world.url}/direct/{to_bob}?msg={first}" in lines[1]
    assert "@dave mentioned you in #general" in lines[4]
    assert f"{world.url}/channel/general?msg={mention}" in lines[4]
    assert "I answered 3 people automatically" in text
    automation = world.bot.automation
    assert automation is not None and len(automation.ooo.followers) == 0
    assert "not out of office" in await ask_bot(alice, "/ooo")


async def test_muted_rooms_bots_and_the_person_themselves_get_no_answer(
    world: ClockedWorld,
) -> None:
    alice = await ready(world, "alice")
    bob, carol = await world.person("bob"), await world.person("carol")
    await create_account(world.admin, "buildbot", PASSWORD, roles=["bot"])
    buildbot = await world.stack.enter_async_context(Person(world.url, "buildbot", PASSWORD))
    # The bot reads roles only where its role may (README "Out of office").
    await world.admin.rest(
        "POST",
        "permissions.update",
        json={"permissions": [{"_id": "view-full-other-user-info", "roles": ["admin", "bot"]}]},
    )
    to_bob = await bob.direct_room("alice")
    await alice.rest(
        "POST",
        "rooms.saveNotification",
        json={"roomId": to_bob, "notifications": {"disableNotifications": "1"}},
    )
    await alice.rest(
        "POST",
        "rooms.saveNotification",
        json={"roomId": "GENERAL", "notifications": {"desktopNotifications": "nothing"}},
    )
    team = await world.admin.rest(
        "POST", "channels.create", json={"name": "team", "members": ["alice", "carol"]}
    )
    await alice.rest("POST", "channels.leave", json={"roomId": team["channel"]["_id"]})
    await ask_bot(alice, "/ooo for 2d")
    await following(world, alice)

    await bob.say(to_bob, "muted DM")
    await carol.say("GENERAL", "@alice in a muted channel")
    from_bot = await buildbot.direct_room("alice")
    await buildbot.say(from_bot, "Build 42 failed")
    await alice.say("GENERAL", "note to self @alice")
    await carol.say(team["channel"]["_id"], "@alice you left, but still")
    to_carol = await carol.direct_room("alice")
    mark = carol.heard_count
    await carol.say(to_carol, "this one is answered")
    await answer_in(carol, to_carol, after=mark)
    assert answers(bob, to_bob) == [] and answers(buildbot, from_bot) == []
    assert answers(carol, "GENERAL") == [] and answers(carol, team["channel"]["_id"]) == []

    text = await end_now(alice)
    assert "@buildbot wrote to you directly" in text  # listed, never answered
    assert "@carol wrote to you directly" in text
    assert "@bob" not in text and "#general" not in text and "#team" not in text


async def test_group_dms_and_threads_answer_mentions_only(world: ClockedWorld) -> None:
    alice = await ready(world, "alice")
    bob, carol = await world.person("bob"), await world.person("carol")
    group = (await bob.call("createDirectMessage", "alice", "carol"))["rid"]
    await ask_bot(alice, "/ooo until tomorrow")
    await following(world, alice)

    mark = bob.heard_count
    await bob.say(group, "lunch, everyone?")
    asked = await bob.say(group, "@alice are you coming?")
    answer = await answer_in(bob, group, after=mark)
    assert answer["tmid"] == asked

    root = await carol.say("GENERAL", "release notes thread")
    mark = carol.heard_count
    reply = await carol.say("GENERAL", "@alice please check", thread_id=root)
    answer = await answer_in(carol, "GENERAL", after=mark)
    assert answer["tmid"] == root and reply != root
    assert len(answers(bob, group)) == 1

    text = await end_now(alice)
    assert "@bob mentioned you in a group DM" in text and "lunch" not in text
    assert "@carol mentioned you in a thread in #general" in text
    assert f"/direct/{group}?msg={asked}" in text


async def test_messages_sent_while_the_bot_was_down_are_answered_after_a_restart(
    world: ClockedWorld, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    alice = await world.person("alice")
    token = await alice.create_personal_access_token("profile-bot")
    assert "stored" in await ask_bot(alice, f"/token set {token}")
    bob = await world.person("bob")
    await ask_bot(alice, "/ooo until 2026-01-09")
    await following(world, alice)
    to_bob = await bob.direct_room("alice")
    mark = bob.heard_count
    await bob.say(to_bob, "before the restart")
    await answer_in(bob, to_bob, after=mark)

    await world.bot_stack.aclose()
    await bob.say(to_bob, "while the bot is down")
    carol = await world.person("carol")
    to_carol = await carol.direct_room("alice")
    await carol.say(to_carol, "also while it is down")
    mark = carol.heard_count
    await world.start_bot()
    await answer_in(carol, to_carol, after=mark)
    await following(world, alice)
    assert len(answers(bob, to_bob)) == 1  # still once: the claim is stored

    mark = alice.heard_count
    await advance(world, to=BACK)
    text = await digest(alice, after=mark)
    assert "3 messages were for you" in text
    assert await status_of(alice) == ("online", "")
    assert token not in text and token not in caplog.text  # the token it followed her with


async def test_a_status_changed_by_hand_while_away_is_left_and_the_name_comes_back(
    world: ClockedWorld,
) -> None:
    alice = await ready(world, "alice")
    assert "display name ends in" in await ask_bot(alice, "/ooo name on")
    await ask_bot(alice, "/ooo until 2026-01-09 Skiing")
    assert (await alice.profile())["name"] == "Alice (OOO until 9 Jan)"
    await alice.rest("POST", "users.setStatus", json={"status": "busy", "message": "Back early"})

    mark = alice.heard_count
    await advance(world, to=BACK)
    await digest(alice, after=mark)
    assert await status_of(alice) == ("busy", "Back early")  # set by hand: it wins
    assert (await alice.profile())["name"] == "Alice"


async def test_a_future_start_waits_and_off_calls_it_off_or_ends_it(world: ClockedWorld) -> None:
    alice = await ready(world, "alice")
    reply = await ask_bot(alice, "/ooo from 2026-01-07 until 2026-01-09 Conference")
    assert reply.startswith(
        "Noted: you will be out of office from Wed 7 Jan 00:00 until Fri 9 Jan"
    )
    assert await status_of(alice) == ("online", "")
    assert "You will be out of office from" in await ask_bot(alice, "/ooo")
    await advance(world, to=datetime(2026, 1, 6, 23, 0, tzinfo=UTC))
    assert await status_of(alice) == ("away", "Out of office until 9 Jan: Conference")
    await following(world, alice)
    assert "Nobody wrote to you" in await end_now(alice)
    assert await status_of(alice) == ("online", "")

    await ask_bot(alice, "/ooo from 2026-01-08 for 1d")
    assert await ask_bot(alice, "/ooo off") == "Called off: your out of office will not start."
    await advance(world, to=datetime(2026, 1, 8, 1, 0, tzinfo=UTC))
    assert await status_of(alice) == ("online", "")


async def test_bad_input_gets_a_sentence_to_act_on(world: ClockedWorld) -> None:
    alice = await ready(world, "alice")
    assert "“someday” after `until` is not a date" in await ask_bot(alice, "/ooo until someday")
    assert "2020-01-01 is in the past" in await ask_bot(alice, "/ooo until 2020-01-01")
    assert "could be read two ways" in await ask_bot(alice, "/ooo until 12/01")
    assert "not out of office; nothing to end" in await ask_bot(alice, "/ooo off")
    assert "Be out of office" in await ask_bot(alice, "/help ooo")
    nobody = await world.person("nobody")
    assert "token" in await ask_bot(nobody, "/ooo for 1w")


async def test_a_new_until_while_away_moves_the_day_you_are_back(world: ClockedWorld) -> None:
    alice = await ready(world, "alice")
    await ask_bot(alice, "/ooo until 2026-01-06 Flu")
    reply = await ask_bot(alice, "/ooo until 2026-01-09 Still flu")
    assert reply == "You are now out of office until Fri 9 Jan."
    assert await status_of(alice) == ("away", "Out of office until 9 Jan: Still flu")
    await advance(world, to=datetime(2026, 1, 6, 23, 0, tzinfo=UTC))  # the first end passed
    assert await status_of(alice) == ("away", "Out of office until 9 Jan: Still flu")
    refused = await ask_bot(alice, "/ooo from 2026-01-20 until 2026-01-22")
    assert "You are out of office already, until Fri 9 Jan" in refused
    mark = alice.heard_count
    await advance(world, to=BACK)
    await digest(alice, after=mark)
    assert await status_of(alice) == ("online", "")
