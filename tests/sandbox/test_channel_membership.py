"""channels.join/leave/kick/addOwner/removeOwner/setTopic and DDP joinRoom/leaveRoom.

Rocket.Chat 7.x: apps/meteor/app/api/server/v1/channels.ts, with Room.join
(server/services/room/service.ts), leaveRoomMethod (app/lib/server/methods/leaveRoom.ts),
removeUserFromRoomMethod (server/methods/removeUserFromRoom.ts), addRoomOwner /
removeRoomOwner (server/methods/addRoomOwner.ts, removeRoomOwner.ts) and saveRoomSettings'
roomTopic + saveRoomTopic (app/channel-settings/server/); schemas from rest-typings'
ChannelsJoinProps, ChannelsKickProps, ChannelsLeaveProps.
"""

from __future__ import annotations

from typing import Any

from tests.ddp_client import Realtime, User


async def create_channel(
    realtime: Realtime, owner: User, name: str, members: list[str] | None = None
) -> dict[str, Any]:
    reply = await realtime.rest(
        "POST", "channels.create", owner, json={"name": name, "members": members or []}
    )
    assert reply.status == 200, reply.body
    return dict(reply.body["channel"])


def system_messages(realtime: Realtime, room_id: str) -> list[tuple[str, str, str]]:
    """(type, msg, author) of the room's system messages, oldest first."""
    found = [m for m in realtime.state.messages.values() if m["rid"] == room_id and m.get("t")]
    return [(m["t"], m["msg"], m["u"]["username"]) for m in found]


async def test_join_subscribes_and_answers_the_channel(realtime: Realtime) -> None:
    alice = await realtime.user("alice")
    bob = await realtime.user("bob")
    room = await create_channel(realtime, alice, "town")
    reply = await realtime.rest("POST", "channels.join", bob, json={"roomName": "town"})
    assert reply.status == 200, reply.body
    assert reply.body["channel"]["_id"] == room["_id"]
    assert reply.body["channel"]["usersCount"] == 2
    assert realtime.state.subscription(room["_id"], bob.user_id) is not None
    assert system_messages(realtime, room["_id"]) == [("uj", "bob", "bob")]
    again = await realtime.rest("POST", "channels.join", bob, json={"roomId": room["_id"]})
    assert again.status == 200 and again.body["channel"]["usersCount"] == 2


async def test_join_validates_its_body_and_finds_only_channels(realtime: Realtime) -> None:
    alice = await realtime.user("alice")
    both = await realtime.rest("POST", "channels.join", alice, json={"roomId": "x", "a": 1})
    assert both.body["errorType"] == "invalid-params"
    group = await realtime.rest("POST", "groups.create", alice, json={"name": "hidden"})
    reply = await realtime.rest(
        "POST", "channels.join", alice, json={"roomId": group.body["group"]["_id"]}
    )
    assert reply.body == {
        "success": False,
        "error": 'The required "roomId" or "roomName" param provided does not match any '
        "channel [error-room-not-found]",
        "errorType": "error-room-not-found",
    }


async def test_join_needs_the_join_code_and_view_c_room(realtime: Realtime) -> None:
    alice = await realtime.user("alice")
    bob = await realtime.user("bob")
    room = await create_channel(realtime, alice, "locked")
    realtime.state.rooms[room["_id"]].update({"joinCodeRequired": True, "joinCode": "s3"})
    no_code = await realtime.rest("POST", "channels.join", bob, json={"roomId": room["_id"]})
    assert no_code.body == {
        "success": False,
        "error": "error-code-required",  # a core-services MeteorError: the bare code
        "errorType": "error-code-required",
        "details": {"method": "joinRoom"},
    }
    wrong = await realtime.rest(
        "POST", "channels.join", bob, json={"roomId": room["_id"], "joinCode": "no"}
    )
    assert wrong.body["errorType"] == "error-code-invalid"
    right = await realtime.rest(
        "POST", "channels.join", bob, json={"roomId": room["_id"], "joinCode": "s3"}
    )
    assert right.status == 200
    realtime.state.permissions["view-c-room"] = ["admin"]
    carol = await realtime.user("carol")
    refused = await realtime.rest(
        "POST", "channels.join", carol, json={"roomId": room["_id"], "joinCode": "s3"}
    )
    assert refused.body["errorType"] == "error-not-allowed"


async def test_leave_removes_the_subscription_with_a_ul_message(realtime: Realtime) -> None:
    alice = await realtime.user("alice")
    bob = await realtime.user("bob")
    room = await create_channel(realtime, alice, "town", ["bob"])
    reply = await realtime.rest("POST", "channels.leave", bob, json={"roomId": room["_id"]})
    assert reply.status == 200, reply.body
    assert reply.body["channel"]["usersCount"] == 1
    assert realtime.state.subscription(room["_id"], bob.user_id) is None
    assert system_messages(realtime, room["_id"])[-1] == ("ul", "bob", "bob")
    not_in = await realtime.rest("POST", "channels.leave", bob, json={"roomId": room["_id"]})
    assert not_in.body == {
        "success": False,
        "error": "You are not in this room [error-user-not-in-room]",
        "errorType": "error-user-not-in-room",
        "details": {"method": "leaveRoom"},
    }


async def test_the_last_owner_cannot_leave(realtime: Realtime) -> None:
    alice = await realtime.user("alice")
    room = await create_channel(realtime, alice, "mine")
    reply = await realtime.rest("POST", "channels.leave", alice, json={"roomName": "mine"})
    assert reply.body == {
        "success": False,
        "error": "You are the last owner. Please set new owner before leaving the room. "
        "[error-you-are-last-owner]",
        "errorType": "error-you-are-last-owner",
        "details": {"method": "leaveRoom"},
    }
    assert realtime.state.subscription(room["_id"], alice.user_id) is not None


