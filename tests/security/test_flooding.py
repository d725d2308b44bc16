"""Flooding: per-user and global limits on commands, a polite reply once and then silence until
the sender's window resets; other people are served throughout."""

from __future__ import annotations

from pathlib import Path

from tests.e2e.conftest import BOT_NAME, ask_bot
from tests.security.conftest import bot_messages, from_bot, security_world, stays_quiet

NOTHING_TO_CANCEL = "You have no change waiting"


async def test_a_flooding_user_is_told_once_then_ignored_until_the_window_resets(
    tmp_path: Path,
) -> None:
    async with security_world(
        tmp_path, rate_limit_per_user=3, rate_limit_global=0, rate_limit_window=60
    ) as world:
        alice = await world.person("alice")
        bob = await world.person("bob")
        dm = await alice.direct_room(BOT_NAME)
        mark = alice.heard_count
        for _ in range(7):
            await alice.say(dm, "/cancel")
        notice = await alice.hear(
            lambda m: from_bot(dm)(m) and "Slow down" in m["msg"], after=mark
        )
        assert "at most 3 commands per minute" in notice["msg"]
        assert NOTHING_TO_CANCEL in await ask_bot(bob, "/cancel")  # others are served meanwhile
        quiet_from = alice.heard_count
        in_room = await alice.say("GENERAL", "/cancel")  # nor does a room help
        assert await stays_quiet(alice, after=quiet_from)
        assert not any(m["_id"] == in_room and m.get("reactions") for m in alice.heard())
        answers = bot_messages(alice, after=mark, room_id=dm)
        assert [NOTHING_TO_CANCEL in text for text in answers] == [True, True, True, False]
        await world.clock.advance(61)
        assert NOTHING_TO_CANCEL in await ask_bot(alice, "/cancel")


async def test_answers_in_a_dm_count_too_so_a_conversation_cannot_be_flooded(
    tmp_path: Path,
) -> None:
    async with security_world(tmp_path, rate_limit_per_user=2, rate_limit_global=0) as world:
        alice = await world.person("alice")
        dm = await alice.direct_room(BOT_NAME)
        mark = alice.heard_count
        for text in ("hello", "are you there?", "hello?", "HELLO"):
            await alice.say(dm, text)
        notice = await alice.hear(from_bot(dm), after=mark)
        assert "Slow down" in notice["msg"]
        assert await stays_quiet(alice, after=alice.heard_count)


async def test_the_global_limit_refuses_politely_once_and_recovers(tmp_path: Path) -> None:
    async with security_world(
        tmp_path, rate_limit_per_user=0, rate_limit_global=3, rate_limit_window=60
    ) as world:
        alice, bob, carol = [await world.person(name) for name in ("alice", "bob", "carol")]
        assert NOTHING_TO_CANCEL in await ask_bot(alice, "/cancel")
        assert NOTHING_TO_CANCEL in await ask_bot(alice, "/cancel")
        assert NOTHING_TO_CANCEL in await ask_bot(bob, "/cancel")
        busy = await ask_bot(carol, "/cancel")
        assert "more commands than I can handle" in busy
        mark = carol.heard_count
        await carol.tell(BOT_NAME, "/cancel")
        assert await stays_quiet(carol, after=mark)
        await world.clock.advance(61)
        assert NOTHING_TO_CANCEL in await ask_bot(carol, "/cancel")


async def test_a_flood_of_room_commands_gets_one_cross_and_one_dm(tmp_path: Path) -> None:
    async with security_world(tmp_path, rate_limit_per_user=1, rate_limit_global=0) as world:
        alice = await world.person("alice")
        dm = await alice.direct_room(BOT_NAME)
        mark = alice.heard_count
        ids = [await alice.say("GENERAL", "/nick Spam") for _ in range(4)]
        notice = await alice.hear(
            lambda m: from_bot(dm)(m) and "Slow down" in m["msg"], after=mark
        )
        assert "at most 1 command per minute" in notice["msg"]
        assert await stays_quiet(alice, after=alice.heard_count)
        general = await alice.rest(
            "GET", "channels.history", params={"roomId": "GENERAL", "count": "50"}
        )
        reacted = [m["_id"] for m in general["messages"] if m["_id"] in ids and m.get("reactions")]
        assert sorted(reacted) == sorted(ids[:2])  # the command itself, and the one notice
        assert len(bot_messages(alice, after=mark, room_id=dm)) == 2


async def test_a_wall_clock_stepping_back_does_not_freeze_a_window(tmp_path: Path) -> None:
    """The windows run on monotonic time: an NTP step backwards of an hour (which makes every
    window look an hour younger on the wall clock) lets the sender in after a window as usual."""
    async with security_world(
        tmp_path, rate_limit_per_user=2, rate_limit_global=0, rate_limit_window=60
    ) as world:
        alice = await world.person("alice")
        dm = await alice.direct_room(BOT_NAME)
        mark = alice.heard_count
        for _ in range(3):
            await alice.say(dm, "/cancel")
        await alice.hear(lambda m: from_bot(dm)(m) and "Slow down" in m["msg"], after=mark)
        world.clock.jump(-3600)
        await world.clock.advance(61)
        assert NOTHING_TO_CANCEL in await ask_bot(alice, "/cancel")
