"""Users are found by username and e-mail address as Rocket.Chat's indexes find them, and a
changed username or address is found under the new one only.

Rocket.Chat: packages/models/src/models/Users.ts (findOneByUsernameIgnoringCase and
findOneByEmailAddress ignore case; findOneByIdOrUsername, behind users.info's getFullUserData,
matches the username exactly).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sandbox.digests import sha256_hex
from tests.sandbox.conftest import Account, World, WorldFactory


async def _update(world: World, account: Account, data: dict[str, Any]) -> Any:
    return await world.call(
        "POST", "users.updateOwnBasicInfo", auth=account.auth, json={"data": data}
    )


async def _info(world: World, **params: str) -> Any:
    return await world.call("GET", "users.info", auth=world.admin.auth, params=params)


async def test_a_renamed_user_is_found_by_the_new_name_only(world: World) -> None:
    alice = world.add_user("alice")
    world.set("Accounts_AllowUsernameChange", True)
    reply = await _update(world, alice, {"username": "Alice.New"})
    assert reply.status == 200, reply.body

    found = await _info(world, username="Alice.New")
    assert found.body["user"]["_id"] == alice.user_id
    assert (await _info(world, username="alice.new")).body["error"] == "User not found."
    assert (await _info(world, username="alice")).body == {
        "success": False,
        "error": "User not found.",
    }
    assert world.state.user_by_exact_username("alice.new") is None  # case counts there
    # The old name is free again for someone else.
    bob = world.add_user("bob")
    assert (await _update(world, bob, {"username": "alice"})).status == 200
    assert world.state.user_by_username("ALICE")["_id"] == bob.user_id  # type: ignore[index]


async def test_a_changed_address_is_found_by_the_new_address_only(world: World) -> None:
    carol = world.add_user("carol", email="carol@example.com")
    world.age_accounts()
    reply = await _update(
        world,
        carol,
        {"email": "Carol@Elsewhere.example", "currentPassword": sha256_hex(carol.password)},
    )
    assert reply.status == 200, reply.body
    assert world.state.user_by_email("carol@elsewhere.example")["_id"] == carol.user_id  # type: ignore[index]
    assert world.state.user_by_email("carol@example.com") is None
    # The old address is free again.
    dave = world.add_user("dave", email="carol@example.com")
    assert world.state.user_by_email("CAROL@example.com")["_id"] == dave.user_id  # type: ignore[index]


async def test_lookups_survive_a_restart_from_the_data_file(
    world_factory: WorldFactory, tmp_path: Path
) -> None:
    data_file = tmp_path / "world.json"
    async with world_factory(data_file) as world:
        erin = world.add_user("erin", email="erin@example.com")
        world.state.save()
    async with world_factory(data_file) as world:
        assert (await _info(world, username="erin")).body["user"]["_id"] == erin.user_id
        assert world.state.user_by_email("erin@example.com")["_id"] == erin.user_id  # type: ignore[index]
