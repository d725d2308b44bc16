"""DDP frames at /websocket (reference §8): handshake, heartbeat, errors, methods, subs."""

from __future__ import annotations

import asyncio
import json
import time

from sandbox.ddp import DdpOptions
from tests.ddp_client import Realtime

INTERNAL = {
    "isClientSafe": True,
    "error": 500,
    "reason": "Internal server error",
    "message": "Internal server error [500]",
    "errorType": "Meteor.Error",
}
MATCH_FAILED = {
    "isClientSafe": True,
    "error": 400,
    "reason": "Match failed",
    "message": "Match failed [400]",
    "errorType": "Meteor.Error",
}
NOT_ALLOWED = {
    "isClientSafe": True,
    "error": "not-allowed",
    "message": "[not-allowed]",
    "errorType": "Meteor.Error",
}


# -- handshake ----------------------------------------------------------------------------------


async def test_server_id_is_the_first_frame(realtime: Realtime) -> None:
    """§8: the monolith first sends {"server_id":"0"}, before any connect."""
    async with realtime.ddp(connect=False) as client:
        await client.next()
        assert client.raw[0] == '{"server_id":"0"}'


async def test_connect_is_answered_with_connected_and_a_session_id(realtime: Realtime) -> None:
    """§8: connect {version 1, support [1, pre2, pre1]} → {"msg":"connected","session":id}."""
    async with realtime.ddp(connect=False) as client:
        await client.expect(server_id="0")
        await client.send({"msg": "connect", "version": "1", "support": ["1", "pre2", "pre1"]})
        frame = await client.next()
        assert set(frame) == {"msg", "session"}
        assert frame["msg"] == "connected"
        assert isinstance(frame["session"], str) and len(frame["session"]) == 17


async def test_unsupported_version_gets_failed_and_the_socket_closes(realtime: Realtime) -> None:
    """§8: an unsupported version → {"msg":"failed","version":"1"}, then the server closes."""
    async with realtime.ddp(connect=False) as client:
        await client.expect(server_id="0")
        await client.send({"msg": "connect", "version": "2", "support": ["2"]})
        assert await client.next() == {"msg": "failed", "version": "1"}
        assert await client.closed() is not None


async def test_version_missing_from_support_gets_failed(realtime: Realtime) -> None:
    """§8: a connect whose version is not in its own support list is refused."""
    async with realtime.ddp(connect=False) as client:
        await client.send({"msg": "connect", "version": "1", "support": ["pre2"]})
        assert await client.expect(msg="failed") == {"msg": "failed", "version": "1"}


async def test_client_proposing_a_worse_version_is_told_the_best_one(realtime: Realtime) -> None:
    """§8 (Meteor calculateVersion): version pre2 while supporting 1 → failed with version 1."""
    async with realtime.ddp(connect=False) as client:
        await client.send({"msg": "connect", "version": "pre2", "support": ["1", "pre2"]})
        assert await client.expect(msg="failed") == {"msg": "failed", "version": "1"}


async def test_first_frame_that_is_not_connect_gets_must_connect_first(realtime: Realtime) -> None:
    """§8: before connect, any frame gets the monolith's "Must connect first" error."""
    async with realtime.ddp(connect=False) as client:
        frame = {"msg": "method", "method": "rooms/get", "params": [], "id": "1"}
        await client.send(frame)
        assert await client.expect(msg="error") == {
            "msg": "error",
            "reason": "Must connect first",
            "offendingMessage": frame,
        }
        await client.connect()  # the socket is still usable


async def test_second_connect_gets_already_connected(realtime: Realtime) -> None:
    """§8: a second connect on a session is an error, the session stays."""
    async with realtime.ddp() as client:
        frame = {"msg": "connect", "version": "1", "support": ["1"]}
        await client.send(frame)
        assert await client.expect(msg="error") == {
            "msg": "error",
            "reason": "Already connected",
            "offendingMessage": frame,
        }


# -- heartbeat ----------------------------------------------------------------------------------


