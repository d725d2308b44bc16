"""DDP methods (reference §7, §8): sendMessage, setReaction, createDirectMessage, rooms/get,
subscriptions/get, loadHistory, deleteMessage, getUserRoles."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from tests.ddp_client import Realtime

MATCH_FAILED = {
    "isClientSafe": True,
    "error": 400,
    "reason": "Match failed",
    "message": "Match failed [400]",
    "errorType": "Meteor.Error",
}


def invalid_user(method: str) -> dict[str, Any]:
    return {
        "isClientSafe": True,
        "error": "error-invalid-user",
        "reason": "Invalid user",
        "details": {"method": method},
        "message": "Invalid user [error-invalid-user]",
        "errorType": "Meteor.Error",
    }


def now_ms(offset_s: float = 0) -> int:
    return int((time.time() + offset_s) * 1000)


def nothing(frame: dict[str, Any]) -> bool:
    """A result frame with neither result nor error (a swallowed failure)."""
    return set(frame) == {"msg", "id"}


# -- sendMessage ----------------------------------------------------------------------------------


async def test_send_message_returns_the_saved_message(realtime: Realtime) -> None:
    """§7/§9: sendMessage → the saved message with _id, rid, msg, ts, u, _updatedAt, md…"""
    alice = await realtime.user("alice")
    async with realtime.ddp(alice) as client:
        frame = await client.call("sendMessage", {"_id": "m1", "rid": "GENERAL", "msg": "hi"})
        message = frame["result"]
        assert message["_id"] == "m1" and message["rid"] == "GENERAL" and message["msg"] == "hi"
        assert message["u"] == {"_id": alice.user_id, "username": "alice", "name": "Alice"}
        assert set(message["ts"]) == {"$date"} and set(message["_updatedAt"]) == {"$date"}
        assert "t" not in message
        assert message["md"] == [
            {"type": "PARAGRAPH", "value": [{"type": "PLAIN_TEXT", "value": "hi"}]}
        ]
        assert message["mentions"] == [] and message["channels"] == [] and message["urls"] == []


async def test_send_message_with_unknown_key_is_match_failed(realtime: Realtime) -> None:
    """§7: the newer strict key check: a key outside the list → 400 Match failed."""
    alice = await realtime.user("alice")
    async with realtime.ddp(alice) as client:
        frame = await client.call("sendMessage", {"rid": "GENERAL", "msg": "x", "alias": "boss"})
        assert frame["error"] == MATCH_FAILED


async def test_send_message_with_wrong_type_is_match_failed(realtime: Realtime) -> None:
    """§7: msg must be a string (or absent)."""
    alice = await realtime.user("alice")
    async with realtime.ddp(alice) as client:
        frame = await client.call("sendMessage", {"rid": "GENERAL", "msg": 5})
        assert frame["error"] == MATCH_FAILED


async def test_send_message_needs_a_login(realtime: Realtime) -> None:
    """§7: without a user → error-invalid-user {method: sendMessage}."""
    async with realtime.ddp() as client:
        frame = await client.call("sendMessage", {"rid": "GENERAL", "msg": "anon"})
        assert frame["error"] == invalid_user("sendMessage")


async def test_timestamp_over_a_minute_off_is_swallowed(realtime: Realtime) -> None:
    """§7: ts > 60 s off → error-message-ts-out-of-sync, swallowed: no result, no error."""
    alice = await realtime.user("alice")
    async with realtime.ddp(alice) as client:
        frame = await client.call(
            "sendMessage",
            {"_id": "late", "rid": "GENERAL", "msg": "old", "ts": {"$date": now_ms(-120)}},
        )
        assert nothing(frame)
    assert "late" not in realtime.state.messages


async def test_timestamp_between_ten_and_sixty_seconds_off_is_replaced(realtime: Realtime) -> None:
    """§7: ts 10–60 s off is replaced by the server's time."""
    alice = await realtime.user("alice")
    async with realtime.ddp(alice) as client:
        sent = now_ms(-30)
        frame = await client.call(
            "sendMessage", {"rid": "GENERAL", "msg": "x", "ts": {"$date": sent}}
        )
        assert abs(frame["result"]["ts"]["$date"] - now_ms()) < 5000


async def test_timestamp_within_ten_seconds_is_kept(realtime: Realtime) -> None:
    """§7: a client ts within 10 s is the message's ts."""
    alice = await realtime.user("alice")
    async with realtime.ddp(alice) as client:
        sent = now_ms(-5)
        frame = await client.call(
            "sendMessage", {"rid": "GENERAL", "msg": "x", "ts": {"$date": sent}}
        )
        assert frame["result"]["ts"] == {"$date": sent}


