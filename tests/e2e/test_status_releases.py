"""Temporary statuses against Rocket.Chat 8.6's own expiry, with the bot's and the server's
clocks moved together.

On 8.6 the bot sends a temporary status with users.setStatus `expiresAt` (apps/meteor/app/api/
server/v1/users.ts, PR #40274), so the server shows `statusExpiresAt` ("Until …" in every
client) and its expiry job (ee/packages/presence/src/Presence.ts) ends the status even while the
bot is down. A manual claim keeps no previous state (presenceEngine.ts: "manual … never stashes
and clears any queued claim"), so that job resets the person to online with no text; the bot's
own revert then puts back what was there before. On 7.4 nothing expires on the server and the
bot's revert does it all: the tests marked `each_release` prove both end the same.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.profile.audit import AuditEntry
from bot.rocketchat.rest import iso_millis
from sandbox.people import Person
from tests.e2e.conftest import (
    ClockedWorld,
    ask_bot,
    automation_world,
    delegate,
    each_release,
    settle,
    status_of,
)
from tests.rest_helpers import sandbox_call

HOUR = 3600
BIO_AND_STATUS_RULE: dict[str, Any] = {
    "name": "lunch",
    "trigger": {"message": "^lunch$", "rooms": ["general"]},
    "users": {"opted_in": True},
    "change": {"status": "away", "status_text": "At lunch", "bio": "Out for lunch"},
}


def clocks_together(
    tmp_path: Path, rc_version: str, **settings: Any
) -> AbstractAsyncContextManager[ClockedWorld]:
    """A ClockedWorld whose bot clock starts at the sandbox's own "now"."""
    return automation_world(tmp_path, rc_version=rc_version, server_time=True, **settings)


@pytest.fixture
async def world(tmp_path: Path, rc_version: str) -> AsyncIterator[ClockedWorld]:
    async with clocks_together(tmp_path, rc_version) as running:
        yield running


async def move_server_clock(world: ClockedWorld, seconds: float) -> None:
    """Move the sandbox's clock (its expiry job runs for what came due)."""
    await sandbox_call(world.url, "POST", "/sandbox/clock", {"advance": seconds})


async def move_bot_clock(world: ClockedWorld, seconds: float) -> None:
    """Move the bot's clock and let what fell due run."""
    await world.clock.advance(seconds)
    await settle(world)


async def ready(world: ClockedWorld, name: str = "alice") -> Person:
    person = await world.person(name)
    assert "stored" in await delegate(person)
    return person


async def causes(world: ClockedWorld, person: Person) -> list[str]:
    automation = world.bot.automation
    assert automation is not None
    entries: list[AuditEntry] = await automation.audit.recent(person.user_id)
    return [entry.cause for entry in reversed(entries)]


async def expiry_shown(person: Person) -> str | None:
    """The end of the person's status as the server shows it to every client."""
    return (await person.profile()).get("statusExpiresAt")


@each_release
async def test_a_temporary_status_ends_where_it_started(
    world: ClockedWorld, rc_version: str
) -> None:
    alice = await ready(world)
    await ask_bot(alice, "/status busy Deep work")
    ends = world.clock.now() + timedelta(hours=1)

    assert "until" in await ask_bot(alice, "/status away At lunch for 1h")

    on_86 = rc_version.startswith("8.")
    assert await expiry_shown(alice) == (iso_millis(ends) if on_86 else None)
    await move_server_clock(world, HOUR + 1)
    # 8.6 ends the status by itself, to online with no text; 7.4 knows of no end.
    assert await status_of(alice) == (("online", "") if on_86 else ("away", "At lunch"))
    await move_bot_clock(world, HOUR + 1)
    assert await status_of(alice) == ("busy", "Deep work")
    assert await expiry_shown(alice) is None
    assert await causes(world, alice) == ["command /status", "command /status", "expiry"]


@each_release
async def test_a_status_changed_by_hand_during_a_temporary_one_is_left_alone(
    world: ClockedWorld,
) -> None:
    alice = await ready(world)
    await ask_bot(alice, "/status busy Deep work")
    await ask_bot(alice, "/status away At lunch for 1h")

    await alice.rest("POST", "users.setStatus", json={"status": "busy", "message": "On a call"})
    await move_server_clock(world, HOUR + 1)
    await move_bot_clock(world, HOUR + 1)

    assert await status_of(alice) == ("busy", "On a call")
    assert await causes(world, alice) == ["command /status", "command /status"]


@each_release
async def test_undo_takes_a_temporary_status_back_with_its_end(world: ClockedWorld) -> None:
    alice = await ready(world)
    await ask_bot(alice, "/status busy Deep work")
    await ask_bot(alice, "/status away At lunch for 1h")

    await ask_bot(alice, "/undo")

    assert await status_of(alice) == ("busy", "Deep work")
    assert await expiry_shown(alice) is None
    await move_server_clock(world, HOUR + 1)
    await move_bot_clock(world, HOUR + 1)
    assert await status_of(alice) == ("busy", "Deep work")
    assert await causes(world, alice) == ["command /status", "command /status", "undo"]


