"""REST messaging (reference §7): chat.*, im.*/dm.*, channels.*, subscriptions.get."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from tests.ddp_client import Realtime, User, unique


async def _channel(realtime: Realtime, *members: User, **extra: Any) -> dict[str, Any]:
    body = {"name": unique("chan"), "members": [m.username for m in members], **extra}
    reply = await realtime.rest("POST", "channels.create", realtime.admin, json=body)
    assert reply.status == 200, reply.body
    return reply.body["channel"]


# -- chat.postMessage -----------------------------------------------------------------------------


async def test_post_message_answers_ts_channel_and_message(realtime: Realtime) -> None:
    """§7: {"ts":<ms>,"channel":"<as given>","message":{…},"success":true}; msg trimmed."""
    alice = await realtime.user("alice")
    reply = await realtime.rest(
        "POST", "chat.postMessage", alice, json={"roomId": "GENERAL", "text": "  hello  "}
    )
    assert reply.status == 200
    body = reply.body
    assert set(body) == {"ts", "channel", "message", "success"}
    assert isinstance(body["ts"], int) and body["channel"] == "GENERAL" and body["success"] is True
    message = body["message"]
    assert message["msg"] == "hello" and message["rid"] == "GENERAL"
    assert message["alias"] == "" and message["groupable"] is False
    assert message["parseUrls"] is True and message["attachments"] == []
    assert message["u"] == {"_id": alice.user_id, "username": "alice", "name": "Alice"}
    assert message["ts"].endswith("Z") and message["_updatedAt"].endswith("Z")


async def test_post_message_to_hash_channel_joins_it(realtime: Realtime) -> None:
    """§7: channel "#name" finds the room by name and auto-joins the sender."""
    carol = await realtime.user("carol")
    channel = await _channel(realtime)
    reply = await realtime.rest(
        "POST", "chat.postMessage", carol, json={"channel": f"#{channel['name']}", "text": "hi"}
    )
    assert reply.status == 200, reply.body
    assert reply.body["channel"] == f"#{channel['name']}"
    assert realtime.state.subscription(channel["_id"], carol.user_id) is not None


async def test_post_message_to_at_username_opens_a_dm(realtime: Realtime) -> None:
    """§7: channel "@user" → the DM with that user (created if needed)."""
    alice, bob = await realtime.user("alice"), await realtime.user("bob")
    reply = await realtime.rest(
        "POST", "chat.postMessage", alice, json={"channel": "@bob", "text": "hey"}
    )
    assert reply.status == 200, reply.body
    assert reply.body["message"]["rid"] == "".join(sorted([alice.user_id, bob.user_id]))


async def test_post_message_bare_user_id_falls_back_to_a_dm(realtime: Realtime) -> None:
    """§7: a bare value that is no room is tried as a user id for a DM."""
    alice, bob = await realtime.user("alice"), await realtime.user("bob")
    reply = await realtime.rest(
        "POST", "chat.postMessage", alice, json={"channel": bob.user_id, "text": "yo"}
    )
    assert reply.status == 200, reply.body
    assert realtime.state.rooms[reply.body["message"]["rid"]]["t"] == "d"


async def test_post_message_to_nowhere_is_invalid_channel(realtime: Realtime) -> None:
    """§7: nothing found → Meteor.Error('invalid-channel')."""
    alice = await realtime.user("alice")
    reply = await realtime.rest(
        "POST", "chat.postMessage", alice, json={"channel": "nowhere", "text": "x"}
    )
    assert (reply.status, reply.body) == (
        400,
        {"success": False, "error": "[invalid-channel]", "errorType": "invalid-channel"},
    )


async def test_post_message_too_long_is_size_exceeded(realtime: Realtime) -> None:
    """§7: text > Message_MaxAllowedSize → failure error-message-size-exceeded (no errorType)."""
    alice = await realtime.user("alice")
    realtime.state.settings["Message_MaxAllowedSize"] = 5
    reply = await realtime.rest(
        "POST", "chat.postMessage", alice, json={"roomId": "GENERAL", "text": "toolong"}
    )
    assert (reply.status, reply.body) == (
        400,
        {"success": False, "error": "error-message-size-exceeded"},
    )


async def test_post_message_attachment_text_too_long(realtime: Realtime) -> None:
    """§7: attachment text > Message_MaxAllowedSize is refused too."""
    alice = await realtime.user("alice")
    realtime.state.settings["Message_MaxAllowedSize"] = 5
    reply = await realtime.rest(
        "POST",
        "chat.postMessage",
        alice,
        json={"roomId": "GENERAL", "attachments": [{"text": "toolong"}]},
    )
    assert reply.body == {"success": False, "error": "error-message-size-exceeded"}


async def test_post_message_with_extra_key_is_invalid_params(realtime: Realtime) -> None:
    """§7: no extra keys (AJV oneOf, additionalProperties false)."""
    alice = await realtime.user("alice")
    reply = await realtime.rest(
        "POST", "chat.postMessage", alice, json={"roomId": "GENERAL", "text": "x", "foo": 1}
    )
    assert reply.status == 400
    assert reply.body == {
        "success": False,
        "error": "must NOT have additional properties\n must have required property 'channel'\n"
        " must match exactly one schema in oneOf [invalid-params]",
        "errorType": "invalid-params",
    }


async def test_post_message_without_target_is_invalid_params(realtime: Realtime) -> None:
    """§7: roomId or channel is required."""
    alice = await realtime.user("alice")
    reply = await realtime.rest("POST", "chat.postMessage", alice, json={"text": "x"})
    assert reply.body["error"] == (
        "must have required property 'roomId'\n must have required property 'channel'\n"
        " must match exactly one schema in oneOf [invalid-params]"
    )


async def test_post_message_to_dm_of_others_is_error_not_allowed(realtime: Realtime) -> None:
    """§7: permission failures are plain Errors: 400 {"error":"error-not-allowed"}, no errorType."""
    alice, bob, eve = [await realtime.user(n) for n in ("alice", "bob", "eve")]
    rid = await realtime.dm(alice, bob)
    reply = await realtime.rest("POST", "chat.postMessage", eve, json={"roomId": rid, "text": "x"})
    assert (reply.status, reply.body) == (400, {"success": False, "error": "error-not-allowed"})


async def test_post_message_to_read_only_room(realtime: Realtime) -> None:
    """§7: read-only rooms refuse with the readonly text."""
    alice = await realtime.user("alice")
    channel = await _channel(realtime, alice, readOnly=True)
    reply = await realtime.rest(
        "POST", "chat.postMessage", alice, json={"roomId": channel["_id"], "text": "x"}
    )
    assert reply.body == {
        "success": False,
        "error": "You can't send messages because the room is readonly.",
    }


async def test_post_message_needs_auth(realtime: Realtime) -> None:
    """§1/§7: no auth headers → 401."""
    reply = await realtime.rest(
        "POST", "chat.postMessage", json={"roomId": "GENERAL", "text": "x"}
    )
    assert reply.status == 401


async def test_post_message_with_alias_needs_impersonate_permission(realtime: Realtime) -> None:
    """§7: alias/avatar need message-impersonate ('Not enough permission')."""
    alice = await realtime.user("alice")
    reply = await realtime.rest(
        "POST", "chat.postMessage", alice, json={"roomId": "GENERAL", "text": "x", "alias": "Boss"}
    )
    assert reply.body == {"success": False, "error": "Not enough permission"}


async def test_post_message_thread_reply(realtime: Realtime) -> None:
    """§7/§9: tmid makes a thread reply."""
    alice = await realtime.user("alice")
    parent = await realtime.post(alice, "GENERAL", "parent")
    reply = await realtime.post(alice, "GENERAL", "child", tmid=parent["_id"])
    assert reply["tmid"] == parent["_id"]


# -- chat.sendMessage ---------------------------------------------------------------------------------


async def test_send_message_keeps_the_client_id(realtime: Realtime) -> None:
    """§7: chat.sendMessage {message:{_id, rid, msg}} → {message} with that _id."""
    alice = await realtime.user("alice")
    reply = await realtime.rest(
        "POST",
        "chat.sendMessage",
        alice,
        json={"message": {"_id": "client-id-1", "rid": "GENERAL", "msg": "mine"}},
    )
    assert reply.status == 200, reply.body
    assert set(reply.body) == {"message", "success"}
    assert reply.body["message"]["_id"] == "client-id-1"


async def test_send_message_without_rid(realtime: Realtime) -> None:
    """§7: a message without rid → plain Error text."""
    alice = await realtime.user("alice")
    reply = await realtime.rest("POST", "chat.sendMessage", alice, json={"message": {"msg": "x"}})
    assert reply.body == {
        "success": False,
        "error": "The 'rid' property on the message object is missing.",
    }


async def test_send_message_with_old_timestamp_is_out_of_sync(realtime: Realtime) -> None:
    """§7: ts > 60 s off → 400 errorType error-message-ts-out-of-sync (REST is not swallowed)."""
    alice = await realtime.user("alice")
    old = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(time.time() - 3600))
    reply = await realtime.rest(
        "POST",
        "chat.sendMessage",
        alice,
        json={"message": {"rid": "GENERAL", "msg": "x", "ts": old}},
    )
    assert reply.status == 400
    assert reply.body["errorType"] == "error-message-ts-out-of-sync"
    assert reply.body["error"] == "Message timestamp is out of sync [error-message-ts-out-of-sync]"
    assert reply.body["details"]["method"] == "sendMessage"


async def test_send_message_of_system_type_is_refused(realtime: Realtime) -> None:
    """§7: system message types cannot be sent."""
    alice = await realtime.user("alice")
    reply = await realtime.rest(
        "POST",
        "chat.sendMessage",
        alice,
        json={"message": {"rid": "GENERAL", "msg": "x", "t": "uj"}},
    )
    assert reply.body == {
        "success": False,
        "error": "Cannot send system messages using 'chat.sendMessage'",
    }


async def test_send_message_without_message_is_invalid_params(realtime: Realtime) -> None:
    """§7: body must have `message`."""
    alice = await realtime.user("alice")
    reply = await realtime.rest("POST", "chat.sendMessage", alice, json={})
    assert reply.body["error"] == "must have required property 'message' [invalid-params]"


# -- chat.getMessage --------------------------------------------------------------------------------


async def test_get_message(realtime: Realtime) -> None:
    """§7: chat.getMessage?msgId → {message}."""
    alice = await realtime.user("alice")
    sent = await realtime.post(alice, "GENERAL", "find me")
    reply = await realtime.rest("GET", "chat.getMessage", alice, params={"msgId": sent["_id"]})
    assert reply.status == 200
    assert reply.body["message"]["_id"] == sent["_id"]
    assert reply.body["message"]["msg"] == "find me"


async def test_get_message_of_unknown_id_is_a_bare_failure(realtime: Realtime) -> None:
    """§7: no message → API.v1.failure() → {"success":false}."""
    alice = await realtime.user("alice")
    reply = await realtime.rest("GET", "chat.getMessage", alice, params={"msgId": "nope"})
    assert (reply.status, reply.body) == (400, {"success": False})


async def test_get_message_from_a_room_without_access(realtime: Realtime) -> None:
    """§7: a message in a room the caller cannot access → error-action-not-allowed."""
    alice, bob, eve = [await realtime.user(n) for n in ("alice", "bob", "eve")]
    rid = await realtime.dm(alice, bob)
    sent = await realtime.post(alice, rid, "private")
    reply = await realtime.rest("GET", "chat.getMessage", eve, params={"msgId": sent["_id"]})
    assert reply.body == {
        "success": False,
        "error": "Not allowed [error-action-not-allowed]",
        "errorType": "error-action-not-allowed",
    }


async def test_get_message_without_msg_id_is_invalid_params(realtime: Realtime) -> None:
    """§7: msgId is required."""
    alice = await realtime.user("alice")
    reply = await realtime.rest("GET", "chat.getMessage", alice)
    assert reply.body["error"] == "must have required property 'msgId' [invalid-params]"


# -- chat.react -----------------------------------------------------------------------------------


async def test_react_adds_a_reaction(realtime: Realtime) -> None:
    """§7: chat.react {emoji, messageId} → {success:true}; the message has reactions."""
    alice = await realtime.user("alice")
    sent = await realtime.post(alice, "GENERAL", "react")
    reply = await realtime.rest(
        "POST", "chat.react", alice, json={"emoji": "thumbsup", "messageId": sent["_id"]}
    )
    assert reply.body == {"success": True}
    got = await realtime.rest("GET", "chat.getMessage", alice, params={"msgId": sent["_id"]})
    assert got.body["message"]["reactions"] == {":thumbsup:": {"usernames": ["alice"]}}


async def test_react_accepts_reaction_key(realtime: Realtime) -> None:
    """§7: `reaction` is the older name of `emoji`."""
    alice = await realtime.user("alice")
    sent = await realtime.post(alice, "GENERAL", "react")
    reply = await realtime.rest(
        "POST", "chat.react", alice, json={"reaction": ":tada:", "messageId": sent["_id"]}
    )
    assert reply.body == {"success": True}


async def test_react_should_react_false_when_not_reacted_changes_nothing(
    realtime: Realtime,
) -> None:
    """§7: shouldReact false on a message without the reaction is a no-op."""
    alice = await realtime.user("alice")
    sent = await realtime.post(alice, "GENERAL", "react")
    reply = await realtime.rest(
        "POST",
        "chat.react",
        alice,
        json={"emoji": ":tada:", "messageId": sent["_id"], "shouldReact": False},
    )
    assert reply.body == {"success": True}
    assert "reactions" not in realtime.state.messages[sent["_id"]]


async def test_react_to_unknown_message(realtime: Realtime) -> None:
    """§7: error-message-not-found."""
    alice = await realtime.user("alice")
    reply = await realtime.rest(
        "POST", "chat.react", alice, json={"emoji": ":tada:", "messageId": "nope"}
    )
    assert reply.body == {
        "success": False,
        "error": 'The provided "messageId" does not match any existing message. '
        "[error-message-not-found]",
        "errorType": "error-message-not-found",
    }


async def test_react_with_empty_emoji(realtime: Realtime) -> None:
    """§7: an empty emoji → error-emoji-param-not-provided."""
    alice = await realtime.user("alice")
    sent = await realtime.post(alice, "GENERAL", "react")
    reply = await realtime.rest(
        "POST", "chat.react", alice, json={"emoji": "", "messageId": sent["_id"]}
    )
    assert reply.body["errorType"] == "error-emoji-param-not-provided"


# -- chat.delete ------------------------------------------------------------------------------------


async def test_delete_own_message(realtime: Realtime) -> None:
    """§7: OK → {"_id","ts":"<ms as string>","message":{_id,rid,u},"success":true}."""
    alice = await realtime.user("alice")
    sent = await realtime.post(alice, "GENERAL", "bye")
    reply = await realtime.rest(
        "POST", "chat.delete", alice, json={"msgId": sent["_id"], "roomId": "GENERAL"}
    )
    assert reply.status == 200
    assert set(reply.body) == {"_id", "ts", "message", "success"}
    assert reply.body["_id"] == sent["_id"] and reply.body["ts"].isdigit()
    assert reply.body["message"] == {"_id": sent["_id"], "rid": "GENERAL", "u": sent["u"]}
    assert sent["_id"] not in realtime.state.messages


async def test_delete_unknown_message(realtime: Realtime) -> None:
    """§7: 'No message found with the id of "<id>".'"""
    alice = await realtime.user("alice")
    reply = await realtime.rest(
        "POST", "chat.delete", alice, json={"msgId": "nope", "roomId": "GENERAL"}
    )
    assert reply.body == {"success": False, "error": 'No message found with the id of "nope".'}


async def test_delete_with_wrong_room(realtime: Realtime) -> None:
    """§7: the room id must match the message's room."""
    alice = await realtime.user("alice")
    sent = await realtime.post(alice, "GENERAL", "x")
    reply = await realtime.rest(
        "POST", "chat.delete", alice, json={"msgId": sent["_id"], "roomId": "OTHER"}
    )
    assert reply.body == {
        "success": False,
        "error": "The room id provided does not match where the message is from.",
    }


