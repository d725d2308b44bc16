"""`all` and `here` can never be usernames, whatever Accounts_BlockedUsernameList says.

Rocket.Chat: apps/meteor/app/lib/server/functions/checkUsernameAvailability.ts puts 'all' and
'here' in front of the configured list (`['all', 'here'].concat(value.split(','))`, each entry
an /^entry$/i regexp) and also refuses what validateName.ts refuses (the system list). Every
path that sets a username goes through it: _setUsername (users.updateOwnBasicInfo, via
saveUserIdentity.ts), saveUser's validation (users.create) and users.register.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.sandbox.conftest import World


def blocked(name: str) -> dict[str, Any]:
    return {
        "success": False,
        "error": f"{name} is blocked and can't be used! [error-blocked-username]",
        "errorType": "error-blocked-username",
        "details": {"method": "checkUsernameAvailability", "field": name},
    }


@pytest.mark.parametrize("name", ["all", "here", "ALL", "Here"])
async def test_renaming_oneself_to_all_or_here_is_blocked(world: World, name: str) -> None:
    alice = world.add_user("alice")
    reply = await world.call(
        "POST", "users.updateOwnBasicInfo", auth=alice.auth, json={"data": {"username": name}}
    )
    assert reply.status == 400
    assert reply.body == blocked(name)
    assert world.user(alice)["username"] == "alice"


async def test_all_is_blocked_even_with_an_empty_configured_list(world: World) -> None:
    world.set("Accounts_BlockedUsernameList", "")
    alice = world.add_user("alice")
    reply = await world.call(
        "POST", "users.updateOwnBasicInfo", auth=alice.auth, json={"data": {"username": "all"}}
    )
    assert reply.body["errorType"] == "error-blocked-username"


async def test_names_that_only_contain_all_are_fine(world: World) -> None:
    alice = world.add_user("alice")
    reply = await world.call(
        "POST", "users.updateOwnBasicInfo", auth=alice.auth, json={"data": {"username": "allan"}}
    )
    assert reply.status == 200, reply.body
    assert reply.body["user"]["username"] == "allan"


@pytest.mark.parametrize("name", ["here", "all"])
async def test_an_admin_cannot_create_a_user_named_all_or_here(world: World, name: str) -> None:
    body = {"email": f"{name}x@example.com", "name": "X", "password": "pass-word-1"}
    reply = await world.call(
        "POST", "users.create", auth=world.admin.auth, json={**body, "username": name}
    )
    assert reply.status == 400
    assert reply.body == blocked(name)


async def test_users_create_refuses_a_system_reserved_name_as_blocked(world: World) -> None:
    """validateName.ts runs inside checkUsernameAvailability: 'system' is blocked there too
    (Rocket.Chat's own e2e test of users.create expects exactly this body)."""
    body = {"email": "sys@example.com", "name": "S", "password": "pass-word-1"}
    reply = await world.call(
        "POST", "users.create", auth=world.admin.auth, json={**body, "username": "system"}
    )
    assert reply.body == blocked("system")


async def test_registering_as_here_is_blocked(world: World) -> None:
    body = {"username": "here", "email": "h@example.com", "pass": "pass-word-1", "name": "H"}
    reply = await world.call("POST", "users.register", json=body)
    assert reply.status == 400
    assert reply.body == blocked("here")
