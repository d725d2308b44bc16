"""Temporary statuses: `for <duration>` / `until HH:MM`, put back on time, across a restart,
and left alone when the user changed their status elsewhere. The tests move a ManualClock."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.profile.audit import AuditEntry
from sandbox.people import Person
from tests.e2e.conftest import (
    ClockedWorld,
    advance,
    ask_bot,
    automation_world,
    delegate,
    each_release,
    settle,
    status_of,
)

START = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)  # ClockedWorld's ManualClock starts here


@pytest.fixture
async def world(tmp_path: Path, rc_version: str) -> AsyncIterator[ClockedWorld]:
    async with automation_world(
        tmp_path, rc_version=rc_version, default_timezone="Europe/Berlin"
    ) as running:
        yield running


async def ready(world: ClockedWorld, name: str = "alice") -> Person:
    person = await world.person(name)
    assert "stored" in await delegate(person)
    return person


async def audit_of(world: ClockedWorld, person: Person) -> list[AuditEntry]:
    automation = world.bot.automation
    assert automation is not None
    return list(reversed(await automation.audit.recent(person.user_id)))


@each_release
async def test_a_status_for_an_hour_is_put_back_when_the_hour_is_up(world: ClockedWorld) -> None:
    alice = await ready(world)
    assert await status_of(alice) == ("online", "")

    reply = await ask_bot(alice, "/status away At lunch for 1h")

    assert reply == (
        "Status set to away: At lunch until 11:00 (Europe/Berlin); then I put back online, "
        "with no status text."
    )
    assert await status_of(alice) == ("away", "At lunch")
    await advance(world, 59 * 60)
    assert await status_of(alice) == ("away", "At lunch")
    await advance(world, 60)
    assert await status_of(alice) == ("online", "")
    entries = await audit_of(world, alice)
    assert [entry.cause for entry in entries] == ["command /status", "expiry"]
    back = {item.field: (item.old, item.new) for item in entries[1].fields}
    assert back == {"presence": ("away", "online"), "status_text": ("At lunch", "")}


async def test_until_is_read_in_the_users_time_zone(world: ClockedWorld) -> None:
    alice = await ready(world)
    # 09:00 UTC is 10:00 in Berlin, the configured default (sandbox users have no utcOffset).
    reply = await ask_bot(alice, "/status busy Focus until 12:30")
    assert "until 12:30 (Europe/Berlin)" in reply

    await advance(world, to=datetime(2026, 1, 5, 11, 29, tzinfo=UTC))
    assert await status_of(alice) == ("busy", "Focus")
    await advance(world, to=datetime(2026, 1, 5, 11, 30, tzinfo=UTC))
    assert await status_of(alice) == ("online", "")


async def test_a_revert_that_fell_due_while_the_bot_was_down_runs_at_start_up(
    world: ClockedWorld,
) -> None:
    alice = await ready(world)
    await ask_bot(alice, "/status away Gone fishing for 2h")
    await world.bot_stack.aclose()  # the bot stops before the revert is due ...

    await world.clock.advance(3 * 3600)  # ... and stays down past it
    assert await status_of(alice) == ("away", "Gone fishing")
    await world.start_bot()
    await settle(world)

    assert await status_of(alice) == ("online", "")
    assert [entry.cause for entry in await audit_of(world, alice)][-1] == "expiry"


@each_release
@pytest.mark.parametrize("how", ["users.setStatus", "users.updateOwnBasicInfo"])
async def test_a_status_set_in_rocket_chat_meanwhile_is_left_alone(
    world: ClockedWorld, how: str
) -> None:
    alice = await ready(world)
    await ask_bot(alice, "/status away At lunch for 1h")

    if how == "users.setStatus":
        await alice.rest("POST", how, json={"status": "busy", "message": "Deep work"})
    else:
        data = {"statusType": "busy", "statusText": "Deep work"}
        await alice.rest("POST", how, json={"data": data})
    await advance(world, 3600)

    assert await status_of(alice) == ("busy", "Deep work")
    assert [entry.cause for entry in await audit_of(world, alice)] == ["command /status"]


async def test_a_later_change_through_the_bot_cancels_the_revert(world: ClockedWorld) -> None:
    alice = await ready(world)
    await ask_bot(alice, "/status away At lunch for 1h")
    await ask_bot(alice, "/status busy In a meeting")

    await advance(world, 2 * 3600)

    assert await status_of(alice) == ("busy", "In a meeting")


async def test_a_second_temporary_status_ends_where_the_first_one_started(
    world: ClockedWorld,
) -> None:
    alice = await ready(world)
    await ask_bot(alice, "/status away At lunch for 1h")
    reply = await ask_bot(alice, "/status busy Call for 30m")
    assert "then I put back online, with no status text" in reply

    await advance(world, 30 * 60)

    assert await status_of(alice) == ("online", "")
    await advance(world, 3600)  # the first deadline passes: nothing is left to put back
    assert [entry.cause for entry in await audit_of(world, alice)] == [
        "command /status",
        "command /status",
        "expiry",
    ]


async def test_a_bad_duration_says_how_to_write_one_and_changes_nothing(
    world: ClockedWorld,
) -> None:
    alice = await ready(world)
    reply = await ask_bot(alice, "/status away for 2x")
    assert "is not a unit I know" in reply and "2h" in reply
    assert await status_of(alice) == ("online", "")
