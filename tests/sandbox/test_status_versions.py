"""Status behaviour that differs between the Rocket.Chat releases the sandbox models, each
test run against 7.4 and 8.6 (`any_world`) and asserting what that release does.

Sources: apps/meteor/app/api/server/v1/users.ts (users.setStatus, users.getStatus,
users.presence; 8.6: PRs #40274, #41035, #41048, #41087), apps/meteor/app/user-status/server/
methods/setUserStatus.ts, apps/meteor/app/lib/server/functions/setStatusText.ts and
setEmail.ts (limiters dropped by PR #38354), apps/meteor/server/modules/listeners/
listeners.module.ts (user-status; 8.6's shape as Rocket.Chat.ReactNative PR #7392 reads it in
app/lib/services/connect.ts).
"""

from __future__ import annotations

from sandbox.digests import sha256_hex
from tests.sandbox.conftest import DdpClient, World
from tests.sandbox.status_helpers import (
    connected,
    get_status,
    later,
    next_status_event,
    set_status,
    update,
    watching_status,
)

TOO_MANY_ROUTE = "You must wait 60 seconds before trying this endpoint again."


async def test_a_status_set_over_rest_alone(any_world: World) -> None:
    """users.setStatus for a user with no DDP connection: 7.4 writes `status` and
    `statusDefault` straight into the document (the user shows busy); 8.6 makes a manual
    claim and a human without a connection shows offline (presenceEngine.ts)."""
    alice = any_world.add_user("alice")
    assert (await set_status(any_world, alice, {"status": "busy"})).status == 200
    user = any_world.user(alice)
    assert user["statusDefault"] == "busy"
    assert user["status"] == ("offline" if any_world.engine else "busy")
    assert user.get("statusSource") == ("manual" if any_world.engine else None)


async def test_expires_at_is_ignored_by_7x_and_honoured_by_86(any_world: World) -> None:
    """users.setStatus `expiresAt` (added in 8.6, PR #40274): 7.4 does not know the field and
    answers a bare success; 8.6 stores it and answers `statusExpiresAt`."""
    alice = any_world.add_user("alice")
    expires = later(any_world, 1800)
    reply = await set_status(
        any_world, alice, {"status": "away", "message": "Lunch", "expiresAt": expires}
    )
    assert reply.status == 200, reply.body
    if any_world.engine:
        assert reply.body == {"statusExpiresAt": expires, "success": True}
        assert any_world.user(alice)["statusExpiresAt"] is not None
    else:
        assert reply.body == {"success": True}
        assert "statusExpiresAt" not in any_world.user(alice)


async def test_an_unknown_status_is_refused_by_each_release_in_its_own_words(
    any_world: World,
) -> None:
    """users.setStatus {"status": "sleepy"}: 7.4's handler throws error-invalid-status; 8.6's
    typed route refuses it in the AJV body schema (enum) before the handler runs."""
    alice = any_world.add_user("alice")
    reply = await set_status(any_world, alice, {"status": "sleepy"})
    assert reply.status == 400
    if any_world.engine:
        assert reply.body == {
            "success": False,
            "error": "must be equal to one of the allowed values [invalid-params]",
            "errorType": "invalid-params",
        }
    else:
        assert reply.body["errorType"] == "error-invalid-status"


async def test_get_status_answers_per_release(any_world: World) -> None:
    """users.getStatus: 7.4 answers the text as `message`; 8.6 drops it and adds
    `statusSource`/`statusExpiresAt` when set (Open-API PR #236). `connectionStatus` is for
    the caller's own status only."""
    any_world.set("API_Enable_Rate_Limiter", False)
    alice, bob = any_world.add_user("alice"), any_world.add_user("bob")
    await set_status(any_world, alice, {"message": "Lunch"})
    own = (await get_status(any_world, alice)).body
    other = (await get_status(any_world, bob, username="alice")).body
    if any_world.engine:
        assert own == {
            "_id": alice.user_id,
            "connectionStatus": "offline",
            "status": "offline",
            "success": True,
        }
        expires = later(any_world, 600)
        async with connected(any_world, alice):
            await set_status(any_world, alice, {"status": "busy", "expiresAt": expires})
            other = (await get_status(any_world, bob, userId=alice.user_id)).body
        assert other == {
            "_id": alice.user_id,
            "status": "busy",
            "statusSource": "manual",
            "statusExpiresAt": expires,
            "success": True,
        }
    else:
        assert own == {
            "_id": alice.user_id,
            "message": "Lunch",
            "connectionStatus": "offline",
            "status": "offline",
            "success": True,
        }
        assert other == {
            "_id": alice.user_id,
            "message": "Lunch",
            "status": "offline",
            "success": True,
        }