async def test_kick_needs_remove_user_and_leaves_an_ru_message(realtime: Realtime) -> None:
    alice = await realtime.user("alice")
    bob = await realtime.user("bob")
    carol = await realtime.user("carol")
    room = await create_channel(realtime, alice, "town", ["bob", "carol"])
    body = {"roomId": room["_id"], "userId": carol.user_id}
    refused = await realtime.rest("POST", "channels.kick", bob, json=body)
    assert refused.body == {
        "success": False,
        "error": "Not allowed [error-not-allowed]",
        "errorType": "error-not-allowed",
        "details": {"method": "removeUserFromRoom"},
    }
    reply = await realtime.rest("POST", "channels.kick", alice, json=body)
    assert reply.status == 200, reply.body
    assert reply.body["channel"]["usersCount"] == 2
    assert realtime.state.subscription(room["_id"], carol.user_id) is None
    assert system_messages(realtime, room["_id"])[-1] == ("ru", "carol", "alice")
    gone = await realtime.rest("POST", "channels.kick", alice, json=body)
    assert gone.body["errorType"] == "error-user-not-in-room"
    unknown = await realtime.rest(
        "POST", "channels.kick", alice, json={"roomId": room["_id"], "userId": "nobody"}
    )
    assert unknown.body["errorType"] == "error-invalid-user"


async def test_owners_are_added_and_removed_but_never_the_last(realtime: Realtime) -> None:
    alice = await realtime.user("alice")
    bob = await realtime.user("bob")
    room = await create_channel(realtime, alice, "town", ["bob"])
    body = {"roomId": room["_id"], "userId": bob.user_id}
    not_allowed = await realtime.rest("POST", "channels.addOwner", bob, json=body)
    assert not_allowed.body["errorType"] == "error-not-allowed"
    added = await realtime.rest("POST", "channels.addOwner", alice, json=body)
    assert added.body == {"success": True}
    assert realtime.state.subscription(room["_id"], bob.user_id)["roles"] == ["owner"]
    twice = await realtime.rest("POST", "channels.addOwner", alice, json=body)
    assert twice.body == {
        "success": False,
        "error": "User is already an owner [error-user-already-owner]",
        "errorType": "error-user-already-owner",
        "details": {"method": "addRoomOwner"},
    }
    removed = await realtime.rest(
        "POST", "channels.removeOwner", bob, json={"roomId": room["_id"], "username": "alice"}
    )
    assert removed.body == {"success": True}
    last = await realtime.rest("POST", "channels.removeOwner", bob, json=body)
    assert last.body["errorType"] == "error-remove-last-owner"
    roles = [m for m in realtime.state.messages.values() if m.get("t", "").startswith("sub")]
    assert [(m["t"], m["msg"], m["role"]) for m in roles] == [
        ("subscription-role-added", "bob", "owner"),
        ("subscription-role-removed", "alice", "owner"),
    ]


async def test_add_owner_of_a_non_member_is_refused(realtime: Realtime) -> None:
    alice = await realtime.user("alice")
    bob = await realtime.user("bob")
    room = await create_channel(realtime, alice, "town")
    reply = await realtime.rest(
        "POST", "channels.addOwner", alice, json={"roomId": room["_id"], "userId": bob.user_id}
    )
    assert reply.body["error"] == "User is not in this room [error-user-not-in-room]"


async def test_set_topic_saves_it_with_a_system_message(realtime: Realtime) -> None:
    alice = await realtime.user("alice")
    bob = await realtime.user("bob")
    room = await create_channel(realtime, alice, "town", ["bob"])
    reply = await realtime.rest(
        "POST", "channels.setTopic", alice, json={"roomId": room["_id"], "topic": "Rules"}
    )
    assert reply.body == {"topic": "Rules", "success": True}
    assert realtime.state.rooms[room["_id"]]["topic"] == "Rules"
    assert system_messages(realtime, room["_id"])[-1] == ("room_changed_topic", "Rules", "alice")
    same = await realtime.rest(
        "POST", "channels.setTopic", alice, json={"roomId": room["_id"], "topic": "Rules"}
    )
    assert same.body == {
        "success": False,
        "error": "The channel topic is the same as what it would be changed to.",
    }
    missing = await realtime.rest("POST", "channels.setTopic", alice, json={"roomName": "town"})
    assert missing.body == {"success": False, "error": 'The bodyParam "topic" is required'}
    refused = await realtime.rest(
        "POST", "channels.setTopic", bob, json={"roomId": room["_id"], "topic": "Mine"}
    )
    assert refused.body == {
        "success": False,
        "error": "Editing room is not allowed [error-action-not-allowed]",
        "errorType": "error-action-not-allowed",
        "details": {"method": "saveRoomSettings", "action": "Editing_room"},
    }


async def test_ddp_join_and_leave_room(realtime: Realtime) -> None:
    alice = await realtime.user("alice")
    bob = await realtime.user("bob")
    room = await create_channel(realtime, alice, "town")
    async with realtime.ddp(bob) as client:
        joined = await client.call("joinRoom", room["_id"])
        assert "error" not in joined
        assert realtime.state.subscription(room["_id"], bob.user_id) is not None
        left = await client.call("leaveRoom", room["_id"])
        assert "error" not in left
        assert realtime.state.subscription(room["_id"], bob.user_id) is None
        unknown = await client.call("joinRoom", "nowhere")
        assert unknown["error"]["error"] == "error-invalid-room"
