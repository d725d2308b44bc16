"""Each profile command changes exactly what it says, as `users.info` shows, and nothing else."""

from __future__ import annotations

from typing import Any

from sandbox.people import Person
from tests.e2e.conftest import World, ask_bot, delegate, each_release


async def ready(world: World, name: str = "alice") -> Person:
    person = await world.person(name)
    assert "stored" in await delegate(person)
    return person


def profile_view(user: dict[str, Any]) -> dict[str, Any]:
    keys = ("name", "username", "statusText", "nickname", "bio", "customFields", "statusDefault")
    return {key: user.get(key) or None for key in keys}


@each_release
async def test_status_with_presence_and_text_sets_both(world: World) -> None:
    alice = await ready(world)
    assert "away: At lunch" in await ask_bot(alice, "/status away At lunch")
    user = await alice.profile()
    assert user["statusText"] == "At lunch"
    assert user.get("statusDefault", user["status"]) == "away"


@each_release
async def test_presence_alone_keeps_text_and_text_alone_keeps_presence(world: World) -> None:
    alice = await ready(world)
    await ask_bot(alice, "/status away At lunch")
    await ask_bot(alice, "/status busy")
    user = await alice.profile()
    assert (user.get("statusDefault", user["status"]), user["statusText"]) == ("busy", "At lunch")
    await ask_bot(alice, "/status In a meeting")
    user = await alice.profile()
    assert (user.get("statusDefault", user["status"]), user["statusText"]) == (
        "busy",
        "In a meeting",
    )


@each_release
async def test_status_clear_clears_text_and_keeps_presence(world: World) -> None:
    alice = await ready(world)
    await ask_bot(alice, "/status away Back soon")
    assert "cleared" in await ask_bot(alice, "/status clear")
    user = await alice.profile()
    assert not user.get("statusText")
    assert user.get("statusDefault", user["status"]) == "away"


async def test_bio_nick_and_name_change_only_their_field(world: World) -> None:
    alice = await ready(world)
    before = profile_view(await alice.profile())
    await ask_bot(alice, "/bio Reads a lot")
    await ask_bot(alice, "/nick Ali")
    await ask_bot(alice, '/name "Alice Liddell"')
    after = profile_view(await alice.profile())
    assert after == {**before, "bio": "Reads a lot", "nickname": "Ali", "name": "Alice Liddell"}


async def test_bio_and_nick_clear(world: World) -> None:
    alice = await ready(world)
    await ask_bot(alice, "/bio Reads a lot")
    await ask_bot(alice, "/nick Ali")
    await ask_bot(alice, "/bio clear")
    await ask_bot(alice, "/nick clear")
    user = await alice.profile()
    assert not user.get("bio") and not user.get("nickname")


async def test_custom_field_changes_one_field_and_keeps_the_others(world: World) -> None:
    alice = await ready(world)
    await ask_bot(alice, "/field team Core")
    await ask_bot(alice, '/field location "Berlin, Germany"')
    assert (await alice.profile())["customFields"] == {
        "team": "Core",
        "location": "Berlin, Germany",
    }
    await ask_bot(alice, "/field team clear")
    fields = (await alice.profile())["customFields"]
    assert fields.get("location") == "Berlin, Germany" and not fields.get("team")


async def test_unknown_custom_field_is_refused_with_the_known_ones(world: World) -> None:
    alice = await ready(world)
    answer = await ask_bot(alice, "/field shoe 42")
    assert "team" in answer and "location" in answer
    assert not (await alice.profile()).get("customFields")


async def test_too_long_values_are_refused_before_any_change(world: World) -> None:
    alice = await ready(world)
    before = await alice.me()
    assert "260" in await ask_bot(alice, "/bio " + "b" * 261)
    assert "120" in await ask_bot(alice, "/nick " + "n" * 121)
    assert "120" in await ask_bot(alice, "/status away " + "s" * 121)
    assert "30" in await ask_bot(alice, "/field team " + "t" * 31)
    assert (await alice.me())["_updatedAt"] == before["_updatedAt"]


async def test_same_value_is_answered_without_a_change(world: World) -> None:
    alice = await ready(world)
    await ask_bot(alice, "/nick Ali")
    stamp = (await alice.me())["_updatedAt"]
    assert "already" in await ask_bot(alice, "/nick Ali")
    assert (await alice.me())["_updatedAt"] == stamp


async def test_bad_input_gets_usage_and_changes_nothing(world: World) -> None:
    alice = await ready(world)
    before = await alice.me()
    # `/status` alone lists recent statuses and presets (issue 17); `/status save` lacks a name.
    for text in ("/nick", "/field", '/field "team Core', "/name", "/status save"):
        answer = await ask_bot(alice, text)
        assert "Usage" in answer or "quote" in answer, (text, answer)
    assert (await alice.me())["_updatedAt"] == before["_updatedAt"]


async def test_a_setting_that_forbids_a_change_is_explained(world: World) -> None:
    alice = await ready(world)
    await world.admin.rest("POST", "settings/Accounts_AllowRealNameChange", json={"value": False})
    answer = await ask_bot(alice, "/name Someone Else")
    assert "name" in answer.lower() and "admin" in answer.lower(), answer
    assert (await alice.profile())["name"] == "Alice"


async def test_profile_shows_own_fields_and_no_secrets(world: World) -> None:
    alice = await ready(world)
    await ask_bot(alice, "/status away At lunch")
    await ask_bot(alice, "/field team Core")
    answer = await ask_bot(alice, "/profile")
    assert "At lunch" in answer and "Core" in answer and "@alice" in answer
    assert "example.com" not in answer and alice.auth_token not in answer