async def test_users_presence_and_offline_users_with_a_custom_status(any_world: World) -> None:
    """users.presence: everyone not offline (`full`), or the `ids` asked for. 8.6 also lists an
    offline user who keeps a status text or expiry in the `ids` answer (PR #41087) and shows
    statusSource/statusExpiresAt."""
    alice, bob, carol = (any_world.add_user(name) for name in ("alice", "bob", "carol"))
    any_world.user(bob)["statusText"] = "On vacation"
    async with connected(any_world, alice):
        await set_status(any_world, alice, {"status": "busy", "message": "Focus"})
        full = (await any_world.call("GET", "users.presence", auth=carol.auth)).body
        ids = f"{alice.user_id},{bob.user_id},{carol.user_id}"
        asked = await any_world.call("GET", "users.presence", auth=carol.auth, params={"ids": ids})
    assert full["full"] is True and [u["username"] for u in full["users"]] == ["alice"]
    shown = full["users"][0]
    assert (shown["status"], shown["statusText"]) == ("busy", "Focus")
    assert set(shown) == {"_id", "username", "name", "status", "statusText"} | (
        {"statusSource"} if any_world.engine else set()
    )
    names = [user["username"] for user in asked.body["users"]]
    assert asked.body["full"] is False
    assert names == (["alice", "bob"] if any_world.engine else ["alice"])


async def test_user_status_events_per_release(any_world: World) -> None:
    """stream-notify-logged `user-status`: 7.4 sends [uid, username, 0-3, statusText, name,
    roles]; 8.6 sends [uid, username, 0-3, statusText, statusSource, statusExpiresAt] (the
    shape its mobile client reads; dates as EJSON over DDP)."""
    alice, bob = any_world.add_user("alice"), any_world.add_user("bob")
    async with watching_status(any_world, bob) as watcher, connected(any_world, alice):
        expires = later(any_world, 900)
        await set_status(
            any_world, alice, {"status": "busy", "message": "Focus", "expiresAt": expires}
        )
        payload = await next_status_event(watcher, alice.user_id, 3, "Focus")
    head = [alice.user_id, "alice", 3, "Focus"]
    if any_world.engine:
        stored = any_world.user(alice)["statusExpiresAt"]
        assert payload == [*head, "manual", {"$date": int(stored.timestamp() * 1000)}]
    else:
        assert payload == [*head, "Alice", ["user"]]


async def test_set_user_status_over_ddp(any_world: World) -> None:
    """DDP setUserStatus(statusType, statusText), limited to one call a second per user
    (RateLimiter.limitMethod): 7.4 writes the type and then the text; 8.6 makes one manual
    claim carrying both. Without a login: error-invalid-user."""
    alice = any_world.add_user("alice")
    async with connected(any_world, alice) as session:
        first = await session.method("setUserStatus", "busy", "Focus")
        assert set(first) == {"msg", "id"}, first  # no result, no error
        second = await session.method("setUserStatus", "away")
        assert second["error"]["error"] == "too-many-requests"
        user = any_world.user(alice)
        assert (user["status"], user["statusDefault"], user["statusText"]) == (
            "busy",
            "busy",
            "Focus",
        )
        assert user.get("statusSource") == ("manual" if any_world.engine else None)
    async with DdpClient.connect(any_world.http, any_world.url) as anonymous:
        refused = await anonymous.method("setUserStatus", "busy")
        assert refused["error"]["error"] == "error-invalid-user"


