"""users.info looks a user up by importId too (Rocket.Chat 7.x).

Rocket.Chat: apps/meteor/app/api/server/v1/users.ts (`users.info`: userId, username or
importId, else "Invalid search query."; no match → "User not found.") and
apps/meteor/app/lib/server/functions/getFullUserData.ts
(getFullUserDataByIdOrUsernameOrImportId: Users.findOneByImportId; the caller is "myself"
when the importId is one of their own importIds).
"""

from __future__ import annotations

from tests.sandbox.conftest import World


async def test_an_unknown_import_id_is_user_not_found(world: World) -> None:
    alice = world.add_user("alice")
    reply = await world.call("GET", "users.info", auth=alice.auth, params={"importId": "nope"})
    assert reply.status == 400
    assert reply.body == {"success": False, "error": "User not found."}


async def test_an_imported_user_is_found_by_import_id(world: World) -> None:
    alice = world.add_user("alice")
    bob = world.add_user("bob")
    world.user(bob)["importIds"] = ["slack-U123"]
    reply = await world.call(
        "GET", "users.info", auth=alice.auth, params={"importId": "slack-U123"}
    )
    assert reply.status == 200, reply.body
    assert reply.body["user"]["_id"] == bob.user_id
    assert reply.body["user"]["username"] == "bob"
    assert "emails" not in reply.body["user"]  # someone else's: the limited view


async def test_ones_own_import_id_shows_the_full_view(world: World) -> None:
    alice = world.add_user("alice")
    world.user(alice)["importIds"] = ["csv-7"]
    reply = await world.call("GET", "users.info", auth=alice.auth, params={"importId": "csv-7"})
    assert reply.body["user"]["emails"][0]["address"] == "alice@example.com"


async def test_without_any_key_the_query_is_still_invalid(world: World) -> None:
    alice = world.add_user("alice")
    reply = await world.call("GET", "users.info", auth=alice.auth, params={"importId": ""})
    assert reply.body == {"success": False, "error": "Invalid search query."}
