"""channels.list and channels.info, with pagination, sort, fields and query.

Rocket.Chat 7.x: apps/meteor/app/api/server/v1/channels.ts (channels.list: view-c-room sees
all public channels, view-joined-room only joined ones, neither → 403; sort {name: 1} by
default; channels.info: findChannelByIdOrName without the archived check), with
app/api/server/helpers/getPaginationItems.ts and parseJsonQuery.ts (+ lib/cleanQuery.ts).
"""

from __future__ import annotations

from tests.ddp_client import Realtime, User


async def make_channels(realtime: Realtime, owner: User, *names: str) -> None:
    for name in names:
        reply = await realtime.rest("POST", "channels.create", owner, json={"name": name})
        assert reply.status == 200, reply.body


async def test_list_pages_public_channels_by_name(realtime: Realtime) -> None:
    alice = await realtime.user("alice")
    await make_channels(realtime, alice, "zoo", "bar", "foo")
    await realtime.rest("POST", "groups.create", alice, json={"name": "private"})
    reply = await realtime.rest("GET", "channels.list", alice)
    assert [c["name"] for c in reply.body["channels"]] == ["bar", "foo", "general", "zoo"]
    assert (reply.body["count"], reply.body["offset"], reply.body["total"]) == (4, 0, 4)
    page = await realtime.rest("GET", "channels.list", alice, params={"count": "2", "offset": "1"})
    assert [c["name"] for c in page.body["channels"]] == ["foo", "general"]
    assert (page.body["count"], page.body["offset"], page.body["total"]) == (2, 1, 4)


async def test_list_sorts_projects_and_queries(realtime: Realtime) -> None:
    alice = await realtime.user("alice")
    await make_channels(realtime, alice, "zoo", "bar")
    reply = await realtime.rest(
        "GET",
        "channels.list",
        alice,
        params={"sort": '{"name":-1}', "fields": '{"name":1,"joinCode":1}'},
    )
    assert reply.body["channels"][0] == {"_id": reply.body["channels"][0]["_id"], "name": "zoo"}
    queried = await realtime.rest(
        "GET", "channels.list", alice, params={"query": '{"name":{"$regex":"^Z","$options":"i"}}'}
    )
    assert [c["name"] for c in queried.body["channels"]] == ["zoo"]
    assert queried.body["total"] == 1
    # cleanQuery drops top-level operators other than $or/$and/$regex.
    dropped = await realtime.rest(
        "GET", "channels.list", alice, params={"query": '{"$where":"1","name":"bar"}'}
    )
    assert [c["name"] for c in dropped.body["channels"]] == ["bar"]


async def test_list_refuses_bad_sort_and_fields(realtime: Realtime) -> None:
    alice = await realtime.user("alice")
    sort = await realtime.rest("GET", "channels.list", alice, params={"sort": '{"name":2}'})
    assert sort.body == {
        "success": False,
        "error": 'Invalid sort parameter provided: "{"name":2}" [error-invalid-sort]',
        "errorType": "error-invalid-sort",
        "details": {"helperMethod": "parseJsonQuery"},
    }
    fields = await realtime.rest("GET", "channels.list", alice, params={"fields": "nope"})
    assert fields.body["errorType"] == "error-invalid-fields"


async def test_count_is_capped_by_the_upper_limit(realtime: Realtime) -> None:
    alice = await realtime.user("alice")
    await make_channels(realtime, alice, "a1", "a2", "a3")
    realtime.state.settings["API_Upper_Count_Limit"] = 2
    reply = await realtime.rest("GET", "channels.list", alice, params={"count": "50"})
    assert reply.body["count"] == 2 and reply.body["total"] == 4


async def test_joined_only_without_view_c_room_and_403_without_either(realtime: Realtime) -> None:
    alice = await realtime.user("alice")
    bob = await realtime.user("bob")
    await make_channels(realtime, alice, "town")
    realtime.state.permissions["view-c-room"] = ["admin"]
    realtime.state.permissions["view-joined-room"] = ["user"]
    joined = await realtime.rest("GET", "channels.list", bob)
    assert [c["name"] for c in joined.body["channels"]] == ["general"]
    realtime.state.permissions["view-joined-room"] = []
    refused = await realtime.rest("GET", "channels.list", bob)
    assert refused.status == 403
    assert refused.body == {"success": False, "error": "unauthorized"}


async def test_info_finds_a_channel_by_id_or_name_without_join_code(realtime: Realtime) -> None:
    alice = await realtime.user("alice")
    await make_channels(realtime, alice, "town")
    room = next(r for r in realtime.state.rooms.values() if r.get("name") == "town")
    room.update({"joinCode": "secret", "archived": True})
    by_name = await realtime.rest("GET", "channels.info", alice, params={"roomName": "town"})
    assert by_name.status == 200, by_name.body
    assert by_name.body["channel"]["_id"] == room["_id"]
    assert "joinCode" not in by_name.body["channel"]
    by_id = await realtime.rest("GET", "channels.info", alice, params={"roomId": room["_id"]})
    assert by_id.body["channel"]["name"] == "town"
    missing = await realtime.rest("GET", "channels.info", alice, params={"roomName": "nope"})
    assert missing.body["errorType"] == "error-room-not-found"