async def test_message_over_max_size_is_swallowed(realtime: Realtime) -> None:
    """§7: Message_MaxAllowedSize exceeded → swallowed (nothing saved, no error frame)."""
    alice = await realtime.user("alice")
    realtime.state.settings["Message_MaxAllowedSize"] = 10
    async with realtime.ddp(alice) as client:
        frame = await client.call("sendMessage", {"_id": "big", "rid": "GENERAL", "msg": "x" * 11})
        assert nothing(frame)
    assert "big" not in realtime.state.messages


async def test_room_without_access_is_error_not_allowed(realtime: Realtime) -> None:
    """§7: error-not-allowed is rethrown (details {method}) and an ephemeral is pushed."""
    alice, bob, eve = [await realtime.user(n) for n in ("alice", "bob", "eve")]
    rid = await realtime.dm(alice, bob)
    async with realtime.ddp(eve) as client:
        await client.sub("stream-notify-user", f"{eve.user_id}/message", False)
        frame = await client.call("sendMessage", {"rid": rid, "msg": "intrude"})
        assert frame["error"] == {
            "isClientSafe": True,
            "error": "error-not-allowed",
            "details": {"method": "sendMessage"},
            "message": "[error-not-allowed]",
            "errorType": "Meteor.Error",
        }
        (ephemeral,) = await client.event("stream-notify-user", f"{eve.user_id}/message")
        assert ephemeral["msg"] == "Not allowed" and ephemeral["rid"] == rid


async def test_unknown_room_is_swallowed_with_an_ephemeral(realtime: Realtime) -> None:
    """§7: error-invalid-room → result with neither result nor error, ephemeral "Invalid room"."""
    alice = await realtime.user("alice")
    async with realtime.ddp(alice) as client:
        await client.sub("stream-notify-user", f"{alice.user_id}/message", False)
        frame = await client.call("sendMessage", {"rid": "NOWHERE", "msg": "hello?"})
        assert nothing(frame)
        (ephemeral,) = await client.event("stream-notify-user", f"{alice.user_id}/message")
        assert ephemeral["msg"] == "Invalid room" and ephemeral["rid"] == "NOWHERE"


async def test_system_message_type_cannot_be_sent(realtime: Realtime) -> None:
    """§7: t of a system type → a plain Error → 500 Internal server error."""
    alice = await realtime.user("alice")
    async with realtime.ddp(alice) as client:
        frame = await client.call("sendMessage", {"rid": "GENERAL", "msg": "x", "t": "uj"})
        assert frame["error"]["error"] == 500


async def test_duplicate_id_saves_nothing_and_returns_nothing(realtime: Realtime) -> None:
    """§7: a message whose _id exists is not saved again; the result is empty."""
    alice = await realtime.user("alice")
    async with realtime.ddp(alice) as client:
        await client.call("sendMessage", {"_id": "same", "rid": "GENERAL", "msg": "first"})
        frame = await client.call(
            "sendMessage", {"_id": "same", "rid": "GENERAL", "msg": "second"}
        )
        assert nothing(frame)
    assert realtime.state.messages["same"]["msg"] == "first"


async def test_reply_to_a_reply_goes_to_the_thread_root(realtime: Realtime) -> None:
    """§7: nested threads are not allowed: tmid becomes the root's id."""
    alice = await realtime.user("alice")
    async with realtime.ddp(alice) as client:
        root = (await client.call("sendMessage", {"rid": "GENERAL", "msg": "root"}))["result"]
        reply = await client.call(
            "sendMessage", {"rid": "GENERAL", "msg": "r1", "tmid": root["_id"]}
        )
        nested = await client.call(
            "sendMessage", {"rid": "GENERAL", "msg": "r2", "tmid": reply["result"]["_id"]}
        )
        assert nested["result"]["tmid"] == root["_id"]
    assert realtime.state.messages[root["_id"]]["tcount"] == 2


async def test_tshow_without_tmid_is_swallowed(realtime: Realtime) -> None:
    """§7: tshow without tmid → invalid-params, swallowed."""
    alice = await realtime.user("alice")
    async with realtime.ddp(alice) as client:
        frame = await client.call("sendMessage", {"rid": "GENERAL", "msg": "x", "tshow": True})
        assert nothing(frame)