async def test_delete_message_of_someone_else_is_not_allowed(realtime: Realtime) -> None:
    """§7: error-action-not-allowed "Not allowed"."""
    alice, bob = await realtime.user("alice"), await realtime.user("bob")
    sent = await realtime.post(bob, "GENERAL", "bob's")
    reply = await realtime.rest(
        "POST", "chat.delete", alice, json={"msgId": sent["_id"], "roomId": "GENERAL"}
    )
    assert reply.body == {
        "success": False,
        "error": "Not allowed [error-action-not-allowed]",
        "errorType": "error-action-not-allowed",
    }


async def test_admin_deletes_message_of_someone_else(realtime: Realtime) -> None:
    """§7: delete-message lets admins delete other people's messages."""
    bob = await realtime.user("bob")
    sent = await realtime.post(bob, "GENERAL", "moderate me")
    reply = await realtime.rest(
        "POST", "chat.delete", realtime.admin, json={"msgId": sent["_id"], "roomId": "GENERAL"}
    )
    assert reply.status == 200, reply.body


async def test_delete_as_user_needs_force_delete(realtime: Realtime) -> None:
    """§7: asUser on someone else's message needs force-delete-message."""
    alice, bob = await realtime.user("alice"), await realtime.user("bob")
    sent = await realtime.post(bob, "GENERAL", "x")
    reply = await realtime.rest(
        "POST",
        "chat.delete",
        alice,
        json={"msgId": sent["_id"], "roomId": "GENERAL", "asUser": True},
    )
    assert reply.body["error"].startswith(
        'Unauthorized. You must have the permission "force-delete'
    )


