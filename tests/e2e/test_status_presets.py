"""`/status` presets and recent statuses, end to end: the list, picking by number (with its
`for`), the team's presets from the configuration, saving, applying by name and deleting a
personal preset, numbers that no longer exist, and a person with no history.

The clock starts Monday 2026-01-05 09:00 UTC (10:00 in Berlin, the configured zone) and moves
only when a test moves it. Rocket.Chat 7.x lets a person change their status text 5 times a
minute (setStatusText's limiter), so each test changes a person's text at most five times.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from bot.profile.team_presets import parse_presets
from sandbox.people import Person
from tests.e2e.conftest import (
    ClockedWorld,
    advance,
    ask_bot,
    automation_world,
    delegate,
    status_of,
)

PRESETS: list[dict[str, Any]] = [
    {"name": "focus", "presence": "busy", "text": "Focusing", "until": "17:00"},
    {"name": "commute", "presence": "away", "text": "On my way", "for": "45m"},
]
TEAM_LIST = (
    "Team presets:\n"
    "{0}. `focus` — busy: Focusing (until 17:00)\n"
    "{1}. `commute` — away: On my way (for 45m)"
)
RULES: list[dict[str, Any]] = [
    {
        "name": "evening",
        "trigger": {"schedule": "0 17 * * *", "timezone": "UTC"},
        "users": {"usernames": ["rita"]},
        "change": {"status": "away", "status_text": "Off for the day"},
    }
]


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[ClockedWorld]:
    settings = {
        "presets": PRESETS,
        "rules": RULES,
        "default_timezone": "Europe/Berlin",
        "rate_limit_per_user": 0,  # one test saves 21 presets in a row
    }
    async with automation_world(tmp_path, **settings) as running:
        yield running


async def ready(world: ClockedWorld, name: str = "alice") -> Person:
    person = await world.person(name)
    assert "stored" in await delegate(person)
    return person


async def causes(world: ClockedWorld, person: Person) -> list[str]:
    automation = world.bot.automation
    assert automation is not None
    return [entry.cause for entry in reversed(await automation.audit.recent(person.user_id))]


async def test_a_person_with_no_history_and_no_presets_is_told_how_to_start(
    tmp_path: Path,
) -> None:
    async with automation_world(tmp_path) as world:
        alice = await world.person("alice")  # no token needed to look

        listing = await ask_bot(alice, "/status")
        picked = await ask_bot(alice, "/status 1")
        presets = await ask_bot(alice, "/status presets")

    assert listing == (
        "No recent statuses yet: the last five statuses with a text that you set through me "
        "show up here.\n"
        "`/status save NAME` keeps your current status as a preset."
    )
    assert picked == (
        "There is nothing to pick yet: you have no recent statuses and there are no presets. "
        "Set a status with a text (`/status away At lunch for 1h`) and it shows up in "
        "`/status`."
    )
    assert presets == (
        "There are no presets: the team has none and you have saved none. "
        "`/status save NAME` keeps your current status as one."
    )


async def test_team_presets_are_listed_and_one_applies_by_number_with_its_time(
    world: ClockedWorld,
) -> None:
    alice = await ready(world)

    listing = await ask_bot(alice, "/status")
    assert listing == (
        "No recent statuses yet: the last five statuses with a text that you set through me "
        "show up here.\n" + TEAM_LIST.format(1, 2) + "\n`/status <number>` sets one again.\n"
        "`/status save NAME` keeps your current status as a preset."
    )

    reply = await ask_bot(alice, "/status 2")

    assert reply == (
        "Team preset `commute`: Status set to away: On my way until 10:45 (Europe/Berlin); "
        "then I put back online, with no status text."
    )
    assert await status_of(alice) == ("away", "On my way")
    await advance(world, 45 * 60)
    assert await status_of(alice) == ("online", "")
    assert await causes(world, alice) == ["command /status use commute", "expiry"]
    # Used, but it is a preset already: the list shows it once, as the preset.
    assert TEAM_LIST.format(1, 2) in await ask_bot(alice, "/status")
    assert "No recent statuses yet" in await ask_bot(alice, "/status")


async def test_recent_statuses_are_the_texts_set_through_status_newest_first(
    world: ClockedWorld,
) -> None:
    alice = await ready(world)
    await ask_bot(alice, "/status away At lunch for 1h")
    await ask_bot(alice, "/status busy In a meeting")
    await ask_bot(alice, "/status online")  # a presence alone is no recent status
    await ask_bot(alice, "/status Writing docs")  # keeps the presence: online
    await ask_bot(alice, "/undo")  # an undo is none either (back to "In a meeting")

    listing = await ask_bot(alice, "/status")

    assert listing == (
        "Your recent statuses:\n"
        "1. online: Writing docs\n"
        "2. busy: In a meeting\n"
        "3. away: At lunch (for 1h)\n"
        + TEAM_LIST.format(4, 5)
        + "\n`/status <number>` sets one again.\n"
        "`/status save NAME` keeps your current status as a preset."
    )

    reply = await ask_bot(alice, "/status 3")

    assert reply == (
        "Status set to away: At lunch until 11:00 (Europe/Berlin); then I put back online: "
        "“In a meeting”."
    )
    assert await status_of(alice) == ("away", "At lunch")
    assert (await causes(world, alice))[-1] == "command /status"


async def test_a_status_set_by_a_rule_is_no_recent_status(world: ClockedWorld) -> None:
    rita = await ready(world, "rita")
    await ask_bot(rita, "/status busy Reviewing")
    await advance(world, to=datetime(2026, 1, 5, 17, 0, tzinfo=UTC))
    assert await status_of(rita) == ("away", "Off for the day")

    listing = await ask_bot(rita, "/status")

    assert listing.startswith("Your recent statuses:\n1. busy: Reviewing\nTeam presets:")


async def test_numbers_are_those_of_the_list_shown_last_for_an_hour(world: ClockedWorld) -> None:
    alice = await ready(world)
    await ask_bot(alice, "/status away At lunch")
    await ask_bot(alice, "/status busy In a meeting")
    assert (await ask_bot(alice, "/status")).startswith(
        "Your recent statuses:\n1. busy: In a meeting\n2. away: At lunch\n"
    )

    assert await ask_bot(alice, "/status 2") == "Status set to away: At lunch"
    # Number 2 moved to the top of the recents, but 2 still means what the list said.
    assert await ask_bot(alice, "/status 2") == "Your status is already away: At lunch"
    assert await ask_bot(alice, "/status 1") == "Status set to busy: In a meeting"

    await advance(world, 3601)  # an hour later, numbers follow the list as it is now
    assert await ask_bot(alice, "/status 2") == "Status set to away: At lunch"
    assert (await ask_bot(alice, "/status")).startswith(
        "Your recent statuses:\n1. away: At lunch\n2. busy: In a meeting\n"
    )


async def test_a_number_out_of_range_is_refused_and_nothing_changes(world: ClockedWorld) -> None:
    alice = await ready(world)
    await ask_bot(alice, "/status away At lunch")

    unlisted = await ask_bot(alice, "/status 4")
    await ask_bot(alice, "/status")
    listed = await ask_bot(alice, "/status 9")
    zero = await ask_bot(alice, "/status 0 for 1h")

    assert unlisted == "There is no number 4: your list has 1 to 3. `/status` shows it."
    assert listed == (
        "There is no number 9 in the list I showed you (1 to 3). `/status` shows it again."
    )
    assert zero == (
        "There is no number 0 in the list I showed you (1 to 3). `/status` shows it again."
    )
    assert await status_of(alice) == ("away", "At lunch")
    assert await causes(world, alice) == ["command /status"]


async def test_a_status_is_saved_applied_by_name_listed_and_deleted(world: ClockedWorld) -> None:
    alice = await ready(world)
    await ask_bot(alice, "/status away At lunch for 1h")

    saved = await ask_bot(alice, "/status save Lunch")
    assert saved == (
        "Saved your preset `Lunch`: away: At lunch (for 1h). `/status use Lunch` applies it."
    )
    await ask_bot(alice, "/status online Back")
    assert await status_of(alice) == ("online", "Back")
    await world.restart_bot()  # presets and recents are kept in the bot's database

    applied = await ask_bot(alice, "/status use lunch")

    assert applied == (
        "Preset `Lunch`: Status set to away: At lunch until 11:00 (Europe/Berlin); then I put "
        "back online: “Back”."
    )
    assert await status_of(alice) == ("away", "At lunch")
    assert (await causes(world, alice))[-1] == "command /status use Lunch"

    listing = await ask_bot(alice, "/status presets")
    assert listing == (
        "Your presets:\n1. `Lunch` — away: At lunch (for 1h)\n"
        + TEAM_LIST.format(2, 3)
        + "\n`/status <number>` or `/status use NAME` applies one; "
        "`/status delete NAME` deletes one of yours."
    )
    assert "Your recent statuses:\n1. online: Back\nYour presets:\n2. `Lunch`" in (
        await ask_bot(alice, "/status")
    )
    await ask_bot(alice, "/status presets")  # numbers follow this list again

    deleted = await ask_bot(alice, "/status delete LUNCH")

    assert deleted == "Deleted your preset `Lunch` (away: At lunch (for 1h))."
    assert await ask_bot(alice, "/status 1") == (
        "Number 1 was your preset `Lunch`, which you have deleted since. `/status` shows the "
        "list as it is now."
    )
    assert await ask_bot(alice, "/status use lunch") == (
        "There is no preset “lunch”. The presets are: `focus`, `commute`. "
        "`/status presets` lists them."
    )
    assert await ask_bot(alice, "/status delete lunch") == (
        "You have no preset “lunch”. `/status presets` lists them."
    )
    assert await status_of(alice) == ("away", "At lunch")


async def test_saving_keeps_the_time_given_replaces_by_name_and_knows_its_limits(
    world: ClockedWorld,
) -> None:
    alice = await ready(world)
    bob = await ready(world, "bob")

    assert await ask_bot(bob, "/status save lunch") == (
        "You have no status text, so there is nothing to save. Set one first "
        "(`/status away At lunch for 1h`), then `/status save lunch`."
    )
    await ask_bot(alice, "/status busy Deep work")
    assert await ask_bot(alice, "/status save deep for 2h") == (
        "Saved your preset `deep`: busy: Deep work (for 2h). `/status use deep` applies it."
    )
    assert await ask_bot(alice, "/status save deep until 16:00") == (
        "Replaced your preset `deep`: busy: Deep work (until 16:00). `/status use deep` "
        "applies it."
    )
    assert await ask_bot(alice, "/status save focus") == (
        "The team already has a preset called `focus` (`/status use focus` applies it); "
        "choose another name."
    )
    assert await ask_bot(alice, "/status delete focus") == (
        "`focus` is a team preset, set in my configuration: only an admin can remove it."
    )
    assert "cannot name a preset" in await ask_bot(alice, "/status save 2nd")
    for number in range(2, 21):
        assert (await ask_bot(alice, f"/status save p{number}")).startswith("Saved")
    assert await ask_bot(alice, "/status save one-more") == (
        "You have 20 presets, the most I keep for one person. Delete one first "
        "(`/status delete NAME`; `/status presets` lists them)."
    )
    assert (await ask_bot(alice, "/status save p20")).startswith("Replaced")
    assert await status_of(alice) == ("busy", "Deep work")


async def test_a_picked_status_takes_a_new_time_and_a_preset_name_is_not_a_status_text(
    world: ClockedWorld,
) -> None:
    alice = await ready(world)

    reply = await ask_bot(alice, "/status use focus for 30m")
    assert reply == (
        "Team preset `focus`: Status set to busy: Focusing until 10:30 (Europe/Berlin); then "
        "I put back online, with no status text."
    )
    assert await ask_bot(alice, "/status focus") == "Status set to busy: focus"
    assert await ask_bot(alice, '/status "use focus"') == "Status set to busy: use focus"
    assert await status_of(alice) == ("busy", "use focus")


async def test_a_team_preset_removed_from_the_configuration_is_refused_by_its_number(
    world: ClockedWorld,
) -> None:
    alice = await ready(world)
    await ask_bot(alice, "/status presets")
    assert world.bot_settings is not None
    world.bot_settings = world.bot_settings.model_copy(
        update={"presets": parse_presets(PRESETS[:1])}
    )
    await world.restart_bot()

    assert await ask_bot(alice, "/status 2") == (
        "Number 2 was the team preset `commute`, which is no longer configured. `/status` "
        "shows the list as it is now."
    )
    assert await status_of(alice) == ("online", "")
    assert await ask_bot(alice, "/status 1") == (
        "Team preset `focus`: Status set to busy: Focusing until 17:00 (Europe/Berlin); then I "
        "put back online, with no status text."
    )