async def test_more_than_five_messages_a_second_are_rate_limited(realtime: Realtime) -> None:
    """§7: 5 messages/s without send-many-messages; the 6th gets too-many-requests."""
    alice = await realtime.user("alice")
    async with realtime.ddp(alice) as client:
        frames = [
            await client.call("sendMessage", {"rid": "GENERAL", "msg": str(i)}) for i in range(6)
        ]
        assert all("result" in f for f in frames[:5])
        assert frames[5]["error"]["error"] == "too-many-requests"
        assert frames[5]["error"]["details"]["timeToReset"] > 0


async def test_bots_are_not_rate_limited(realtime: Realtime) -> None:
    """§7: the bot role holds send-many-messages."""
    bot = await realtime.user("robo", roles=["bot"])
    async with realtime.ddp(bot) as client:
        frames = [
            await client.call("sendMessage", {"rid": "GENERAL", "msg": str(i)}) for i in range(7)
        ]
        assert all("result" in f for f in frames)


# -- setReaction ----------------------------------------------------------------------------------


async def test_set_reaction_toggles(realtime: Realtime) -> None:
    """§8: setReaction(emoji, messageId) adds, and a second call removes, the reaction."""
    alice = await realtime.user("alice")
    message = await realtime.post(alice, "GENERAL", "like me")
    async with realtime.ddp(alice) as client:
        frame = await client.call("setReaction", ":smile:", message["_id"])
        assert nothing(frame)
        stored = realtime.state.messages[message["_id"]]
        assert stored["reactions"] == {":smile:": {"usernames": ["alice"]}}
        await client.call("setReaction", "smile", message["_id"])
        assert "reactions" not in stored


async def test_set_reaction_with_should_react_is_idempotent(realtime: Realtime) -> None:
    """§8: shouldReact true twice keeps one reaction."""
    alice = await realtime.user("alice")
    message = await realtime.post(alice, "GENERAL", "like me")
    async with realtime.ddp(alice) as client:
        await client.call("setReaction", ":smile:", message["_id"], True)
        await client.call("setReaction", ":smile:", message["_id"], True)
    assert realtime.state.messages[message["_id"]]["reactions"][":smile:"]["usernames"] == [
        "alice"
    ]


async def test_set_reaction_on_unknown_message_is_not_allowed(realtime: Realtime) -> None:
    """§8: unknown message → error-not-allowed 'Not allowed'."""
    alice = await realtime.user("alice")
    async with realtime.ddp(alice) as client:
        frame = await client.call("setReaction", ":smile:", "nope")
        assert frame["error"]["error"] == "error-not-allowed"
        assert frame["error"]["reason"] == "Not allowed"


async def test_set_reaction_with_invalid_emoji(realtime: Realtime) -> None:
    """§8: an emoji that cannot exist → error-not-allowed 'Invalid emoji provided.'"""
    alice = await realtime.user("alice")
    message = await realtime.post(alice, "GENERAL", "x")
    async with realtime.ddp(alice) as client:
        frame = await client.call("setReaction", ":not an emoji:", message["_id"])
        assert frame["error"]["reason"] == "Invalid emoji provided."


async def test_set_reaction_needs_a_login(realtime: Realtime) -> None:
    """§8: without a user → error-invalid-user."""
    async with realtime.ddp() as client:
        frame = await client.call("setReaction", ":smile:", "x")
        assert frame["error"] == invalid_user("setReaction")


# -- createDirectMessage --------------------------------------------------------------------------


async def test_create_direct_message_returns_the_dm(realtime: Realtime) -> None:
    """§7: createDirectMessage(username) → {t:'d', rid (sorted ids joined), usernames}."""
    alice, bob = await realtime.user("alice"), await realtime.user("bob")
    async with realtime.ddp(alice) as client:
        frame = await client.call("createDirectMessage", "bob")
        rid = "".join(sorted([alice.user_id, bob.user_id]))
        assert frame["result"] == {"t": "d", "rid": rid, "usernames": ["alice", "bob"]}
        again = await client.call("createDirectMessage", "bob")
        assert again["result"]["rid"] == rid


async def test_create_direct_message_with_unknown_user(realtime: Realtime) -> None:
    """§7: an unknown username → error-invalid-user."""
    alice = await realtime.user("alice")
    async with realtime.ddp(alice) as client:
        frame = await client.call("createDirectMessage", "ghost")
        assert frame["error"] == invalid_user("createDirectMessage")


async def test_create_direct_message_without_login_fails_its_check(realtime: Realtime) -> None:
    """§7: check(userId, String) comes first: without a user → Match failed."""
    async with realtime.ddp() as client:
        frame = await client.call("createDirectMessage", "bob")
        assert frame["error"] == MATCH_FAILED


