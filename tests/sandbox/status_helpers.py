"""Helpers for the status tests: REST calls, a connected user, dates on the sandbox clock."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

from sandbox.state import iso
from tests.rest_helpers import Reply
from tests.sandbox.conftest import Account, DdpClient, World


async def set_status(world: World, account: Account, body: Any) -> Reply:
    return await world.call("POST", "users.setStatus", auth=account.auth, json=body)


async def get_status(world: World, account: Account, **params: str) -> Reply:
    return await world.call("GET", "users.getStatus", auth=account.auth, params=params)


async def update(world: World, account: Account, data: dict[str, Any]) -> Reply:
    return await world.call(
        "POST", "users.updateOwnBasicInfo", auth=account.auth, json={"data": data}
    )


def later(world: World, seconds: float) -> str:
    """An ISO date `seconds` after the sandbox's now, at JavaScript's millisecond precision."""
    return iso(world.state.clock() + timedelta(seconds=seconds))


@asynccontextmanager
async def connected(world: World, account: Account) -> AsyncIterator[DdpClient]:
    """`account` logged in over DDP (its presence is then online) for the block."""
    async with DdpClient.connect(world.http, world.url) as client:
        await client.login(account.token)
        yield client


@asynccontextmanager
async def watching_status(world: World, account: Account) -> AsyncIterator[DdpClient]:
    """`account` connected and subscribed to stream-notify-logged `user-status`."""
    async with connected(world, account) as client:
        ready = await client.subscribe_frame("stream-notify-logged", "user-status", False)
        assert ready["msg"] == "ready", ready
        yield client


async def next_status_event(
    client: DdpClient, user_id: str, code: int, text: Any = ...
) -> list[Any]:
    """The next `user-status` payload for `user_id` with status code `code` (0-3) and, when
    given, status text `text` (events already received count: pick them precisely)."""
    args = await client.event(
        "stream-notify-logged",
        "user-status",
        lambda a: a[0][0] == user_id and a[0][2] == code and (text is ... or a[0][3] == text),
    )
    return list(args[0])
