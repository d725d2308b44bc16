"""Realtime streams (reference §8): room messages, __my_messages__, notify-user/room/logged."""

from __future__ import annotations

from typing import Any

from tests.ddp_client import Realtime, unique

NOT_ALLOWED = {
    "isClientSafe": True,
    "error": "not-allowed",
    "message": "[not-allowed]",
    "errorType": "Meteor.Error",
}
ROOM = "stream-room-messages"
USER = "stream-notify-user"
NOTIFY_ROOM = "stream-notify-room"


async def _private_channel_with(realtime: Realtime, *members: Any) -> str:
    name = unique("team")
    reply = await realtime.rest(
        "POST",
        "channels.create",
        realtime.admin,
        json={"name": name, "members": [m.username for m in members]},
    )
    assert reply.status == 200, reply.body
    return reply.body["channel"]["_id"]


# -- stream-room-messages / <rid> ---------------------------------------------------------------


async def test_room_subscriber_gets_changed_frame_with_the_message(realtime: Realtime) -> None:
    """§8: stream-room-messages/<rid> events are `changed` frames, id "id", args [message]."""
    alice, bob = await realtime.user("alice"), await realtime.user("bob")
    async with realtime.ddp(alice) as client:
        await client.sub(ROOM, "GENERAL", {"useCollection": False, "args": []})
        sent = await realtime.post(bob, "GENERAL", "hello room")
        frame = await client.wait_for(client.changed(ROOM, "GENERAL"))
        assert set(frame) == {"msg", "collection", "id", "fields"}
        assert frame["id"] == "id"
        assert frame["fields"]["eventName"] == "GENERAL"
        (message,) = frame["fields"]["args"]
        assert message["_id"] == sent["_id"] and message["msg"] == "hello room"
        assert message["u"] == {"_id": bob.user_id, "username": "bob", "name": "Bob"}
        assert set(message["ts"]) == {"$date"}


async def test_message_sent_over_ddp_appears_in_rest_history(realtime: Realtime) -> None:
    """§7/§8: a DDP sendMessage is the same message REST channels.history returns."""
    alice = await realtime.user("alice")
    async with realtime.ddp(alice) as client:
        result = await client.call(
            "sendMessage", {"_id": "ddp-msg-1", "rid": "GENERAL", "msg": "via ddp"}
        )
        assert result["result"]["_id"] == "ddp-msg-1"
    reply = await realtime.rest(
        "GET", "channels.history", alice, params={"roomId": "GENERAL", "count": "5"}
    )
    assert reply.body["messages"][0]["_id"] == "ddp-msg-1"
    assert reply.body["messages"][0]["msg"] == "via ddp"


async def test_unjoined_public_channel_can_be_previewed(realtime: Realtime) -> None:
    """§8: read access to a public channel's messages via preview-c-room without joining."""
    alice, carol = await realtime.user("alice"), await realtime.user("carol")
    rid = await _private_channel_with(realtime, alice)
    async with realtime.ddp(carol) as client:
        assert (await client.sub(ROOM, rid, False))["msg"] == "ready"
        await realtime.post(alice, rid, "visible to previewers")
        (message,) = await client.event(ROOM, rid)
        assert message["msg"] == "visible to previewers"


async def test_dm_of_others_cannot_be_subscribed(realtime: Realtime) -> None:
    """§8: stream-room-messages of a DM the user is not in → nosub not-allowed."""
    alice, bob, eve = [await realtime.user(n) for n in ("alice", "bob", "eve")]
    rid = await realtime.dm(alice, bob)
    async with realtime.ddp(eve) as client:
        frame = await client.sub(ROOM, rid, False, sub_id="spy")
        assert frame == {"msg": "nosub", "id": "spy", "error": NOT_ALLOWED}


async def test_unknown_room_cannot_be_subscribed(realtime: Realtime) -> None:
    """§8: a room id that does not exist → nosub not-allowed."""
    alice = await realtime.user("alice")
    async with realtime.ddp(alice) as client:
        frame = await client.sub(ROOM, "NOPE", False, sub_id="n")
        assert frame == {"msg": "nosub", "id": "n", "error": NOT_ALLOWED}