async def test_create_direct_message_is_limited_to_ten_a_minute(realtime: Realtime) -> None:
    """§7: 10 per 60 s without send-many-messages."""
    alice = await realtime.user("alice")
    await realtime.user("bob")
    async with realtime.ddp(alice) as client:
        frames = [await client.call("createDirectMessage", "bob") for _ in range(11)]
        assert all("result" in f for f in frames[:10])
        assert frames[10]["error"]["error"] == "too-many-requests"


# -- rooms/get and subscriptions/get -------------------------------------------------------------


async def test_rooms_get_without_date_is_an_array(realtime: Realtime) -> None:
    """§7: rooms/get() → the user's rooms as an array."""
    alice = await realtime.user("alice")
    async with realtime.ddp(alice) as client:
        frame = await client.call("rooms/get")
        assert [room["_id"] for room in frame["result"]] == ["GENERAL"]


async def test_rooms_get_with_date_is_update_and_remove(realtime: Realtime) -> None:
    """§7: rooms/get({$date}) → {update: rooms changed since, remove: [...]}."""
    alice, bob = await realtime.user("alice"), await realtime.user("bob")
    since = now_ms() - 1
    rid = await realtime.dm(bob, alice)
    async with realtime.ddp(alice) as client:
        frame = await client.call("rooms/get", {"$date": since})
        assert set(frame["result"]) == {"update", "remove"}
        assert rid in [room["_id"] for room in frame["result"]["update"]]
        assert frame["result"]["remove"] == []


async def test_rooms_get_without_login_is_empty(realtime: Realtime) -> None:
    """§7: without login: []."""
    async with realtime.ddp() as client:
        assert (await client.call("rooms/get"))["result"] == []


async def test_subscriptions_get_without_date_is_an_array(realtime: Realtime) -> None:
    """§7: subscriptions/get() → the user's subscriptions as an array."""
    alice = await realtime.user("alice")
    async with realtime.ddp(alice) as client:
        (sub,) = (await client.call("subscriptions/get"))["result"]
        assert sub["rid"] == "GENERAL" and sub["u"]["_id"] == alice.user_id


async def test_subscriptions_get_with_date_is_update_and_remove(realtime: Realtime) -> None:
    """§7: subscriptions/get({$date}) → {update, remove}; older ones are left out."""
    alice, bob = await realtime.user("alice"), await realtime.user("bob")
    since = now_ms() + 1
    await asyncio.sleep(0.005)
    rid = await realtime.dm(bob, alice)
    async with realtime.ddp(alice) as client:
        frame = await client.call("subscriptions/get", {"$date": since})
        assert [sub["rid"] for sub in frame["result"]["update"]] == [rid]
        assert frame["result"]["remove"] == []


async def test_subscriptions_get_without_login_is_empty(realtime: Realtime) -> None:
    """§7: without login: []."""
    async with realtime.ddp() as client:
        assert (await client.call("subscriptions/get"))["result"] == []


# -- loadHistory ----------------------------------------------------------------------------------


async def test_load_history_returns_newest_first(realtime: Realtime) -> None:
    """§8: loadHistory(rid, end, limit) → {messages: newest first, unreadNotLoaded}."""
    alice = await realtime.user("alice")
    for text in ("one", "two", "three"):
        await realtime.post(alice, "GENERAL", text)
    async with realtime.ddp(alice) as client:
        frame = await client.call("loadHistory", "GENERAL", None, 2)
        result = frame["result"]
        assert [m["msg"] for m in result["messages"]] == ["three", "two"]
        assert result["unreadNotLoaded"] == 0 and "firstUnread" not in result


async def test_load_history_before_a_date(realtime: Realtime) -> None:
    """§8: `end` loads messages older than that date."""
    alice = await realtime.user("alice")
    first = await realtime.post(alice, "GENERAL", "first")
    await asyncio.sleep(0.002)  # distinct milliseconds
    second = await realtime.post(alice, "GENERAL", "second")
    stored = realtime.state.messages[second["_id"]]
    async with realtime.ddp(alice) as client:
        end = {"$date": int(stored["ts"].timestamp() * 1000)}
        frame = await client.call("loadHistory", "GENERAL", end, 10)
        ids = [m["_id"] for m in frame["result"]["messages"]]
        assert second["_id"] not in ids and first["_id"] in ids