async def test_deleting_is_disabled_by_setting(realtime: Realtime) -> None:
    """§7: Message_AllowDeleting false → error-action-not-allowed even for own messages."""
    alice = await realtime.user("alice")
    realtime.state.settings["Message_AllowDeleting"] = False
    sent = await realtime.post(alice, "GENERAL", "x")
    reply = await realtime.rest(
        "POST", "chat.delete", alice, json={"msgId": sent["_id"], "roomId": "GENERAL"}
    )
    assert reply.body["errorType"] == "error-action-not-allowed"


# -- im.create / dm.create ------------------------------------------------------------------------


async def test_im_create_returns_the_room(realtime: Realtime) -> None:
    """§7: {"room":{…,"_id":rid,"rid":rid,"t":"d"},"success":true}, idempotent."""
    alice, bob = await realtime.user("alice"), await realtime.user("bob")
    rid = "".join(sorted([alice.user_id, bob.user_id]))
    for endpoint in ("im.create", "dm.create"):
        reply = await realtime.rest("POST", endpoint, alice, json={"username": "bob"})
        assert reply.status == 200, reply.body
        assert reply.body["room"] == {
            "t": "d",
            "rid": rid,
            "usernames": ["alice", "bob"],
            "_id": rid,
        }


async def test_im_create_with_usernames_list(realtime: Realtime) -> None:
    """§7: {usernames: "a,b"} makes a group DM (random id, every member subscribed)."""
    alice, bob, carol = [await realtime.user(n) for n in ("alice", "bob", "carol")]
    reply = await realtime.rest("POST", "im.create", alice, json={"usernames": "bob, carol"})
    assert reply.status == 200, reply.body
    rid = reply.body["room"]["rid"]
    assert sorted(reply.body["room"]["usernames"]) == ["alice", "bob", "carol"]
    for user in (alice, bob, carol):
        assert realtime.state.subscription(rid, user.user_id) is not None


