"""The unmodified rocketchat-async client against the sandbox (issue 2, reference §8).

It connects, logs in (password digest, and resume), subscribes to a room and to rooms-changed,
and sends and receives messages, reactions and typing events.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from rocketchat_async import RocketChat

from tests.ddp_client import Realtime


def ws_url(realtime: Realtime) -> str:
    return realtime.url.replace("http", "ws", 1) + "/websocket"


@asynccontextmanager
async def client(
    realtime: Realtime, username: str, secret: str, *, resume: bool = False
) -> AsyncIterator[RocketChat]:
    """A started RocketChat client, stopped afterwards."""
    rc = RocketChat()
    if resume:
        await rc.resume(ws_url(realtime), username, secret)
    else:
        await rc.start(ws_url(realtime), username, secret)
    try:
        yield rc
    finally:
        rc._ws_connection_task.cancel()
        await asyncio.gather(rc._ws_connection_task, return_exceptions=True)


async def until(condition: Callable[[], Any], timeout: float = 2.0) -> None:
    """Poll briefly until `condition()` holds."""
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.01)


async def test_password_login_room_messages_and_rooms_changed(realtime: Realtime) -> None:
    """The client logs in by digest, hears a room and rooms-changed, and sends messages."""
    alice, bob = await realtime.user("alice"), await realtime.user("bob")
    async with client(realtime, "alice", alice.password) as rc:
        assert rc.user_id == alice.user_id
        heard: list[tuple[Any, ...]] = []
        changes: list[tuple[Any, ...]] = []
        await rc.subscribe_to_channel_messages("GENERAL", lambda *a: heard.append(a))
        await rc.subscribe_to_channel_changes(lambda *a: changes.append(a))
        assert await rc.get_channels() == [("GENERAL", "c")]

        await rc.send_message("hello from the client", "GENERAL")
        await realtime.post(bob, "GENERAL", "hello alice")
        await until(lambda: len(heard) >= 2)
        own, other = heard[0], heard[1]
        assert (
            own[0] == "GENERAL" and own[1] == alice.user_id and own[4] == "hello from the client"
        )
        assert other[1] == bob.user_id and other[4] == "hello alice"
        assert other[5] is None  # qualifier: no `t` for normal text
        await until(lambda: ("GENERAL", "c") in changes)

        stored = realtime.state.messages[own[2]]
        assert stored["msg"] == "hello from the client" and stored["rid"] == "GENERAL"


async def test_resume_login_and_dm(realtime: Realtime) -> None:
    """The client resumes with a token and sees a new DM through rooms-changed."""
    alice, bob = await realtime.user("alice"), await realtime.user("bob")
    async with client(realtime, "alice", alice.token, resume=True) as rc:
        assert rc.user_id == alice.user_id
        changes: list[tuple[Any, ...]] = []
        await rc.subscribe_to_channel_changes(lambda *a: changes.append(a))
        rid = await realtime.dm(bob, alice)
        await until(lambda: (rid, "d") in changes)
        heard: list[tuple[Any, ...]] = []
        await rc.subscribe_to_channel_messages(rid, lambda *a: heard.append(a))
        await realtime.post(bob, rid, "private hello")
        await until(lambda: bool(heard))
        assert heard[0][4] == "private hello"
        await rc.send_message("private answer", rid)  # waits for the method's result
        reply = await realtime.rest("GET", "im.history", bob, params={"roomId": rid})
        assert [m["msg"] for m in reply.body["messages"]] == ["private answer", "private hello"]


async def test_thread_reply_reaction_and_typing(realtime: Realtime) -> None:
    """Thread replies carry tmid; reactions re-send the message; typing reaches others."""
    alice, bob = await realtime.user("alice"), await realtime.user("bob")
    async with (
        client(realtime, "alice", alice.password) as rc_alice,
        client(realtime, "bob", bob.password) as rc_bob,
    ):
        heard: list[tuple[Any, ...]] = []
        await rc_alice.subscribe_to_channel_messages("GENERAL", lambda *a: heard.append(a))
        parent = await realtime.post(bob, "GENERAL", "start")
        await until(lambda: any(h[2] == parent["_id"] for h in heard))

        await rc_bob.send_message("in thread", "GENERAL", thread_id=parent["_id"])
        await until(lambda: any(h[3] == parent["_id"] for h in heard))

        await rc_bob.send_reaction(parent["_id"], ":thumbsup:")
        await until(
            lambda: ":thumbsup:" in realtime.state.messages[parent["_id"]].get("reactions", {})
        )
        resent = [h for h in heard if h[2] == parent["_id"]]
        await until(lambda: any(h[7] for h in heard if h[2] == parent["_id"]))
        assert len(resent) >= 2

        async with realtime.ddp(alice) as watcher:
            await watcher.sub("stream-notify-room", "GENERAL/user-activity", False)
            await rc_bob.send_typing_event("GENERAL")
            args = await watcher.event("stream-notify-room", "GENERAL/user-activity")
            assert args == ["bob", ["user-typing"], {}]


async def test_wrong_password_is_refused(realtime: Realtime) -> None:
    """A bad password makes the client's login raise with Rocket.Chat's reason."""
    await realtime.user("alice")
    rc = RocketChat()
    try:
        await rc.start(ws_url(realtime), "alice", "wrong-password")
    except RuntimeError as exc:
        assert str(exc)
    else:  # pragma: no cover - the login must fail
        raise AssertionError("login with a wrong password succeeded")
    finally:
        rc._ws_connection_task.cancel()
        await asyncio.gather(rc._ws_connection_task, return_exceptions=True)
