"""Private groups: groups.create/list/info/members/invite/history and DDP createPrivateGroup.

Rocket.Chat 7.x: apps/meteor/app/api/server/v1/groups.ts (findPrivateGroupByIdOrName finds
only groups the caller can access; groups.history has no schema and parses its own params),
apps/meteor/app/lib/server/methods/createPrivateGroup.ts and
apps/meteor/app/lib/server/functions/createRoom.ts.
"""

from __future__ import annotations

import asyncio
from typing import Any

from tests.ddp_client import Realtime, User

NOT_FOUND = {
    "success": False,
    "error": 'The required "roomId" or "roomName" param provided does not match any group '
    "[error-room-not-found]",
    "errorType": "error-room-not-found",
}


async def create_group(
    realtime: Realtime, owner: User, name: str, members: list[str] | None = None
) -> dict[str, Any]:
    body: dict[str, Any] = {"name": name}
    if members is not None:
        body["members"] = members
    reply = await realtime.rest("POST", "groups.create", owner, json=body)
    assert reply.status == 200, reply.body
    return dict(reply.body["group"])


async def test_create_returns_the_group_and_makes_the_creator_its_owner(
    realtime: Realtime,
) -> None:
    alice = await realtime.user("alice")
    await realtime.user("bob")
    group = await create_group(realtime, alice, "secret", ["bob", "nobody"])
    assert group["t"] == "p" and group["name"] == "secret" and group["fname"] == "secret"
    assert group["customFields"] == {}  # createPrivateGroupMethod's default
    assert group["usersCount"] == 2 and group["ro"] is False and group["msgs"] == 0
    assert group["u"] == {"_id": alice.user_id, "username": "alice", "name": "Alice"}
    mine = realtime.state.subscription(group["_id"], alice.user_id)
    assert mine is not None and mine["roles"] == ["owner"] and mine["t"] == "p"


async def test_create_checks_its_body_then_the_permission(realtime: Realtime) -> None:
    alice = await realtime.user("alice")
    missing = await realtime.rest("POST", "groups.create", alice, json={"members": []})
    assert missing.body == {"success": False, "error": 'Body param "name" is required'}
    not_list = await realtime.rest(
        "POST", "groups.create", alice, json={"name": "g", "members": "bob"}
    )
    assert not_list.body["error"] == 'Body param "members" must be an array if provided'
    realtime.state.permissions["create-p"] = ["admin"]
    refused = await realtime.rest("POST", "groups.create", alice, json={"name": "g"})
    # groups.ts maps only a *reason* of 'error-not-allowed' to 403; the method's is 'Not allowed'.
    assert refused.status == 400
    assert refused.body == {
        "success": False,
        "error": "Not allowed [error-not-allowed]",
        "errorType": "error-not-allowed",
        "details": {"method": "createPrivateGroup"},
    }


async def test_group_names_share_the_channel_namespace(realtime: Realtime) -> None:
    alice = await realtime.user("alice")
    taken = await realtime.rest("POST", "groups.create", alice, json={"name": "general"})
    assert taken.body["errorType"] == "error-duplicate-channel-name"
    bad = await realtime.rest("POST", "groups.create", alice, json={"name": "no spaces"})
    assert bad.body["errorType"] == "error-invalid-room-name"


async def test_list_shows_only_the_callers_groups_paged_and_sorted(realtime: Realtime) -> None:
    alice = await realtime.user("alice")
    bob = await realtime.user("bob")
    for name in ("zeta", "alpha", "mid"):
        await create_group(realtime, alice, name)
    await create_group(realtime, bob, "bobs")
    everything = await realtime.rest("GET", "groups.list", alice)
    assert [g["name"] for g in everything.body["groups"]] == ["alpha", "mid", "zeta"]
    assert (everything.body["count"], everything.body["offset"], everything.body["total"]) == (
        3,
        0,
        3,
    )
    page = await realtime.rest(
        "GET", "groups.list", alice, params={"offset": "1", "count": "1", "sort": '{"name":-1}'}
    )
    assert [g["name"] for g in page.body["groups"]] == ["mid"]
    assert (page.body["count"], page.body["offset"], page.body["total"]) == (1, 1, 3)
    none = await realtime.rest("GET", "groups.list", await realtime.user("carol"))
    assert none.body == {"groups": [], "offset": 0, "count": 0, "total": 0, "success": True}


async def test_info_finds_a_group_only_for_its_members(realtime: Realtime) -> None:
    alice = await realtime.user("alice")
    bob = await realtime.user("bob")
    group = await create_group(realtime, alice, "secret")
    mine = await realtime.rest("GET", "groups.info", alice, params={"roomName": "secret"})
    assert mine.body["group"]["_id"] == group["_id"]
    theirs = await realtime.rest("GET", "groups.info", bob, params={"roomId": group["_id"]})
    assert theirs.status == 400 and theirs.body == NOT_FOUND
    channel = await realtime.rest("GET", "groups.info", alice, params={"roomId": "GENERAL"})
    assert channel.body == NOT_FOUND
    nothing = await realtime.rest("GET", "groups.info", alice)
    assert nothing.body["errorType"] == "error-room-param-not-provided"