async def test_im_create_with_unknown_user(realtime: Realtime) -> None:
    """§7: error-invalid-user."""
    alice = await realtime.user("alice")
    reply = await realtime.rest("POST", "im.create", alice, json={"username": "ghost"})
    assert reply.body == {
        "success": False,
        "error": "Invalid user [error-invalid-user]",
        "errorType": "error-invalid-user",
        "details": {"method": "createDirectMessage"},
    }


async def test_im_create_without_create_d_permission(realtime: Realtime) -> None:
    """§7: no create-d (and no existing DM) → error-not-allowed."""
    alice, _bob = await realtime.user("alice"), await realtime.user("bob")
    realtime.state.permissions["create-d"] = ["admin"]
    reply = await realtime.rest("POST", "im.create", alice, json={"username": "bob"})
    assert reply.body["errorType"] == "error-not-allowed"


async def test_im_create_with_both_keys_is_invalid_params(realtime: Realtime) -> None:
    """§7: username | usernames, not both."""
    alice = await realtime.user("alice")
    reply = await realtime.rest(
        "POST", "im.create", alice, json={"username": "a", "usernames": "b"}
    )
    assert reply.body["errorType"] == "invalid-params"


# -- im.history / channels.history ----------------------------------------------------------------


async def test_im_history_returns_messages_newest_first(realtime: Realtime) -> None:
    """§7: im.history?roomId → {messages}, newest first, `count` honoured."""
    alice, bob = await realtime.user("alice"), await realtime.user("bob")
    rid = await realtime.dm(alice, bob)
    for text in ("a", "b", "c"):
        await realtime.post(alice, rid, text)
    reply = await realtime.rest("GET", "im.history", bob, params={"roomId": rid, "count": "2"})
    assert reply.status == 200, reply.body
    assert set(reply.body) == {"messages", "success"}
    assert [m["msg"] for m in reply.body["messages"]] == ["c", "b"]