async def test_room_stream_needs_a_login(realtime: Realtime) -> None:
    """§8: without a user, a room id stream is not readable."""
    async with realtime.ddp() as client:
        assert (await client.sub(ROOM, "GENERAL", False))["msg"] == "nosub"


# -- __my_messages__ ------------------------------------------------------------------------------


async def test_my_messages_carries_room_info_for_channels(realtime: Realtime) -> None:
    """§8: __my_messages__ args [message, {roomParticipant, roomType, roomName}]."""
    alice, bob = await realtime.user("alice"), await realtime.user("bob")
    async with realtime.ddp(alice) as client:
        await client.sub(ROOM, "__my_messages__", {"useCollection": False, "args": []})
        sent = await realtime.post(bob, "GENERAL", "for everyone")
        message, info = await client.event(ROOM, "__my_messages__")
        assert message["_id"] == sent["_id"]
        assert info == {"roomParticipant": True, "roomType": "c", "roomName": "general"}


async def test_my_messages_omits_room_name_for_dms(realtime: Realtime) -> None:
    """§8: for a DM, roomName is absent and roomType is 'd'."""
    alice, bob = await realtime.user("alice"), await realtime.user("bob")
    rid = await realtime.dm(bob, alice)
    async with realtime.ddp(alice) as client:
        await client.sub(ROOM, "__my_messages__", False)
        await realtime.post(bob, rid, "psst")
        message, info = await client.event(ROOM, "__my_messages__")
        assert message["rid"] == rid
        assert info == {"roomParticipant": True, "roomType": "d"}


async def test_my_messages_includes_unjoined_public_channels(realtime: Realtime) -> None:
    """§8: canAccessRoom admits public channels the user never joined (roomParticipant false)."""
    alice, carol = await realtime.user("alice"), await realtime.user("carol")
    rid = await _private_channel_with(realtime, alice)
    async with realtime.ddp(carol) as client:
        await client.sub(ROOM, "__my_messages__", False)
        await realtime.post(alice, rid, "open channel")
        _message, info = await client.event(ROOM, "__my_messages__", lambda a: a[0]["rid"] == rid)
        assert info["roomParticipant"] is False and info["roomType"] == "c"


async def test_my_messages_skips_dms_of_others(realtime: Realtime) -> None:
    """§8: messages in rooms the user cannot access never reach __my_messages__."""
    alice, bob, eve = [await realtime.user(n) for n in ("alice", "bob", "eve")]
    rid = await realtime.dm(alice, bob)
    async with realtime.ddp(eve) as client:
        await client.sub(ROOM, "__my_messages__", False)
        await realtime.post(alice, rid, "secret")
        await client.expect_none(client.changed(ROOM, "__my_messages__"))


async def test_my_messages_without_login_is_ready_but_silent(realtime: Realtime) -> None:
    """§8: read is allowed to all, but events are only emitted to logged-in users."""
    bob = await realtime.user("bob")
    async with realtime.ddp() as client:
        assert (await client.sub(ROOM, "__my_messages__", False))["msg"] == "ready"
        await realtime.post(bob, "GENERAL", "nobody hears")
        await client.expect_none(client.changed(ROOM, "__my_messages__"))


async def test_reaction_resends_the_same_message(realtime: Realtime) -> None:
    """§8: reactions re-send the message (same _id) with `reactions`."""
    alice, bob = await realtime.user("alice"), await realtime.user("bob")
    sent = await realtime.post(bob, "GENERAL", "react to me")
    async with realtime.ddp(alice) as client:
        await client.sub(ROOM, "GENERAL", False)
        reply = await realtime.rest(
            "POST", "chat.react", alice, json={"emoji": ":thumbsup:", "messageId": sent["_id"]}
        )
        assert reply.status == 200, reply.body
        (message,) = await client.event(ROOM, "GENERAL")
        assert message["_id"] == sent["_id"]
        assert message["reactions"] == {":thumbsup:": {"usernames": ["alice"]}}