async def test_ping_with_id_gets_pong_with_the_same_id(realtime: Realtime) -> None:
    """§8: {"msg":"ping","id":"x"} → {"msg":"pong","id":"x"}."""
    async with realtime.ddp() as client:
        await client.send({"msg": "ping", "id": "x"})
        assert await client.expect(msg="pong") == {"msg": "pong", "id": "x"}


async def test_ping_without_id_gets_pong_without_id(realtime: Realtime) -> None:
    """§8: {"msg":"ping"} → {"msg":"pong"}."""
    async with realtime.ddp() as client:
        await client.send({"msg": "ping"})
        assert await client.expect(msg="pong") == {"msg": "pong"}
        assert client.raw[-1] == '{"msg":"pong"}'


async def test_server_pings_an_idle_connection(realtime: Realtime) -> None:
    """§8: after the heartbeat interval without input the server sends {"msg":"ping"}."""
    realtime.set_ddp_options(heartbeat_interval=0.1, heartbeat_timeout=1.0)
    async with realtime.ddp(auto_pong=False) as client:
        frame = await client.expect(msg="ping", timeout=1.0)
        assert frame == {"msg": "ping"}


async def test_connection_that_never_answers_pings_is_closed(realtime: Realtime) -> None:
    """§8: no input for interval + timeout → the server closes the socket."""
    realtime.set_ddp_options(heartbeat_interval=0.1, heartbeat_timeout=0.1)
    async with realtime.ddp(auto_pong=False) as client:
        await client.expect(msg="ping", timeout=1.0)
        assert await client.closed(timeout=1.0) == 1000


async def test_answered_pings_keep_the_connection_open(realtime: Realtime) -> None:
    """§8: a client answering pong stays connected past several heartbeats."""
    realtime.set_ddp_options(heartbeat_interval=0.05, heartbeat_timeout=0.1)
    async with realtime.ddp(auto_pong=True) as client:
        await asyncio.sleep(0.4)
        await client.send({"msg": "ping", "id": "still"})
        assert await client.expect(msg="pong", id="still") == {"msg": "pong", "id": "still"}
        assert sum(1 for f in client.frames if f == {"msg": "ping"}) >= 2


async def test_server_answers_pong_to_its_own_ping_silently(realtime: Realtime) -> None:
    """§8: a pong is never answered (it only proves the client is alive)."""
    async with realtime.ddp() as client:
        await client.send({"msg": "pong"})
        await client.send({"msg": "pong", "id": "p"})
        await client.expect_none(lambda f: True, within=0.2)


# -- malformed input ----------------------------------------------------------------------------


async def test_malformed_json_gets_bad_request_and_the_session_survives(
    realtime: Realtime,
) -> None:
    """§8: unparsable text → {"msg":"error","reason":"Bad request"}; the session goes on."""
    async with realtime.ddp() as client:
        await client.send("{not json")
        assert await client.expect(msg="error") == {"msg": "error", "reason": "Bad request"}
        await client.send({"msg": "ping", "id": "after"})
        assert await client.expect(msg="pong") == {"msg": "pong", "id": "after"}


async def test_non_object_frames_get_bad_request_without_offending_message(
    realtime: Realtime,
) -> None:
    """§8: JSON that is not an object (number, string, null) → Bad request, nothing echoed."""
    async with realtime.ddp() as client:
        for text in ("42", '"hello"', "null", "true"):
            await client.send(text)
            assert await client.expect(msg="error") == {"msg": "error", "reason": "Bad request"}


async def test_array_and_msg_less_object_are_echoed_as_offending_message(
    realtime: Realtime,
) -> None:
    """§8: an array or an object without `msg` → Bad request with offendingMessage."""
    async with realtime.ddp() as client:
        await client.send("[1,2]")
        assert await client.expect(msg="error") == {
            "msg": "error",
            "reason": "Bad request",
            "offendingMessage": [1, 2],
        }
        await client.send({"hello": "world"})
        assert await client.expect(msg="error") == {
            "msg": "error",
            "reason": "Bad request",
            "offendingMessage": {"hello": "world"},
        }