async def test_im_history_hides_thread_replies_unless_asked(realtime: Realtime) -> None:
    """§7: showThreadMessages defaults to false on REST history."""
    alice, bob = await realtime.user("alice"), await realtime.user("bob")
    rid = await realtime.dm(alice, bob)
    parent = await realtime.post(alice, rid, "parent")
    await realtime.post(bob, rid, "reply", tmid=parent["_id"])
    hidden = await realtime.rest("GET", "im.history", alice, params={"roomId": rid})
    shown = await realtime.rest(
        "GET", "im.history", alice, params={"roomId": rid, "showThreadMessages": "true"}
    )
    assert [m["msg"] for m in hidden.body["messages"]] == ["parent"]
    assert [m["msg"] for m in shown.body["messages"]] == ["reply", "parent"]


async def test_im_history_of_unknown_room(realtime: Realtime) -> None:
    """§7: an unknown room id → invalid-channel."""
    alice = await realtime.user("alice")
    reply = await realtime.rest("GET", "im.history", alice, params={"roomId": "nope"})
    assert reply.body == {
        "success": False,
        "error": "[invalid-channel]",
        "errorType": "invalid-channel",
    }


async def test_im_history_of_a_channel_is_room_not_found(realtime: Realtime) -> None:
    """§7: a channel id is not a direct message."""
    alice = await realtime.user("alice")
    reply = await realtime.rest("GET", "im.history", alice, params={"roomId": "GENERAL"})
    assert reply.body["errorType"] in ("error-room-not-found", "invalid-channel")