@pytest.mark.parametrize("rc_version", ["8.6.0"], indirect=True)
async def test_the_server_ends_a_status_while_the_bot_is_down_and_the_bot_finishes_it(
    world: ClockedWorld,
) -> None:
    alice = await ready(world)
    await ask_bot(alice, "/status busy Deep work")
    await ask_bot(alice, "/status away At lunch for 1h")
    await world.bot_stack.aclose()

    await move_server_clock(world, HOUR + 1)
    assert await status_of(alice) == ("online", "")  # every client saw it end on time
    await world.clock.advance(HOUR + 1)
    await world.start_bot()
    await settle(world)

    assert await status_of(alice) == ("busy", "Deep work")
    assert (await causes(world, alice))[-1] == "expiry"


@pytest.mark.parametrize("rc_version", ["8.6.0"], indirect=True)
async def test_a_status_refused_after_the_other_fields_changed_is_told_as_it_is(
    tmp_path: Path, rc_version: str
) -> None:
    """8.6 sends the status apart from the other fields: when Rocket.Chat takes the bio back
    but refuses the status (its users.setStatus route limit), the answer says so, and a second
    /undo puts back the rest."""
    async with clocks_together(tmp_path, rc_version, rules=[BIO_AND_STATUS_RULE]) as world:
        alice = await ready(world)
        await ask_bot(alice, "/rules on lunch")
        await alice.say("GENERAL", "lunch")
        await ask_bot(alice, "/rules")
        assert await status_of(alice) == ("away", "At lunch")
        assert (await alice.profile())["bio"] == "Out for lunch"
        limited = {"endpoint": "users.setStatus", "status": 429, "reset_ms": 120_000}
        await sandbox_call(world.url, "POST", "/sandbox/faults", {**limited, "count": 1})

        reply = await ask_bot(alice, "/undo")

        assert reply.startswith("Your bio changed, but your status did not:"), reply
        assert "too often" in reply
        assert not (await alice.profile()).get("bio")
        assert await status_of(alice) == ("away", "At lunch")
        assert "status" in await ask_bot(alice, "/undo")
        assert await status_of(alice) == ("online", "")


@each_release
async def test_the_release_is_read_at_login_and_again_after_a_reconnect(
    tmp_path: Path, rc_version: str
) -> None:
    async with clocks_together(tmp_path, rc_version, reconnect_delay_min=0.1) as world:
        server = world.bot.server
        assert server.version is not None
        assert (server.version.major, server.version.minor) == tuple(
            int(part) for part in rc_version.split(".")[:2]
        )
        server.version = None  # forget it: only a new login can tell it again
        world.bot.connected.clear()
        await sandbox_call(world.url, "POST", "/sandbox/drop-websockets", {"user": "profilebot"})
        await asyncio.wait_for(world.bot.connected.wait(), 10)
        assert server.version is not None
        assert server.has_presence_engine is rc_version.startswith("8.")


@each_release
async def test_away_chosen_through_the_bot_is_what_everyone_sees(
    world: ClockedWorld, rc_version: str
) -> None:
    """8.6 neither refuses nor overrides a manual Away: users.setStatus makes it a manual
    claim, shown while the person is connected (presenceEngine.ts); only Rocket.Chat's own
    clients stopped offering it (PR #40469)."""
    alice = await ready(world)

    assert "away: Back at 2" in await ask_bot(alice, "/status away Back at 2")

    shown = await alice.profile()
    assert (shown["status"], shown["statusText"]) == ("away", "Back at 2")
    assert shown.get("statusSource") == ("manual" if rc_version.startswith("8.") else None)


@pytest.mark.parametrize("rc_version", ["8.6.0"], indirect=True)
async def test_a_status_asked_for_during_a_call_is_refused_with_why(world: ClockedWorld) -> None:
    """presenceEngine.ts: a call's claim (statusSource internal) outranks the person's own, which
    would only wait in previousState; the bot says so instead of "Status set"."""
    alice = await ready(world)
    call = {"user": "alice", "statusSource": "internal", "statusId": "call-1"}
    await sandbox_call(
        world.url,
        "POST",
        "/sandbox/presence-claims",
        {**call, "claim": "set", "statusDefault": "busy", "statusText": "On a call"},
    )

    reply = await ask_bot(alice, "/status away At lunch")

    assert "call" in reply and "did not change your status" in reply, reply
    assert await status_of(alice) == ("busy", "On a call")
    await sandbox_call(world.url, "POST", "/sandbox/presence-claims", {**call, "claim": "end"})
    assert await status_of(alice) == ("online", "")


@each_release
async def test_a_change_right_after_a_rule_starts_from_what_the_rule_left(
    tmp_path: Path, rc_version: str
) -> None:
    """On 8.6 the rule's bio and status go in two requests: the profile the bot remembers after
    them has the rule's bio, so /undo of the next change puts that back, not the one before."""
    async with clocks_together(tmp_path, rc_version, rules=[BIO_AND_STATUS_RULE]) as world:
        alice = await ready(world)
        await ask_bot(alice, "/rules on lunch")
        await alice.say("GENERAL", "lunch")
        await ask_bot(alice, "/rules")
        assert (await alice.profile())["bio"] == "Out for lunch"

        await ask_bot(alice, "/bio Back at 2")
        await ask_bot(alice, "/undo")

        assert (await alice.profile())["bio"] == "Out for lunch"