async def test_unknown_message_type_gets_bad_request(realtime: Realtime) -> None:
    """§8: an unknown `msg` after connect → Bad request with the frame."""
    async with realtime.ddp() as client:
        await client.send({"msg": "dance", "id": "1"})
        assert await client.expect(msg="error") == {
            "msg": "error",
            "reason": "Bad request",
            "offendingMessage": {"msg": "dance", "id": "1"},
        }


async def test_binary_frame_gets_bad_request(realtime: Realtime) -> None:
    """§8: DDP is text; a binary frame is not a DDP message."""
    async with realtime.ddp() as client:
        await client.ws.send_bytes(b'{"msg":"ping"}')
        assert await client.expect(msg="error") == {"msg": "error", "reason": "Bad request"}


async def test_method_with_non_string_id_is_malformed(realtime: Realtime) -> None:
    """§8: a method frame with a non-string id → "Malformed method invocation"."""
    async with realtime.ddp() as client:
        frame = {"msg": "method", "method": "rooms/get", "params": [], "id": 7}
        await client.send(frame)
        assert await client.expect(msg="error") == {
            "msg": "error",
            "reason": "Malformed method invocation",
            "offendingMessage": frame,
        }


async def test_method_with_non_array_params_is_malformed(realtime: Realtime) -> None:
    """§8: params must be an array."""
    async with realtime.ddp() as client:
        frame = {"msg": "method", "method": "rooms/get", "params": {"a": 1}, "id": "1"}
        await client.send(frame)
        error = await client.expect(msg="error")
        assert error["reason"] == "Malformed method invocation"


async def test_sub_without_name_is_malformed(realtime: Realtime) -> None:
    """§8: a sub frame needs string id and name → "Malformed subscription"."""
    async with realtime.ddp() as client:
        frame = {"msg": "sub", "id": "s1"}
        await client.send(frame)
        assert await client.expect(msg="error") == {
            "msg": "error",
            "reason": "Malformed subscription",
            "offendingMessage": frame,
        }


async def test_oversized_frame_closes_only_that_connection(realtime: Realtime) -> None:
    """§8: a frame over the size limit closes that socket (1009); others keep working."""
    realtime.set_ddp_options(max_message_bytes=4096)
    async with realtime.ddp() as big, realtime.ddp() as other:
        await big.send({"msg": "ping", "id": "x" * 10_000})
        assert await big.closed() == 1009
        await other.send({"msg": "ping", "id": "fine"})
        assert await other.expect(msg="pong") == {"msg": "pong", "id": "fine"}


# -- methods ------------------------------------------------------------------------------------


async def test_method_gets_updated_and_result(realtime: Realtime) -> None:
    """§8: method → {"msg":"updated","methods":[id]} and {"msg":"result","id":id,"result":…}."""
    async with realtime.ddp() as client:
        await client.send({"msg": "method", "method": "rooms/get", "params": [], "id": "m1"})
        updated = await client.expect(msg="updated")
        result = await client.expect(msg="result")
        assert updated == {"msg": "updated", "methods": ["m1"]}
        assert result == {"msg": "result", "id": "m1", "result": []}


async def test_unknown_method_is_a_404_error(realtime: Realtime) -> None:
    """§8: unknown method → 404 "Method '<name>' not found", then updated."""
    async with realtime.ddp() as client:
        frame = await client.call("no/such/method")
        assert frame == {
            "msg": "result",
            "id": frame["id"],
            "error": {
                "isClientSafe": True,
                "error": 404,
                "reason": "Method 'no/such/method' not found",
                "message": "Method 'no/such/method' not found [404]",
                "errorType": "Meteor.Error",
            },
        }


async def test_exception_that_is_not_a_meteor_error_is_500(realtime: Realtime) -> None:
    """§8: a crash inside a method (stream write without an event name) → 500."""
    async with realtime.ddp() as client:
        frame = await client.call("stream-notify-room")
        assert frame["error"] == INTERNAL


