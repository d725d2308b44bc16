"""rooms.info, rooms.get, subscriptions.getOne, subscriptions.read and DDP readMessages.

Rocket.Chat 7.x: apps/meteor/app/api/server/v1/rooms.ts (findRoomByIdOrName; rooms.info
answers failure('not-allowed', 'Not Allowed') for a room the caller cannot access; rooms.get
wraps the rooms/get method), apps/meteor/app/api/server/v1/subscriptions.ts with rest-typings'
subscriptions schemas, and server/methods/readMessages.ts.
"""

from __future__ import annotations

from tests.ddp_client import Realtime


async def test_rooms_info_for_channels_groups_and_dms(realtime: Realtime) -> None:
    alice = await realtime.user("alice")
    bob = await realtime.user("bob")
    general = await realtime.rest("GET", "rooms.info", bob, params={"roomId": "GENERAL"})
    assert general.body["room"]["_id"] == "GENERAL" and general.body["success"] is True
    group = await realtime.rest("POST", "groups.create", alice, json={"name": "hush"})
    group_id = group.body["group"]["_id"]
    mine = await realtime.rest("GET", "rooms.info", alice, params={"roomName": "hush"})
    assert mine.body["room"]["t"] == "p"
    theirs = await realtime.rest("GET", "rooms.info", bob, params={"roomId": group_id})
    assert theirs.status == 400
    assert theirs.body == {"success": False, "error": "not-allowed", "errorType": "Not Allowed"}
    dm = await realtime.rest("POST", "im.create", alice, json={"username": "bob"})
    by_id = await realtime.rest(
        "GET", "rooms.info", bob, params={"roomId": dm.body["room"]["rid"]}
    )
    assert by_id.body["room"]["t"] == "d"


async def test_rooms_info_fields_and_missing_params(realtime: Realtime) -> None:
    alice = await realtime.user("alice")
    narrow = await realtime.rest(
        "GET", "rooms.info", alice, params={"roomId": "GENERAL", "fields": '{"name":1}'}
    )
    assert narrow.body["room"] == {"_id": "GENERAL", "name": "general"}
    missing = await realtime.rest("GET", "rooms.info", alice)
    assert missing.body == {
        "success": False,
        "error": 'The parameter "roomId" or "roomName" is required '
        "[error-roomid-param-not-provided]",
        "errorType": "error-roomid-param-not-provided",
    }
    unknown = await realtime.rest("GET", "rooms.info", alice, params={"roomName": "nowhere"})
    assert unknown.body["errorType"] == "error-room-not-found"


async def test_rooms_get_lists_the_callers_rooms(realtime: Realtime) -> None:
    alice = await realtime.user("alice")
    await realtime.rest("POST", "groups.create", alice, json={"name": "hush"})
    reply = await realtime.rest("GET", "rooms.get", alice)
    assert sorted(r.get("name") for r in reply.body["update"]) == ["general", "hush"]
    assert reply.body["remove"] == []
    later = await realtime.rest(
        "GET", "rooms.get", alice, params={"updatedSince": "2999-01-01T00:00:00.000Z"}
    )
    assert later.body == {"update": [], "remove": [], "success": True}
    bad = await realtime.rest("GET", "rooms.get", alice, params={"updatedSince": "soon"})
    assert bad.body == {
        "success": False,
        "error": 'The "updatedSince" query parameter must be a valid date. '
        "[error-updatedSince-param-invalid]",
        "errorType": "error-updatedSince-param-invalid",
    }


async def test_subscriptions_get_one(realtime: Realtime) -> None:
    alice = await realtime.user("alice")
    reply = await realtime.rest("GET", "subscriptions.getOne", alice, params={"roomId": "GENERAL"})
    assert reply.body["subscription"]["rid"] == "GENERAL"
    assert reply.body["subscription"]["u"]["_id"] == alice.user_id
    none = await realtime.rest("GET", "subscriptions.getOne", alice, params={"roomId": "nope"})
    assert none.body == {"subscription": None, "success": True}
    missing = await realtime.rest("GET", "subscriptions.getOne", alice)
    assert missing.body["error"] == "must have required property 'roomId' [invalid-params]"


async def test_subscriptions_read_clears_the_unread_counters(realtime: Realtime) -> None:
    alice = await realtime.user("alice")
    bob = await realtime.user("bob")
    await realtime.post(alice, "GENERAL", "hello @bob")
    sub = realtime.state.subscription("GENERAL", bob.user_id)
    assert sub is not None and sub["unread"] > 0 and sub["alert"] is True
    reply = await realtime.rest("POST", "subscriptions.read", bob, json={"rid": "GENERAL"})
    assert reply.body == {"success": True}
    assert (sub["unread"], sub["alert"], sub["userMentions"], sub["open"]) == (0, False, 0, True)
    assert "ls" in sub
    also = await realtime.rest("POST", "subscriptions.read", bob, json={"roomId": "GENERAL"})
    assert also.status == 200


async def test_subscriptions_read_errors(realtime: Realtime) -> None:
    alice = await realtime.user("alice")
    bob = await realtime.user("bob")
    unknown = await realtime.rest("POST", "subscriptions.read", alice, json={"rid": "nope"})
    assert unknown.body == {
        "success": False,
        "error": "This room does not exist [error-room-does-not-exist]",
        "errorType": "error-room-does-not-exist",
        "details": {"method": "readMessages"},
    }
    group = await realtime.rest("POST", "groups.create", alice, json={"name": "hush"})
    hidden = await realtime.rest(
        "POST", "subscriptions.read", bob, json={"rid": group.body["group"]["_id"]}
    )
    assert hidden.body["errorType"] == "error-not-allowed"
    both = await realtime.rest("POST", "subscriptions.read", bob, json={"rid": "a", "x": 1})
    assert both.body["errorType"] == "invalid-params"


async def test_ddp_read_messages(realtime: Realtime) -> None:
    alice = await realtime.user("alice")
    bob = await realtime.user("bob")
    await realtime.post(alice, "GENERAL", "hi")
    async with realtime.ddp(bob) as client:
        frame = await client.call("readMessages", "GENERAL")
    assert "error" not in frame
    assert realtime.state.subscription("GENERAL", bob.user_id)["unread"] == 0
