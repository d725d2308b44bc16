"""im.list, im.members, im.messages and the dm.* alias of every im.* route.

Rocket.Chat 7.x: apps/meteor/app/api/server/v1/im.ts (each route is declared as
['dm.x', 'im.x']; findDirectMessageRoom by roomId or username; im.members lists active
members with Users.findPaginatedByActiveUsersExcept, sorted by _updatedAt then username;
im.messages filters by mentionIds/starredIds/pinned, newest first) and rest-typings'
DmMembersProps / DmMessagesProps.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from sandbox.api import ROUTES
from sandbox.server import load_endpoints
from tests.ddp_client import Realtime, User


async def open_dm(realtime: Realtime, user: User, other: str) -> str:
    reply = await realtime.rest("POST", "im.create", user, json={"username": other})
    assert reply.status == 200, reply.body
    return str(reply.body["room"]["rid"])


def test_every_im_route_has_its_dm_alias() -> None:
    load_endpoints()
    im_routes = {(method, name[3:]) for method, name in ROUTES if name.startswith("im.")}
    dm_routes = {(method, name[3:]) for method, name in ROUTES if name.startswith("dm.")}
    assert {("GET", "list"), ("GET", "members"), ("GET", "messages")} <= im_routes
    assert im_routes == dm_routes


@pytest.mark.parametrize("prefix", ["im", "dm"])
async def test_list_shows_the_callers_direct_messages(realtime: Realtime, prefix: str) -> None:
    alice = await realtime.user("alice")
    await realtime.user("bob")
    await realtime.user("carol")
    first = await open_dm(realtime, alice, "bob")
    second = await open_dm(realtime, alice, "carol")
    reply = await realtime.rest("GET", f"{prefix}.list", alice)
    assert reply.status == 200, reply.body
    assert {room["_id"] for room in reply.body["ims"]} == {first, second}
    assert (reply.body["count"], reply.body["offset"], reply.body["total"]) == (2, 0, 2)
    page = await realtime.rest("GET", f"{prefix}.list", alice, params={"count": "1"})
    assert page.body["count"] == 1 and page.body["total"] == 2
    none = await realtime.rest("GET", f"{prefix}.list", await realtime.user("dave"))
    assert none.body == {"ims": [], "offset": 0, "count": 0, "total": 0, "success": True}


@pytest.mark.parametrize("prefix", ["im", "dm"])
async def test_members_of_a_dm(realtime: Realtime, prefix: str) -> None:
    alice = await realtime.user("alice")
    bob = await realtime.user("bob")
    rid = await open_dm(realtime, alice, "bob")
    reply = await realtime.rest("GET", f"{prefix}.members", alice, params={"roomId": rid})
    assert reply.status == 200, reply.body
    assert {m["username"] for m in reply.body["members"]} == {"alice", "bob"}
    assert set(reply.body["members"][0]) <= {"_id", "username", "name", "status", "utcOffset"}
    assert (reply.body["count"], reply.body["total"]) == (2, 2)
    filtered = await realtime.rest(
        "GET", f"{prefix}.members", alice, params={"roomId": rid, "filter": "BO"}
    )
    assert [m["_id"] for m in filtered.body["members"]] == [bob.user_id]
    by_name = await realtime.rest("GET", f"{prefix}.members", bob, params={"username": "alice"})
    assert by_name.body["total"] == 2


async def test_members_are_sorted_by_last_update_first(realtime: Realtime) -> None:
    alice = await realtime.user("alice")
    await realtime.user("bob")
    rid = await open_dm(realtime, alice, "bob")
    realtime.state.users[alice.user_id]["_updatedAt"] = realtime.state.clock()
    reply = await realtime.rest("GET", "im.members", alice, params={"roomId": rid})
    assert [m["username"] for m in reply.body["members"]] == ["alice", "bob"]


async def test_members_of_someone_elses_dm_are_forbidden(realtime: Realtime) -> None:
    alice = await realtime.user("alice")
    await realtime.user("bob")
    carol = await realtime.user("carol")
    rid = await open_dm(realtime, alice, "bob")
    reply = await realtime.rest("GET", "im.members", carol, params={"roomId": rid})
    assert reply.status == 403
    assert reply.body == {"success": False, "error": "unauthorized"}
    both = await realtime.rest(
        "GET", "im.members", alice, params={"roomId": rid, "username": "bob"}
    )
    assert both.body["errorType"] == "invalid-params"


@pytest.mark.parametrize("prefix", ["im", "dm"])
async def test_messages_newest_first_with_filters(realtime: Realtime, prefix: str) -> None:
    alice = await realtime.user("alice")
    bob = await realtime.user("bob")
    rid = await open_dm(realtime, alice, "bob")
    posted = [
        await realtime.post(alice, rid, "one"),
        await realtime.post(bob, rid, "hey @alice"),
        await realtime.post(alice, rid, "three"),
    ]
    mention = posted[1]
    for seconds, message in enumerate(posted):  # one ts each: Mongo leaves ties unordered
        stored = realtime.state.messages[message["_id"]]
        stored["ts"] = stored["ts"] + timedelta(seconds=seconds)
    reply = await realtime.rest("GET", f"{prefix}.messages", alice, params={"roomId": rid})
    assert reply.status == 200, reply.body
    assert [m["msg"] for m in reply.body["messages"]] == ["three", "hey @alice", "one"]
    assert (reply.body["count"], reply.body["offset"], reply.body["total"]) == (3, 0, 3)
    mentioned = await realtime.rest(
        "GET",
        f"{prefix}.messages",
        alice,
        params={"roomId": rid, "mentionIds": alice.user_id},
    )
    assert [m["_id"] for m in mentioned.body["messages"]] == [mention["_id"]]
    oldest_first = await realtime.rest(
        "GET",
        f"{prefix}.messages",
        bob,
        params={"username": "alice", "sort": '{"ts":1}', "count": "1", "offset": "1"},
    )
    assert [m["msg"] for m in oldest_first.body["messages"]] == ["hey @alice"]
    assert oldest_first.body["total"] == 3


async def test_messages_of_someone_elses_dm_are_forbidden(realtime: Realtime) -> None:
    alice = await realtime.user("alice")
    await realtime.user("bob")
    carol = await realtime.user("carol")
    rid = await open_dm(realtime, alice, "bob")
    reply = await realtime.rest("GET", "im.messages", carol, params={"roomId": rid})
    assert reply.status == 403
    missing = await realtime.rest("GET", "dm.messages", carol, params={"roomId": "GENERAL"})
    # getRoomByNameOrIdWithOptionToJoin finds GENERAL, not a 'd' room: invalid-channel.
    assert missing.body == {
        "success": False,
        "error": "[invalid-channel]",
        "errorType": "invalid-channel",
    }