async def test_check_failure_is_400_match_failed(realtime: Realtime) -> None:
    """§8: a meteor/check failure reaches the client as the sanitized 400 "Match failed"."""
    async with realtime.ddp() as client:
        frame = await client.call("loadHistory", 42)
        assert frame["error"] == MATCH_FAILED


async def test_method_result_without_value_has_no_result_field(realtime: Realtime) -> None:
    """§8: a method returning nothing → {"msg":"result","id":id} only."""
    user = await realtime.user("typist")
    async with realtime.ddp(user) as client:
        frame = await client.call("stream-notify-room", "GENERAL/user-activity", "typist", [], {})
        assert frame == {"msg": "result", "id": frame["id"]}


async def test_dates_travel_as_ejson(realtime: Realtime) -> None:
    """§8: dates are {"$date": ms} both ways (a client ts comes back as sent)."""
    user = await realtime.user("clock")
    async with realtime.ddp(user) as client:
        stamp = int(time.time() * 1000) - 2000
        frame = await client.call(
            "sendMessage", {"rid": "GENERAL", "msg": "t", "ts": {"$date": stamp}}
        )
        assert frame["result"]["ts"] == {"$date": stamp}
        assert set(frame["result"]["_updatedAt"]) == {"$date"}
        raw = next(r for r in client.raw if '"msg":"result"' in r and '"t"' in r)
        assert f'"ts":{{"$date":{stamp}}}' in raw


# -- subscriptions ------------------------------------------------------------------------------


async def test_sub_gets_ready(realtime: Realtime) -> None:
    """§8: sub → {"msg":"ready","subs":[id]}."""
    async with realtime.ddp() as client:
        frame = await client.sub(
            "stream-room-messages",
            "__my_messages__",
            {"useCollection": False, "args": []},
            sub_id="s1",
        )
        assert frame == {"msg": "ready", "subs": ["s1"]}


async def test_bare_false_is_accepted_as_options(realtime: Realtime) -> None:
    """§8: the second param may be a bare `false`."""
    async with realtime.ddp() as client:
        frame = await client.sub("stream-room-messages", "__my_messages__", False, sub_id="s2")
        assert frame == {"msg": "ready", "subs": ["s2"]}


async def test_unknown_publication_gets_nosub_404(realtime: Realtime) -> None:
    """§8: sub to a publication that does not exist → nosub with a 404 error."""
    async with realtime.ddp() as client:
        frame = await client.sub("stream-nothing", "x", False, sub_id="s3")
        assert frame == {
            "msg": "nosub",
            "id": "s3",
            "error": {
                "isClientSafe": True,
                "error": 404,
                "reason": "Subscription 'stream-nothing' not found",
                "message": "Subscription 'stream-nothing' not found [404]",
                "errorType": "Meteor.Error",
            },
        }


async def test_read_denied_gets_nosub_not_allowed(realtime: Realtime) -> None:
    """§8: a stream the user may not read → nosub with error not-allowed."""
    async with realtime.ddp() as client:
        frame = await client.sub("stream-notify-user", "someone/message", False, sub_id="s4")
        assert frame == {"msg": "nosub", "id": "s4", "error": NOT_ALLOWED}


async def test_empty_event_name_is_invalid_event_name(realtime: Realtime) -> None:
    """§8 (streamer): an empty event name → nosub invalid-event-name."""
    async with realtime.ddp() as client:
        frame = await client.sub("stream-notify-all", "", False, sub_id="s5")
        assert frame["msg"] == "nosub"
        assert frame["error"]["error"] == "invalid-event-name"


async def test_sub_without_params_is_a_500(realtime: Realtime) -> None:
    """§8: a stream sub without an event name crashes the publication → nosub 500."""
    async with realtime.ddp() as client:
        frame = await client.sub("stream-notify-all", sub_id="s6")
        assert frame == {"msg": "nosub", "id": "s6", "error": INTERNAL}