async def test_status_text_limits_follow_the_release(any_world: World) -> None:
    """7.4's setStatusText allows 5 changes a minute per user (RateLimiter.limitFunction),
    whatever the REST limiter says; 8.6 dropped that limiter (PR #38354) and limits the
    routes instead: users.updateOwnBasicInfo 1 call a minute, users.setStatus 5 (per client
    address, as the REST limiter counts)."""
    any_world.set("API_Enable_Rate_Limiter", False)
    alice = any_world.add_user("alice")
    codes = [(await update(any_world, alice, {"statusText": f"t{n}"})).status for n in range(6)]
    assert codes == ([200] * 6 if any_world.engine else [200] * 5 + [429])
    if not any_world.engine:
        return
    any_world.set("API_Enable_Rate_Limiter", True)
    bob = any_world.add_user("bob")
    assert (await update(any_world, bob, {"statusText": "one"})).status == 200
    refused = await update(any_world, bob, {"statusText": "two"})
    assert refused.status == 429 and refused.body["error"].startswith("Error, too many requests")
    assert TOO_MANY_ROUTE in refused.body["error"]
    codes = [(await set_status(any_world, bob, {"message": f"m{n}"})).status for n in range(6)]
    assert codes == [200] * 5 + [429]


async def test_email_change_limit_follows_the_release(any_world: World) -> None:
    """7.4's setEmail allows one change a minute per user (limitFunction); 8.6 dropped it
    (PR #38354), leaving users.updateOwnBasicInfo's route limit."""
    any_world.set("API_Enable_Rate_Limiter", False)
    alice = any_world.add_user("alice")
    any_world.user(alice)["services"]["email2fa"]["enabled"] = False
    secret = sha256_hex(alice.password)
    first = await update(any_world, alice, {"email": "a1@example.com", "currentPassword": secret})
    assert first.status == 200, first.body
    second = await update(any_world, alice, {"email": "a2@example.com", "currentPassword": secret})
    assert second.status == (200 if any_world.engine else 429)


async def test_me_and_users_info_show_the_claim_only_on_86(any_world: World) -> None:
    """`me` (getUserInfo over getBaseUserFields) and users.info (getFullUserData) carry
    statusSource and statusExpiresAt on 8.6; 7.4 has neither field."""
    alice = any_world.add_user("alice")
    await set_status(any_world, alice, {"status": "busy", "expiresAt": later(any_world, 600)})
    me = (await any_world.call("GET", "me", auth=alice.auth)).body
    info = (
        await any_world.call(
            "GET", "users.info", auth=alice.auth, params={"userId": alice.user_id}
        )
    ).body["user"]
    for shown in (me, info):
        assert ("statusSource" in shown, "statusExpiresAt" in shown) == (
            any_world.engine,
            any_world.engine,
        )


async def test_get_presence_answers_the_same_in_every_release(any_world: World) -> None:
    """users.getPresence (apps/meteor/app/api/server/v1/users.ts): the caller's own presence
    with connectionStatus and lastLogin once they logged in; someone else's presence alone;
    an unknown user is getUserFromParams's error-invalid-user."""
    alice, bob = any_world.add_user("alice"), any_world.add_user("bob")
    own = await any_world.call("GET", "users.getPresence", auth=alice.auth)
    assert own.body == {"presence": "offline", "connectionStatus": "offline", "success": True}
    login = {"user": "alice", "password": alice.password}
    assert (await any_world.call("POST", "login", json=login)).status == 200
    async with connected(any_world, alice):
        own = await any_world.call(
            "GET", "users.getPresence", auth=alice.auth, params={"username": "alice"}
        )
        other = await any_world.call(
            "GET", "users.getPresence", auth=bob.auth, params={"userId": alice.user_id}
        )
    assert own.body["presence"] == own.body["connectionStatus"] == "online"
    assert isinstance(own.body["lastLogin"], str)
    assert other.body == {"presence": "online", "success": True}
    missing = await any_world.call(
        "GET", "users.getPresence", auth=bob.auth, params={"username": "nobody"}
    )
    assert missing.status == 400
    assert missing.body["errorType"] == "error-invalid-user"