async def test_load_history_counts_unread_not_loaded(realtime: Realtime) -> None:
    """§8: with `ls` older than the page, firstUnread and unreadNotLoaded are given."""
    alice = await realtime.user("alice")
    since = now_ms()
    await asyncio.sleep(0.005)
    sent = []
    for i in range(4):
        sent.append(await realtime.post(alice, "GENERAL", f"m{i}"))
        await asyncio.sleep(0.002)  # distinct milliseconds
    async with realtime.ddp(alice) as client:
        frame = await client.call("loadHistory", "GENERAL", None, 2, {"$date": since})
        result = frame["result"]
        assert [m["msg"] for m in result["messages"]] == ["m3", "m2"]
        assert result["firstUnread"]["_id"] == sent[0]["_id"]
        assert result["unreadNotLoaded"] == 2


async def test_load_history_of_inaccessible_room_is_false(realtime: Realtime) -> None:
    """§8: a room the user cannot access → false."""
    alice, bob, eve = [await realtime.user(n) for n in ("alice", "bob", "eve")]
    rid = await realtime.dm(alice, bob)
    async with realtime.ddp(eve) as client:
        assert (await client.call("loadHistory", rid))["result"] is False
        assert (await client.call("loadHistory", "NOPE"))["result"] is False


async def test_load_history_without_login_is_invalid_user(realtime: Realtime) -> None:
    """§8: anonymous read is off by default → error-invalid-user {method: loadHistory}."""
    async with realtime.ddp() as client:
        assert (await client.call("loadHistory", "GENERAL"))["error"] == invalid_user(
            "loadHistory"
        )


# -- deleteMessage, getUserRoles ---------------------------------------------------------------


async def test_delete_own_message(realtime: Realtime) -> None:
    """§7: deleteMessage({_id}) of one's own message: removed, room told deleteMessage."""
    alice = await realtime.user("alice")
    message = await realtime.post(alice, "GENERAL", "bye")
    async with realtime.ddp(alice) as client:
        await client.sub("stream-notify-room", "GENERAL/deleteMessage", False)
        frame = await client.call("deleteMessage", {"_id": message["_id"]})
        assert nothing(frame)
        assert await client.event("stream-notify-room", "GENERAL/deleteMessage") == [
            {"_id": message["_id"]}
        ]
    assert message["_id"] not in realtime.state.messages


async def test_delete_message_of_someone_else_is_not_allowed(realtime: Realtime) -> None:
    """§7: without delete-message → error-action-not-allowed 'Not allowed'."""
    alice, bob = await realtime.user("alice"), await realtime.user("bob")
    message = await realtime.post(bob, "GENERAL", "mine")
    async with realtime.ddp(alice) as client:
        frame = await client.call("deleteMessage", {"_id": message["_id"]})
        assert frame["error"]["error"] == "error-action-not-allowed"
        assert frame["error"]["reason"] == "Not allowed"


async def test_delete_message_needs_an_id(realtime: Realtime) -> None:
    """§7: check(message, ObjectIncluding({_id: String}))."""
    alice = await realtime.user("alice")
    async with realtime.ddp(alice) as client:
        assert (await client.call("deleteMessage", {}))["error"] == MATCH_FAILED


async def test_get_user_roles_lists_admins(realtime: Realtime) -> None:
    """getUserRoles → users holding described roles, {_id, username, roles}."""
    alice = await realtime.user("alice")
    async with realtime.ddp(alice) as client:
        frame = await client.call("getUserRoles")
        assert {"_id": realtime.admin.user_id, "username": "admin", "roles": ["admin"]} in [
            {**u, "roles": [r for r in u["roles"] if r == "admin"]} for u in frame["result"]
        ]
        assert all(u["username"] != "alice" for u in frame["result"])


async def test_get_user_roles_needs_a_login(realtime: Realtime) -> None:
    """getUserRoles without a user → error-invalid-user."""
    async with realtime.ddp() as client:
        assert (await client.call("getUserRoles"))["error"] == invalid_user("getUserRoles")


async def test_extra_method_params_are_ignored(realtime: Realtime) -> None:
    """§8: like JavaScript, a method ignores params beyond its own."""
    alice = await realtime.user("alice")
    async with realtime.ddp(alice) as client:
        frame = await client.call("rooms/get", None, "extra", 3)
        assert isinstance(frame["result"], list)


async def test_other_streams_cannot_be_written(realtime: Realtime) -> None:
    """§8: stream-room-messages / stream-notify-user writes are refused silently."""
    alice = await realtime.user("alice")
    async with realtime.ddp(alice) as client:
        await client.sub("stream-room-messages", "GENERAL", False)
        await client.sub("stream-notify-user", f"{alice.user_id}/message", False)
        await client.call("stream-room-messages", "GENERAL", {"msg": "forged"})
        await client.call("stream-notify-user", f"{alice.user_id}/message", {"msg": "forged"})
        await client.expect_none(lambda f: f.get("msg") == "changed")