async def test_im_history_of_dm_of_others_is_forbidden(realtime: Realtime) -> None:
    """§7: a DM the caller is not in → 403 {"success":false,"error":"unauthorized"}."""
    alice, bob, eve = [await realtime.user(n) for n in ("alice", "bob", "eve")]
    rid = await realtime.dm(alice, bob)
    reply = await realtime.rest("GET", "im.history", eve, params={"roomId": rid})
    assert (reply.status, reply.body) == (403, {"success": False, "error": "unauthorized"})


async def test_im_history_unreads(realtime: Realtime) -> None:
    """§7: unreads=true adds firstUnread/unreadNotLoaded (with oldest)."""
    alice, bob = await realtime.user("alice"), await realtime.user("bob")
    rid = await realtime.dm(alice, bob)
    await realtime.post(alice, rid, "x")
    reply = await realtime.rest(
        "GET", "im.history", bob, params={"roomId": rid, "unreads": "true"}
    )
    assert reply.body["unreadNotLoaded"] == 0


async def test_channels_history_by_name(realtime: Realtime) -> None:
    """§7: channels.history?roomName=general → {messages}."""
    alice = await realtime.user("alice")
    await realtime.post(alice, "GENERAL", "in general")
    reply = await realtime.rest(
        "GET", "channels.history", alice, params={"roomName": "general", "count": "1"}
    )
    assert reply.status == 200, reply.body
    assert [m["msg"] for m in reply.body["messages"]] == ["in general"]


async def test_channels_history_latest_and_oldest(realtime: Realtime) -> None:
    """§7: latest/oldest bound the window (exclusive unless inclusive=true)."""
    alice = await realtime.user("alice")
    first = await realtime.post(alice, "GENERAL", "first")
    await asyncio.sleep(0.002)  # distinct milliseconds
    second = await realtime.post(alice, "GENERAL", "second")
    await asyncio.sleep(0.002)
    await realtime.post(alice, "GENERAL", "third")
    reply = await realtime.rest(
        "GET",
        "channels.history",
        alice,
        params={
            "roomId": "GENERAL",
            "oldest": first["ts"],
            "latest": second["ts"],
            "inclusive": "true",
        },
    )
    assert [m["msg"] for m in reply.body["messages"]] == ["second", "first"]


async def test_channels_history_of_a_dm_is_room_not_found(realtime: Realtime) -> None:
    """§7: findChannelByIdOrName accepts public channels only."""
    alice, bob = await realtime.user("alice"), await realtime.user("bob")
    rid = await realtime.dm(alice, bob)
    reply = await realtime.rest("GET", "channels.history", alice, params={"roomId": rid})
    assert reply.body == {
        "success": False,
        "error": 'The required "roomId" or "roomName" param provided does not match any channel '
        "[error-room-not-found]",
        "errorType": "error-room-not-found",
    }


# -- channels.create / channels.invite --------------------------------------------------------------


async def test_channels_create(realtime: Realtime) -> None:
    """§7: channels.create → {channel}; the creator owns it (subscription roles ['owner'])."""
    alice = await realtime.user("alice")
    name = unique("room")
    reply = await realtime.rest("POST", "channels.create", alice, json={"name": name})
    assert reply.status == 200, reply.body
    channel = reply.body["channel"]
    assert channel["name"] == name and channel["fname"] == name and channel["t"] == "c"
    assert channel["u"] == {"_id": alice.user_id, "username": "alice", "name": "Alice"}
    assert channel["usersCount"] == 1 and channel["msgs"] == 0 and channel["ro"] is False
    sub = realtime.state.subscription(channel["_id"], alice.user_id)
    assert sub is not None and sub["roles"] == ["owner"] and sub["open"] is True


async def test_channels_create_with_members(realtime: Realtime) -> None:
    """§7: members get a subscription; unknown members are skipped."""
    alice, bob = await realtime.user("alice"), await realtime.user("bob")
    reply = await realtime.rest(
        "POST",
        "channels.create",
        alice,
        json={"name": unique("room"), "members": ["bob", "ghost"]},
    )
    channel = reply.body["channel"]
    assert channel["usersCount"] == 2
    assert realtime.state.subscription(channel["_id"], bob.user_id) is not None