async def test_unsub_gets_nosub(realtime: Realtime) -> None:
    """§8: {"msg":"unsub","id":…} → {"msg":"nosub","id":…} (also for an unknown id)."""
    async with realtime.ddp() as client:
        await client.sub("stream-room-messages", "__my_messages__", False, sub_id="s7")
        await client.send({"msg": "unsub", "id": "s7"})
        assert await client.expect(msg="nosub") == {"msg": "nosub", "id": "s7"}
        await client.send({"msg": "unsub", "id": "never"})
        assert await client.expect(msg="nosub") == {"msg": "nosub", "id": "never"}


async def test_repeated_sub_id_is_ignored(realtime: Realtime) -> None:
    """§8 (Meteor): a sub whose id is already active gets no second ready."""
    async with realtime.ddp() as client:
        await client.sub("stream-room-messages", "__my_messages__", False, sub_id="dup")
        await client.send(
            {
                "msg": "sub",
                "id": "dup",
                "name": "stream-room-messages",
                "params": ["__my_messages__", False],
            }
        )
        await client.expect_none(lambda f: f.get("msg") in ("ready", "nosub"), within=0.2)


async def test_use_collection_sends_added_before_ready(realtime: Realtime) -> None:
    """§8: useCollection:true → {"msg":"added","collection":"stream-…","id":"id",…} then ready."""
    async with realtime.ddp() as client:
        await client.send(
            {
                "msg": "sub",
                "id": "c1",
                "name": "stream-room-messages",
                "params": ["__my_messages__", {"useCollection": True, "args": []}],
            }
        )
        added = await client.next()
        ready = await client.next()
        assert added == {
            "msg": "added",
            "collection": "stream-room-messages",
            "id": "id",
            "fields": {"eventName": "__my_messages__"},
        }
        assert ready == {"msg": "ready", "subs": ["c1"]}


async def test_login_reruns_subscriptions(realtime: Realtime) -> None:
    """§8 (Meteor _setUserId): logging in re-runs live subs, which get `ready` again."""
    user = await realtime.user("rerun")
    async with realtime.ddp() as client:
        await client.sub("stream-room-messages", "__my_messages__", False, sub_id="r1")
        await client.login_resume(user.token)
        assert {"msg": "ready", "subs": ["r1"]} in client.frames


async def test_logout_ends_subscriptions_the_user_may_no_longer_read(realtime: Realtime) -> None:
    """§8: after logout, a user-only stream sub is stopped with nosub not-allowed."""
    user = await realtime.user("leaver")
    async with realtime.ddp(user) as client:
        await client.sub("stream-notify-user", f"{user.user_id}/message", False, sub_id="u1")
        await client.call("logout")
        assert {"msg": "nosub", "id": "u1", "error": NOT_ALLOWED} in client.frames


async def test_frames_are_compact_json(realtime: Realtime) -> None:
    """§8: frames are plain JSON text, as Meteor's stringifyDDP writes them."""
    async with realtime.ddp() as client:
        await client.send({"msg": "ping", "id": "a"})
        await client.expect(msg="pong")
        assert all(json.loads(raw) is not None and ": " not in raw for raw in client.raw)


async def test_absurdly_deep_frame_is_refused_and_the_session_survives(realtime: Realtime) -> None:
    """§8: input the parser cannot take (nesting far past any real frame) → Bad request."""
    async with realtime.ddp() as client:
        await client.send("[" * 200_000 + "]" * 200_000)
        assert await client.expect(msg="error") == {"msg": "error", "reason": "Bad request"}
        await client.send({"msg": "ping", "id": "ok"})
        assert await client.expect(msg="pong") == {"msg": "pong", "id": "ok"}


def test_heartbeat_defaults_are_meteors() -> None:
    """§8: Meteor pings after 15 s idle and gives up 15 s later; faye's 64 MiB frame limit."""
    options = DdpOptions()
    assert (options.heartbeat_interval, options.heartbeat_timeout) == (15.0, 15.0)
    assert options.max_message_bytes == 2**26 - 1
