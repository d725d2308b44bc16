"""The shared DDP client (sandbox/ddp_client.py) against the sandbox over a real websocket.

Person, the benchmark's ChatUser and the tests' frame clients all build on it, so what they rely
on is pinned here: answers reach the call that asked, frames nobody waited for are kept only
when asked to, a password login sends the SHA-256 digest, and a dropped socket fails callers.
"""

from __future__ import annotations

import asyncio

import pytest

from sandbox.ddp_client import DdpClient, DdpFailure
from tests.ddp_client import Realtime
from tests.rest_helpers import sandbox_call


async def test_concurrent_calls_each_get_their_own_answer(realtime: Realtime) -> None:
    alice = await realtime.user("alice")
    async with DdpClient().opened(realtime.http, realtime.url) as client:
        await client.handshake()
        await client.call("login", {"resume": alice.token})
        rooms, subscriptions, missing = await asyncio.gather(
            client.call("rooms/get"),
            client.call("subscriptions/get"),
            client.call_frame("no-such-method"),
        )
    assert {room["_id"] for room in rooms} == {"GENERAL"}
    assert [sub["rid"] for sub in subscriptions] == ["GENERAL"]
    assert missing["error"]["error"] == 404


async def test_an_error_answer_raises_ddp_failure_with_the_error(realtime: Realtime) -> None:
    async with DdpClient().opened(realtime.http, realtime.url) as client:
        await client.handshake()
        with pytest.raises(DdpFailure) as failure:
            await client.call("login", {"resume": "not-a-token"})
    assert failure.value.error["error"] == 403


async def test_a_password_login_sends_the_digest_the_server_accepts(realtime: Realtime) -> None:
    alice = await realtime.user("alice")
    async with DdpClient().opened(realtime.http, realtime.url) as client:
        await client.handshake()
        frame = await client.login_password("alice", alice.password)
        wrong = await client.login_password("alice", "not-her-password")
    assert frame["result"]["id"] == alice.user_id
    assert wrong["error"]["error"] == 403


async def test_frames_nobody_waited_for_are_kept_only_when_asked(realtime: Realtime) -> None:
    async with (
        DdpClient(keep_frames=True).opened(realtime.http, realtime.url) as keeping,
        DdpClient().opened(realtime.http, realtime.url) as dropping,
    ):
        for client in (keeping, dropping):
            await client.handshake()
            await client.call("rooms/get")  # its `updated` frame is waited for by nobody
        kept = await keeping.wait_for(lambda frame: frame.get("msg") == "updated")
        assert kept["msg"] == "updated"
        with pytest.raises(TimeoutError):
            await dropping.wait_for(lambda frame: frame.get("msg") == "updated", timeout=0.3)


async def test_a_predicate_that_cannot_read_a_frame_fails_its_own_wait(realtime: Realtime) -> None:
    async with DdpClient().opened(realtime.http, realtime.url) as client:
        await client.handshake()
        waiting = asyncio.ensure_future(client.wait_for(lambda frame: frame["no-such-field"]))
        await asyncio.sleep(0)  # the wait is registered before the next frame comes
        await client.call("rooms/get")  # its `updated` frame is offered to the wait
        with pytest.raises(KeyError):
            await waiting
        assert await client.call("rooms/get") == []  # the reader goes on


async def test_a_dropped_socket_fails_calls_at_once(realtime: Realtime) -> None:
    alice = await realtime.user("alice")
    async with DdpClient(timeout=30.0).opened(realtime.http, realtime.url) as client:
        await client.handshake()
        await client.call("login", {"resume": alice.token})
        await sandbox_call(realtime.url, "POST", "/sandbox/drop-websockets", {"user": "alice"})
        assert await client.closed(timeout=5.0) == 1001
        with pytest.raises(ConnectionError):
            await client.call("rooms/get")