async def test_channels_create_duplicate_name(realtime: Realtime) -> None:
    """§7: a taken name → error-duplicate-channel-name."""
    alice = await realtime.user("alice")
    reply = await realtime.rest("POST", "channels.create", alice, json={"name": "general"})
    assert reply.body == {
        "success": False,
        "error": "A channel with name 'general' exists [error-duplicate-channel-name]",
        "errorType": "error-duplicate-channel-name",
        "details": {"function": "RocketChat.getValidRoomName", "channel_name": "general"},
    }


async def test_channels_create_invalid_name(realtime: Realtime) -> None:
    """§7: a name outside UTF8_Channel_Names_Validation → error-invalid-room-name."""
    alice = await realtime.user("alice")
    reply = await realtime.rest("POST", "channels.create", alice, json={"name": "bad name!"})
    assert reply.body["errorType"] == "error-invalid-room-name"
    assert reply.body["error"] == "bad name! is not a valid room name. [error-invalid-room-name]"


async def test_channels_create_without_name(realtime: Realtime) -> None:
    """§7: 'Param "name" is required'."""
    alice = await realtime.user("alice")
    reply = await realtime.rest("POST", "channels.create", alice, json={})
    assert reply.body == {"success": False, "error": 'Param "name" is required'}


async def test_channels_create_without_permission_is_forbidden(realtime: Realtime) -> None:
    """§7: no create-c → 403 unauthorized."""
    alice = await realtime.user("alice")
    realtime.state.permissions["create-c"] = ["admin"]
    reply = await realtime.rest("POST", "channels.create", alice, json={"name": unique("r")})
    assert (reply.status, reply.body) == (403, {"success": False, "error": "unauthorized"})


async def test_channels_invite(realtime: Realtime) -> None:
    """§7: channels.invite → {channel}; the user is subscribed and an 'au' message is saved."""
    carol = await realtime.user("carol")
    channel = await _channel(realtime)
    reply = await realtime.rest(
        "POST",
        "channels.invite",
        realtime.admin,
        json={"roomId": channel["_id"], "userId": carol.user_id},
    )
    assert reply.status == 200, reply.body
    assert reply.body["channel"]["usersCount"] == 2
    assert realtime.state.subscription(channel["_id"], carol.user_id) is not None
    added = [m for m in realtime.state.messages.values() if m["rid"] == channel["_id"]]
    assert [(m["t"], m["msg"], m["u"]["username"]) for m in added] == [("au", "carol", "admin")]


async def test_channels_invite_without_users(realtime: Realtime) -> None:
    """§7: no users → {"error":"invalid-user-invite-list","errorType":"Cannot invite if…"}."""
    channel = await _channel(realtime)
    reply = await realtime.rest(
        "POST", "channels.invite", realtime.admin, json={"roomId": channel["_id"]}
    )
    assert reply.body == {
        "success": False,
        "error": "invalid-user-invite-list",
        "errorType": "Cannot invite if no users are provided",
    }


async def test_channels_invite_unknown_user(realtime: Realtime) -> None:
    """§7: a user that does not exist → error-users-params-not-found."""
    channel = await _channel(realtime)
    reply = await realtime.rest(
        "POST",
        "channels.invite",
        realtime.admin,
        json={"roomId": channel["_id"], "username": "ghost"},
    )
    assert reply.body["errorType"] == "error-users-params-not-found"


async def test_channels_invite_by_non_member_is_not_allowed(realtime: Realtime) -> None:
    """§7: without add-user-to-joined-room / add-user-to-any-c-room → error-not-allowed."""
    alice, carol = await realtime.user("alice"), await realtime.user("carol")
    channel = await _channel(realtime)
    reply = await realtime.rest(
        "POST", "channels.invite", alice, json={"roomId": channel["_id"], "username": "carol"}
    )
    assert reply.body == {
        "success": False,
        "error": "Not allowed [error-not-allowed]",
        "errorType": "error-not-allowed",
        "details": {"method": "addUsersToRoom"},
    }
    assert realtime.state.subscription(channel["_id"], carol.user_id) is None


async def test_channels_invite_of_a_member_sends_an_ephemeral(realtime: Realtime) -> None:
    """§7: inviting a member again → ephemeral "`@user` is already in here." to the inviter."""
    alice = await realtime.user("alice")
    channel = await _channel(realtime, alice)
    async with realtime.ddp(realtime.admin) as client:
        await client.sub("stream-notify-user", f"{realtime.admin.user_id}/message", False)
        await realtime.rest(
            "POST",
            "channels.invite",
            realtime.admin,
            json={"roomId": channel["_id"], "username": "alice"},
        )
        (ephemeral,) = await client.event(
            "stream-notify-user", f"{realtime.admin.user_id}/message"
        )
        assert ephemeral["msg"] == "`@alice` is already in here."