async def test_members_lists_the_group_for_members_only(realtime: Realtime) -> None:
    alice = await realtime.user("alice")
    bob = await realtime.user("bob")
    carol = await realtime.user("carol")
    group = await create_group(realtime, alice, "secret", ["bob"])
    reply = await realtime.rest("GET", "groups.members", bob, params={"roomId": group["_id"]})
    assert [m["username"] for m in reply.body["members"]] == ["alice", "bob"]
    assert (reply.body["count"], reply.body["offset"], reply.body["total"]) == (2, 0, 2)
    outsider = await realtime.rest("GET", "groups.members", carol, params={"roomId": group["_id"]})
    assert outsider.body == NOT_FOUND


async def test_invite_adds_users_and_says_so_in_the_group(realtime: Realtime) -> None:
    alice = await realtime.user("alice")
    bob = await realtime.user("bob")
    group = await create_group(realtime, alice, "secret")
    reply = await realtime.rest(
        "POST", "groups.invite", alice, json={"roomId": group["_id"], "userId": bob.user_id}
    )
    assert reply.status == 200, reply.body
    assert reply.body["group"]["usersCount"] == 2
    assert realtime.state.subscription(group["_id"], bob.user_id) is not None
    added = [m for m in realtime.state.messages.values() if m["rid"] == group["_id"]]
    assert [(m["t"], m["msg"]) for m in added] == [("au", "bob")]
    empty = await realtime.rest("POST", "groups.invite", alice, json={"roomName": "secret"})
    assert empty.body == {
        "success": False,
        "error": "Cannot invite if no valid users are provided [error-empty-invite-list]",
        "errorType": "error-empty-invite-list",
    }
    unknown = await realtime.rest(
        "POST", "groups.invite", alice, json={"roomName": "general", "userId": bob.user_id}
    )
    assert unknown.body == NOT_FOUND


async def test_history_serves_the_bots_catch_up_of_a_private_group(realtime: Realtime) -> None:
    """The bot's catch-up asks groups.history?roomId&oldest&count&offset for 'p' rooms."""
    alice = await realtime.user("alice")
    bot = await realtime.user("bot", roles=["bot"])
    group = await create_group(realtime, alice, "secret", ["bot"])
    first = await realtime.post(alice, group["_id"], "one")
    # Messages are stamped by the wall clock (the sandbox clock's offset does not move them) at
    # millisecond precision; on an idle machine the next post can land in the same millisecond
    # and share `oldest`, which failed this test now and then.
    await asyncio.sleep(0.002)
    await realtime.post(alice, group["_id"], "two")
    reply = await realtime.rest(
        "GET",
        "groups.history",
        bot,
        params={"roomId": group["_id"], "oldest": first["ts"], "count": "50", "offset": "0"},
    )
    assert reply.status == 200, reply.body
    assert [m["msg"] for m in reply.body["messages"]] == ["two"]
    # No schema here: any non-empty `inclusive` (even "false") includes the oldest message.
    inclusive = await realtime.rest(
        "GET",
        "groups.history",
        bot,
        params={"roomId": group["_id"], "oldest": first["ts"], "inclusive": "false"},
    )
    assert [m["msg"] for m in inclusive.body["messages"]] == ["two", "one"]
    outsider = await realtime.rest(
        "GET", "groups.history", await realtime.user("carol"), params={"roomId": group["_id"]}
    )
    assert outsider.body == NOT_FOUND


async def test_ddp_create_private_group_and_talk_in_it(realtime: Realtime) -> None:
    alice = await realtime.user("alice")
    await realtime.user("bob")
    async with realtime.ddp(alice) as client:
        frame = await client.call("createPrivateGroup", "over-ddp", ["bob"])
        created = frame["result"]
        assert created["rid"] == created["_id"] and created["inserted"] is True
        assert created["t"] == "p" and created["customFields"] == {}
        sent = await client.call("sendMessage", {"rid": created["rid"], "msg": "psst"})
        assert sent["result"]["rid"] == created["rid"]
        loaded = await client.call("loadHistory", created["rid"], None, 10)
        assert [m["msg"] for m in loaded["result"]["messages"]] == ["psst"]
    anonymous = await realtime.rest("GET", "groups.info", alice, params={"roomName": "over-ddp"})
    assert anonymous.body["group"]["usersCount"] == 2


async def test_ddp_create_private_group_needs_a_login(realtime: Realtime) -> None:
    async with realtime.ddp() as client:
        frame = await client.call("createPrivateGroup", "nope", [])
    assert frame["error"]["error"] == "error-invalid-user"
    assert frame["error"]["details"] == {"method": "createPrivateGroup"}