async def test_thread_reply_carries_tmid_and_parent_is_resent(realtime: Realtime) -> None:
    """§8/§9: a reply has tmid; the parent comes again with tcount, tlm and replies."""
    alice, bob = await realtime.user("alice"), await realtime.user("bob")
    parent = await realtime.post(alice, "GENERAL", "start a thread")
    async with realtime.ddp(alice) as client:
        await client.sub(ROOM, "GENERAL", False)
        reply = await realtime.post(bob, "GENERAL", "in the thread", tmid=parent["_id"])
        first = await client.event(ROOM, "GENERAL")
        second = await client.event(ROOM, "GENERAL")
        messages = {m["_id"]: m for m in (first[0], second[0])}
        assert messages[reply["_id"]]["tmid"] == parent["_id"]
        updated = messages[parent["_id"]]
        assert updated["tcount"] == 1
        assert updated["replies"] == [alice.user_id, bob.user_id]
        assert updated["tlm"] == messages[reply["_id"]]["ts"]


async def test_deletion_is_announced_on_notify_room(realtime: Realtime) -> None:
    """§7/§8: chat.delete → stream-notify-room <rid>/deleteMessage {_id}."""
    alice = await realtime.user("alice")
    sent = await realtime.post(alice, "GENERAL", "oops")
    async with realtime.ddp(alice) as client:
        await client.sub(NOTIFY_ROOM, "GENERAL/deleteMessage", False)
        reply = await realtime.rest(
            "POST", "chat.delete", alice, json={"msgId": sent["_id"], "roomId": "GENERAL"}
        )
        assert reply.status == 200, reply.body
        args = await client.event(NOTIFY_ROOM, "GENERAL/deleteMessage")
        assert args == [{"_id": sent["_id"]}]


async def test_deletion_with_deleted_status_resends_the_message_as_rm(realtime: Realtime) -> None:
    """§8: with Message_ShowDeletedStatus the message comes again with t:'rm', same _id."""
    alice = await realtime.user("alice")
    realtime.state.settings["Message_ShowDeletedStatus"] = True
    sent = await realtime.post(alice, "GENERAL", "soon gone")
    async with realtime.ddp(alice) as client:
        await client.sub(ROOM, "GENERAL", False)
        await realtime.rest(
            "POST", "chat.delete", alice, json={"msgId": sent["_id"], "roomId": "GENERAL"}
        )
        (message,) = await client.event(ROOM, "GENERAL")
        assert message["_id"] == sent["_id"]
        assert message["t"] == "rm" and message["msg"] == ""
        assert message["editedBy"] == {"_id": alice.user_id, "username": "alice"}


# -- stream-notify-user ---------------------------------------------------------------------------


async def test_rooms_changed_reports_inserted_room_on_invite(realtime: Realtime) -> None:
    """§8: <uid>/rooms-changed ['inserted', room] when the user is added to a room."""
    carol = await realtime.user("carol")
    rid = await _private_channel_with(realtime)
    async with realtime.ddp(carol) as client:
        await client.sub(USER, f"{carol.user_id}/rooms-changed", False)
        reply = await realtime.rest(
            "POST", "channels.invite", realtime.admin, json={"roomId": rid, "username": "carol"}
        )
        assert reply.status == 200, reply.body
        action, room = await client.event(USER, f"{carol.user_id}/rooms-changed")
        assert action == "inserted" and room["_id"] == rid and room["t"] == "c"


async def test_rooms_changed_reports_updated_room_on_new_message(realtime: Realtime) -> None:
    """§8: <uid>/rooms-changed ['updated', room] with lastMessage when a message arrives."""
    alice, bob = await realtime.user("alice"), await realtime.user("bob")
    async with realtime.ddp(alice) as client:
        await client.sub(USER, f"{alice.user_id}/rooms-changed", False)
        sent = await realtime.post(bob, "GENERAL", "news")
        action, room = await client.event(USER, f"{alice.user_id}/rooms-changed")
        assert action == "updated" and room["_id"] == "GENERAL"
        assert room["lastMessage"]["_id"] == sent["_id"]
        assert room["lm"] == room["lastMessage"]["ts"]


