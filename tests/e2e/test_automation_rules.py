"""Rules from the configuration: schedule and message triggers, each users selector, opting out
and back in, and one failing person among several. The clock starts Monday 2026-01-05 09:00 UTC
and only moves when a test moves it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from sandbox.digests import sha256_hex
from sandbox.people import Person
from tests.e2e.conftest import (
    BOT_NAME,
    PASSWORD,
    ClockedWorld,
    advance,
    ask_bot,
    automation_world,
    delegate,
    each_release,
    status_of,
)

RULES: list[dict[str, Any]] = [
    {
        "name": "evening-away",
        "trigger": {"schedule": "0 18 * * 1-5", "timezone": "Europe/Berlin"},
        "users": {"usernames": ["alice", "bob", "carol"]},
        "change": {"status": "away", "status_text": "Off for the day", "for": "14h"},
    },
    {
        "name": "standup",
        "trigger": {"schedule": "30 9 * * 1-5", "timezone": "UTC"},
        "users": {"room": "team"},
        "change": {"status": "busy", "status_text": "Standup", "for": "15m"},
    },
    {
        "name": "lunch",
        "trigger": {"message": "^(lunch|brb)$", "rooms": ["general"]},
        "users": {"opted_in": True},
        "change": {"status": "away", "status_text": "At lunch", "for": "1h"},
    },
    {
        "name": "on-call",
        "trigger": {"schedule": "0 12 * * 1", "timezone": "UTC"},
        "users": {"usernames": ["dave"]},
        "change": {"bio": "On call this week", "nickname": "Pager", "for": "8h"},
    },
]
EVENING = datetime(2026, 1, 5, 17, 0, tzinfo=UTC)  # 18:00 in Berlin


@pytest.fixture
async def world(tmp_path: Path, rc_version: str) -> AsyncIterator[ClockedWorld]:
    async with automation_world(tmp_path, rc_version=rc_version, rules=RULES) as running:
        yield running


async def ready(world: ClockedWorld, name: str) -> Person:
    person = await world.person(name)
    assert "stored" in await delegate(person)
    return person


async def causes(world: ClockedWorld, person: Person) -> list[str]:
    automation = world.bot.automation
    assert automation is not None
    return [entry.cause for entry in reversed(await automation.audit.recent(person.user_id))]


async def test_a_schedule_rule_acts_at_its_time_in_its_zone_for_the_listed_users(
    world: ClockedWorld,
) -> None:
    alice, bob = await ready(world, "alice"), await ready(world, "bob")
    carol = await world.person("carol")  # listed, but gave the bot no token
    eve = await ready(world, "eve")  # has a token, but is not listed

    await advance(world, to=datetime(2026, 1, 5, 16, 59, tzinfo=UTC))
    assert await status_of(alice) == ("online", "")
    await advance(world, to=EVENING)

    assert await status_of(alice) == ("away", "Off for the day")
    assert await status_of(bob) == ("away", "Off for the day")
    assert await status_of(carol) == ("online", "")
    assert await status_of(eve) == ("online", "")
    assert await causes(world, alice) == ["rule evening-away"]

    await advance(world, 14 * 3600)
    assert await status_of(alice) == ("online", "")
    assert await causes(world, bob) == ["rule evening-away", "expiry"]


async def test_a_room_rule_acts_for_the_members_of_the_room(world: ClockedWorld) -> None:
    alice, bob = await ready(world, "alice"), await ready(world, "bob")
    await world.admin.rest("POST", "channels.create", json={"name": "team", "members": ["alice"]})

    await advance(world, to=datetime(2026, 1, 5, 9, 30, tzinfo=UTC))

    assert await status_of(alice) == ("busy", "Standup")
    assert await status_of(bob) == ("online", "")
    await advance(world, 15 * 60)
    assert await status_of(alice) == ("online", "")
    assert await causes(world, alice) == ["rule standup", "expiry"]
    assert await causes(world, bob) == []


async def test_a_message_rule_acts_for_its_sender_once_they_opted_in(world: ClockedWorld) -> None:
    alice, bob = await ready(world, "alice"), await ready(world, "bob")
    assert "You joined the rule “lunch”" in await ask_bot(alice, "/rules on lunch")

    await alice.say("GENERAL", "lunch time soon")  # does not match ^(lunch|brb)$
    await ask_bot(alice, "/rules")  # her messages are handled in order: the hook has run
    assert await status_of(alice) == ("online", "")
    await alice.say("GENERAL", "lunch")
    await bob.say("GENERAL", "brb")  # bob did not opt in
    await ask_bot(alice, "/rules")
    await ask_bot(bob, "/rules")

    assert await status_of(alice) == ("away", "At lunch")
    assert await status_of(bob) == ("online", "")
    assert await causes(world, alice) == ["rule lunch"]
    await advance(world, 3600)
    assert await status_of(alice) == ("online", "")


@each_release
async def test_a_rule_puts_back_what_was_there_even_right_after_a_change_through_the_bot(
    world: ClockedWorld,
) -> None:
    alice = await ready(world, "alice")
    await ask_bot(alice, "/rules on lunch")
    await ask_bot(alice, "/status online Working")
    # Seconds later, in the Rocket.Chat client: the bot's last answer is out of date now.
    await alice.rest(
        "POST", "users.updateOwnBasicInfo", json={"data": {"statusText": "In a meeting"}}
    )
    await alice.say("GENERAL", "lunch")
    await ask_bot(alice, "/rules")
    assert await status_of(alice) == ("away", "At lunch")
    await advance(world, 3600)
    assert await status_of(alice) == ("online", "In a meeting")


async def test_a_rule_changes_bio_and_nickname_for_a_while(world: ClockedWorld) -> None:
    dave = await ready(world, "dave")
    await ask_bot(dave, "/bio Backend")

    await advance(world, to=datetime(2026, 1, 5, 12, 0, tzinfo=UTC))
    user = await dave.profile()
    assert (user["bio"], user["nickname"]) == ("On call this week", "Pager")

    await advance(world, 8 * 3600)
    user = await dave.profile()
    assert (user["bio"], user.get("nickname") or "") == ("Backend", "")


async def test_opting_out_and_back_in(world: ClockedWorld) -> None:
    alice, bob = await ready(world, "alice"), await ready(world, "bob")
    listing = await ask_bot(bob, "/rules")
    assert listing.startswith("Rules that apply to you:\n• evening-away: status away")
    assert "Rules you can join:\n• lunch:" in listing

    assert "no longer acts for you" in await ask_bot(bob, "/rules off evening-away")
    assert "Off for you" in await ask_bot(bob, "/rules")
    await advance(world, to=EVENING)
    assert await status_of(alice) == ("away", "Off for the day")
    assert await status_of(bob) == ("online", "")
    assert await causes(world, bob) == []

    assert "acts for you again" in await ask_bot(bob, "/rules on evening-away")
    await advance(world, to=datetime(2026, 1, 6, 17, 0, tzinfo=UTC))
    assert await status_of(bob) == ("away", "Off for the day")
    assert await causes(world, bob) == ["rule evening-away"]


async def test_rules_that_are_not_yours_cannot_be_turned_off(world: ClockedWorld) -> None:
    eve = await ready(world, "eve")
    assert "is not for you" in await ask_bot(eve, "/rules off evening-away")
    assert "Did you mean lunch?" in await ask_bot(eve, "/rules on lunhc")
    assert "Tell me which rule" in await ask_bot(eve, "/rules off")


async def test_a_failing_person_is_retried_and_never_holds_up_the_others(
    world: ClockedWorld,
) -> None:
    alice, bob, carol = [await ready(world, name) for name in ("alice", "bob", "carol")]
    # bob removes the token in Rocket.Chat; the bot only learns it when it is rejected.
    await bob.rest(
        "POST",
        "users.removePersonalAccessToken",
        json={"tokenName": "profile-bot"},
        headers={"X-2fa-Code": sha256_hex(PASSWORD), "X-2fa-Method": "password"},
    )
    dm = await bob.direct_room(BOT_NAME)
    mark = bob.heard_count

    await advance(world, to=EVENING)

    assert await status_of(alice) == ("away", "Off for the day")
    assert await status_of(carol) == ("away", "Off for the day")
    assert await status_of(bob) == ("online", "")
    for minutes in (1, 2, 4):  # the retries back off: 1, 2, then 4 minutes
        await advance(world, minutes * 60)
    told = await bob.hear(lambda m: m["rid"] == dm and m["u"]["username"] == BOT_NAME, after=mark)
    assert "The rule “evening-away” could not change your profile" in told["msg"]
    assert "rejected your personal access token" in told["msg"]
    assert await causes(world, bob) == []

    # A new token: the next evening works for bob again.
    assert "stored" in await delegate(bob)
    await advance(world, to=datetime(2026, 1, 6, 17, 0, tzinfo=UTC))
    assert await status_of(bob) == ("away", "Off for the day")


async def test_people_are_served_concurrently_when_a_rule_fires(world: ClockedWorld) -> None:
    people = await asyncio.gather(*(ready(world, name) for name in ("alice", "bob", "carol")))
    await advance(world, to=EVENING)
    assert [await status_of(person) for person in people] == [("away", "Off for the day")] * 3
