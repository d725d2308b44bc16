"""`/undo` puts back what the last change replaced; `/audit` shows the trail (admins: anyone's)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from sandbox.people import Person
from tests.e2e.conftest import (
    ClockedWorld,
    advance,
    ask_bot,
    automation_world,
    delegate,
    each_release,
    status_of,
)


@pytest.fixture
async def world(tmp_path: Path, rc_version: str) -> AsyncIterator[ClockedWorld]:
    async with automation_world(tmp_path, rc_version=rc_version) as running:
        yield running


async def ready(world: ClockedWorld, name: str = "alice") -> Person:
    person = await world.person(name)
    assert "stored" in await delegate(person)
    return person


async def test_undo_puts_back_what_the_last_change_replaced(world: ClockedWorld) -> None:
    alice = await ready(world)
    await ask_bot(alice, "/bio Reads a lot")
    await ask_bot(alice, "/bio Writes a lot")

    reply = await ask_bot(alice, "/undo")

    assert reply == "Undone (command /bio): bio back to “Reads a lot”."
    assert (await alice.profile())["bio"] == "Reads a lot"
    assert "nothing to undo" in await ask_bot(alice, "/undo")
    assert (await alice.profile())["bio"] == "Reads a lot"
    trail = (await ask_bot(alice, "/audit")).splitlines()
    assert trail[1].endswith("· undo · bio “Writes a lot” → “Reads a lot”")


async def test_undo_restores_a_custom_field_and_keeps_the_others(world: ClockedWorld) -> None:
    alice = await ready(world)
    await ask_bot(alice, '/field location "Berlin"')
    await ask_bot(alice, "/field team Core")

    assert "field team back to nothing" in await ask_bot(alice, "/undo")

    fields = (await alice.profile())["customFields"]
    assert fields.get("location") == "Berlin" and not fields.get("team")


@each_release
async def test_undo_of_a_temporary_status_also_cancels_its_revert(world: ClockedWorld) -> None:
    alice = await ready(world)
    await ask_bot(alice, "/status busy Focus")
    await ask_bot(alice, "/status away At lunch for 1h")

    assert "presence back to “busy”" in await ask_bot(alice, "/undo")
    assert await status_of(alice) == ("busy", "Focus")
    await ask_bot(alice, "/status Writing")  # a later text the revert must not touch
    await advance(world, 2 * 3600)
    assert await status_of(alice) == ("busy", "Writing")


async def test_undo_leaves_a_field_changed_elsewhere_alone(world: ClockedWorld) -> None:
    alice = await ready(world)
    await ask_bot(alice, "/nick Ali")
    await alice.rest("POST", "users.updateOwnBasicInfo", json={"data": {"nickname": "Al"}})

    reply = await ask_bot(alice, "/undo")

    assert "nickname changed elsewhere since" in reply
    assert (await alice.profile())["nickname"] == "Al"


async def test_audit_shows_old_and_new_values_and_the_cause(world: ClockedWorld) -> None:
    alice = await ready(world)
    await ask_bot(alice, "/nick Ali")
    await ask_bot(alice, "/status away Out for 1h")
    await advance(world, 3600)
    await ask_bot(alice, "/undo")

    reply = await ask_bot(alice, "/audit")

    lines = reply.splitlines()
    assert lines[0] == "My last changes on your account, newest first:"
    assert "· expiry · presence “away” → “online”; status text “Out” → (none)" in lines[1]
    assert "· command /status · presence “online” → “away”" in lines[2]
    assert "· command /nick · nickname (none) → “Ali”" in lines[3]
    assert lines[1].startswith("• 2026-01-05 10:00 UTC")


async def test_only_admins_see_someone_elses_audit_trail(world: ClockedWorld) -> None:
    alice = await ready(world)
    bob = await ready(world, "bob")
    await ask_bot(alice, "/nick Ali")

    refused = await ask_bot(bob, "/audit @alice")
    assert "Only members of the “admin” role" in refused and "Ali" not in refused
    assert "changed anything on your account" in await ask_bot(bob, "/audit")

    assert "stored" in await delegate(world.admin)
    answer = await ask_bot(world.admin, "/audit @alice")
    assert answer.startswith("My last changes on @alice's account")
    assert "nickname (none) → “Ali”" in answer
    assert "no user called @nobody" in await ask_bot(world.admin, "/audit @nobody")