async def test_subscriptions_changed_reports_new_dm_subscription(realtime: Realtime) -> None:
    """§8: <uid>/subscriptions-changed ['inserted', subscription] when a DM is created."""
    alice, bob = await realtime.user("alice"), await realtime.user("bob")
    async with realtime.ddp(alice) as client:
        await client.sub(USER, f"{alice.user_id}/subscriptions-changed", False)
        rid = await realtime.dm(bob, alice)
        action, sub = await client.event(USER, f"{alice.user_id}/subscriptions-changed")
        assert action == "inserted"
        assert sub["rid"] == rid and sub["t"] == "d" and sub["name"] == "bob"
        assert sub["u"] == {"_id": alice.user_id, "username": "alice"}


async def test_subscriptions_changed_reports_unread_on_dm_message(realtime: Realtime) -> None:
    """§8: a DM message updates the receiver's subscription (unread, alert, open)."""
    alice, bob = await realtime.user("alice"), await realtime.user("bob")
    rid = await realtime.dm(bob, alice)
    async with realtime.ddp(alice) as client:
        await client.sub(USER, f"{alice.user_id}/subscriptions-changed", False)
        await realtime.post(bob, rid, "ping")
        action, sub = await client.event(USER, f"{alice.user_id}/subscriptions-changed")
        assert action == "updated"
        assert (sub["rid"], sub["unread"], sub["alert"], sub["open"]) == (rid, 1, True, True)


async def test_ephemeral_message_reaches_user_message_stream(realtime: Realtime) -> None:
    """§8: <uid>/message [ephemeral] with rocket.cat as sender, private:true, groupable:false."""
    alice = await realtime.user("alice")
    reply = await realtime.rest(
        "POST",
        "channels.create",
        realtime.admin,
        json={"name": unique("ro"), "readOnly": True, "members": ["alice"]},
    )
    rid = reply.body["channel"]["_id"]
    async with realtime.ddp(alice) as client:
        await client.sub(USER, f"{alice.user_id}/message", False)
        frame = await client.call("sendMessage", {"rid": rid, "msg": "can I?"})
        assert frame == {"msg": "result", "id": frame["id"]}
        (ephemeral,) = await client.event(USER, f"{alice.user_id}/message")
        assert ephemeral["u"] == {"_id": "rocket.cat", "username": "rocket.cat"}
        assert ephemeral["private"] is True and ephemeral["groupable"] is False
        assert ephemeral["rid"] == rid
        assert ephemeral["msg"] == "You can't send messages because the room is readonly."
        assert set(ephemeral) >= {"_id", "ts", "_updatedAt", "md"}


async def test_dm_to_online_user_sends_notification(realtime: Realtime) -> None:
    """§8: <uid>/notification {title, text, payload{_id, rid, sender, type, message, name}}."""
    alice, bob = await realtime.user("alice"), await realtime.user("bob")
    rid = await realtime.dm(bob, alice)
    async with realtime.ddp(alice) as client:
        await client.sub(USER, f"{alice.user_id}/notification", False)
        sent = await realtime.post(bob, rid, "are you there?")
        (note,) = await client.event(USER, f"{alice.user_id}/notification")
        assert note["title"] == "bob" and note["text"] == "are you there?"
        payload = note["payload"]
        assert payload["_id"] == sent["_id"] and payload["rid"] == rid
        assert payload["sender"] == {"_id": bob.user_id, "username": "bob", "name": "Bob"}
        assert payload["type"] == "d" and payload["message"] == {"msg": "are you there?"}
        assert payload["name"] == "bob"


async def test_channel_notification_title_is_the_channel(realtime: Realtime) -> None:
    """§8: in a channel the notification reads '#room' and 'sender: text'."""
    alice, bob = await realtime.user("alice"), await realtime.user("bob")
    async with realtime.ddp(alice) as client:
        await client.sub(USER, f"{alice.user_id}/notification", False)
        await realtime.post(bob, "GENERAL", "hi @alice")
        (note,) = await client.event(USER, f"{alice.user_id}/notification")
        assert note["title"] == "#general" and note["text"] == "bob: hi @alice"
        assert note["payload"]["type"] == "c" and note["payload"]["name"] == "general"