async def test_channels_invite_to_unknown_room(realtime: Realtime) -> None:
    """§7: error-room-not-found."""
    reply = await realtime.rest(
        "POST", "channels.invite", realtime.admin, json={"roomId": "nope", "username": "admin"}
    )
    assert reply.body["errorType"] == "error-room-not-found"


# -- subscriptions.get ----------------------------------------------------------------------------


async def test_subscriptions_get(realtime: Realtime) -> None:
    """§7: subscriptions.get → {update:[…], remove:[]}."""
    alice = await realtime.user("alice")
    reply = await realtime.rest("GET", "subscriptions.get", alice)
    assert reply.status == 200
    assert set(reply.body) == {"update", "remove", "success"}
    assert [s["rid"] for s in reply.body["update"]] == ["GENERAL"]
    assert reply.body["remove"] == []


async def test_subscriptions_get_since(realtime: Realtime) -> None:
    """§7: updatedSince keeps only subscriptions changed after it."""
    alice, bob = await realtime.user("alice"), await realtime.user("bob")
    since = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(time.time() + 1)) + ".000Z"
    reply = await realtime.rest("GET", "subscriptions.get", alice, params={"updatedSince": since})
    assert reply.body["update"] == []
    await realtime.dm(bob, alice)
    earlier = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(time.time() - 1)) + ".000Z"
    reply = await realtime.rest(
        "GET", "subscriptions.get", alice, params={"updatedSince": earlier}
    )
    assert "d" in [s["t"] for s in reply.body["update"]]


async def test_subscriptions_get_with_bad_date(realtime: Realtime) -> None:
    """§7: a date that does not parse → error-roomId-param-invalid."""
    alice = await realtime.user("alice")
    reply = await realtime.rest(
        "GET", "subscriptions.get", alice, params={"updatedSince": "yesterday"}
    )
    assert reply.body["errorType"] == "error-roomId-param-invalid"


# -- chat.update ------------------------------------------------------------------------------


async def test_update_edits_own_message_and_marks_it_edited(realtime: Realtime) -> None:
    """chat.update: the author edits; editedAt/editedBy set, the same _id is streamed again."""
    alice = await realtime.user("alice")
    posted = await realtime.rest(
        "POST", "chat.postMessage", alice, json={"roomId": "GENERAL", "text": "first"}
    )
    message_id = posted.body["message"]["_id"]
    reply = await realtime.rest(
        "POST",
        "chat.update",
        alice,
        json={"roomId": "GENERAL", "msgId": message_id, "text": "second"},
    )
    assert reply.status == 200, reply.body
    edited = reply.body["message"]
    assert edited["_id"] == message_id and edited["msg"] == "second"
    assert edited["editedBy"] == {"_id": alice.user_id, "username": "alice"}
    assert edited["editedAt"].endswith("Z")


async def test_update_of_someone_elses_message_is_not_allowed(realtime: Realtime) -> None:
    """chat.update: without edit-message only the author may edit."""
    alice, bob = await realtime.user("alice"), await realtime.user("bob")
    posted = await realtime.rest(
        "POST", "chat.postMessage", alice, json={"roomId": "GENERAL", "text": "mine"}
    )
    reply = await realtime.rest(
        "POST",
        "chat.update",
        bob,
        json={"roomId": "GENERAL", "msgId": posted.body["message"]["_id"], "text": "yours"},
    )
    assert reply.status == 400
    assert reply.body["errorType"] == "error-action-not-allowed"


async def test_update_unknown_message_and_wrong_room(realtime: Realtime) -> None:
    """chat.update: API.v1.failure texts for a missing message and a room mismatch."""
    alice = await realtime.user("alice")
    missing = await realtime.rest(
        "POST", "chat.update", alice, json={"roomId": "GENERAL", "msgId": "nope", "text": "x"}
    )
    assert missing.status == 400
    assert missing.body == {"success": False, "error": 'No message found with the id of "nope".'}
    posted = await realtime.rest(
        "POST", "chat.postMessage", alice, json={"roomId": "GENERAL", "text": "here"}
    )
    wrong = await realtime.rest(
        "POST",
        "chat.update",
        alice,
        json={"roomId": "elsewhere", "msgId": posted.body["message"]["_id"], "text": "x"},
    )
    assert wrong.body["error"] == "The room id provided does not match where the message is from."