async def test_notify_user_of_another_user_is_not_allowed(realtime: Realtime) -> None:
    """§8: <uid>/… is readable only by that uid."""
    alice, bob = await realtime.user("alice"), await realtime.user("bob")
    async with realtime.ddp(alice) as client:
        frame = await client.sub(USER, f"{bob.user_id}/rooms-changed", False, sub_id="x")
        assert frame == {"msg": "nosub", "id": "x", "error": NOT_ALLOWED}


# -- stream-notify-room / stream-notify-logged ---------------------------------------------------


async def test_typing_reaches_other_members_but_not_the_typist(realtime: Realtime) -> None:
    """§8: method stream-notify-room <rid>/user-activity → others get [username, activity, extra]."""
    alice, bob = await realtime.user("alice"), await realtime.user("bob")
    async with realtime.ddp(alice) as typist, realtime.ddp(bob) as reader:
        for client in (typist, reader):
            await client.sub(NOTIFY_ROOM, "GENERAL/user-activity", False)
        result = await typist.call(
            "stream-notify-room", "GENERAL/user-activity", "alice", ["user-typing"], {}
        )
        assert result == {"msg": "result", "id": result["id"]}
        args = await reader.event(NOTIFY_ROOM, "GENERAL/user-activity")
        assert args == ["alice", ["user-typing"], {}]
        await typist.expect_none(typist.changed(NOTIFY_ROOM, "GENERAL/user-activity"))


async def test_typing_as_someone_else_is_dropped(realtime: Realtime) -> None:
    """§8: the username in a typing event must be the caller's."""
    alice, bob = await realtime.user("alice"), await realtime.user("bob")
    async with realtime.ddp(alice) as typist, realtime.ddp(bob) as reader:
        await reader.sub(NOTIFY_ROOM, "GENERAL/user-activity", False)
        await typist.call(
            "stream-notify-room", "GENERAL/user-activity", "bob", ["user-typing"], {}
        )
        await reader.expect_none(reader.changed(NOTIFY_ROOM, "GENERAL/user-activity"))


async def test_notify_room_needs_membership(realtime: Realtime) -> None:
    """§8: stream-notify-room <rid>/… is readable by members of the room only."""
    alice, bob, eve = [await realtime.user(n) for n in ("alice", "bob", "eve")]
    rid = await realtime.dm(alice, bob)
    async with realtime.ddp(eve) as client:
        frame = await client.sub(NOTIFY_ROOM, f"{rid}/deleteMessage", False, sub_id="d")
        assert frame == {"msg": "nosub", "id": "d", "error": NOT_ALLOWED}


async def test_user_status_is_announced_when_a_user_comes_online(realtime: Realtime) -> None:
    """§8: stream-notify-logged user-status [[uid, username, 1, statusText, name, roles]]."""
    alice, bob = await realtime.user("alice"), await realtime.user("bob")
    async with realtime.ddp(alice) as watcher:
        await watcher.sub("stream-notify-logged", "user-status", False)
        async with realtime.ddp(bob):
            args = await watcher.event(
                "stream-notify-logged", "user-status", lambda a: a[0][0] == bob.user_id
            )
            assert args == [[bob.user_id, "bob", 1, None, "Bob", ["user"]]]
        args = await watcher.event(
            "stream-notify-logged", "user-status", lambda a: a[0][0] == bob.user_id
        )
        assert args[0][2] == 0


async def test_notify_logged_needs_a_login(realtime: Realtime) -> None:
    """§8: stream-notify-logged is readable by logged-in users only."""
    async with realtime.ddp() as client:
        assert (await client.sub("stream-notify-logged", "user-status", False))["msg"] == "nosub"


async def test_use_collection_subscription_still_gets_changed_events(realtime: Realtime) -> None:
    """§8: with useCollection:true the events are `changed` frames of the same collection."""
    alice, bob = await realtime.user("alice"), await realtime.user("bob")
    async with realtime.ddp(alice) as client:
        await client.sub(ROOM, "GENERAL", {"useCollection": True, "args": []})
        await client.expect(msg="added")
        await realtime.post(bob, "GENERAL", "collection mode")
        (message,) = await client.event(ROOM, "GENERAL")
        assert message["msg"] == "collection mode"
