"""The benchmark's workspace: its accounts and settings, the two targets, and the people.

What the server's own limits would otherwise measure, and how the benchmark stays clear of them:
the REST limiter (per client IP and endpoint: every change goes out from one address) is off
(`API_Enable_Rate_Limiter=false`); `sendMessage` is limited to 5 a second per user without
`send-many-messages`, which the benchmark grants to the `user` role (permissions.update); status
*texts* are limited to 5 a minute per user, which the plans respect (bench/load/plan.py).
Meteor's general DDP limits are switched off too, for a server that enforces them.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import tempfile
import time
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import aiohttp

from bench.client import ChatUser
from bench.proc import Child
from sandbox.people import create_account

ADMIN_NAME: Final = "benchadmin"
ADMIN_PASSWORD: Final = "Bench-admin-pass-1"
BOT_NAME: Final = "profilebot"
BASELINE_NAME: Final = "barebot"
TARGET_PASSWORD: Final = "Bench-bot-pass-1"
USER_PASSWORD: Final = "Bench-user-pass-1"
PROBE_NAME: Final = "benchprobe"
SETUP_CONCURRENCY: Final = 16
PROBE_INTERVAL_SECONDS: Final = 0.05
READY_TIMEOUT_SECONDS: Final = 30.0

# What an admin sets on the workspace for this benchmark (see the module docstring).
WORKSPACE_ENV: Final = {
    "ADMIN_USERNAME": ADMIN_NAME,
    "ADMIN_PASS": ADMIN_PASSWORD,
    "ADMIN_EMAIL": "benchadmin@example.com",
    "SANDBOX_BCRYPT_ROUNDS": "4",  # only logins and setup hash passwords; keeps setup short
    "OVERWRITE_SETTING_API_Enable_Rate_Limiter": "false",
    "OVERWRITE_SETTING_Message_AllowUnrecognizedSlashCommand": "true",
    "OVERWRITE_SETTING_DDP_Rate_Limit_IP_Enabled": "false",
    "OVERWRITE_SETTING_DDP_Rate_Limit_User_Enabled": "false",
    "OVERWRITE_SETTING_DDP_Rate_Limit_Connection_Enabled": "false",
    "OVERWRITE_SETTING_DDP_Rate_Limit_User_By_Method_Enabled": "false",
}


@dataclass(frozen=True)
class Target:
    """What a phase measures: the bot or the baseline, how to probe it and how it answers."""

    name: str
    account: str
    probe_text: str
    delegated_reply: str


BOT = Target("bot", BOT_NAME, "/help", "Thanks")
BASELINE = Target("baseline", BASELINE_NAME, "ping", "Token stored")


def new_http_session() -> aiohttp.ClientSession:
    """The load generator's one HTTP session: no cap on connections (N users talk at once)."""
    return aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0))


async def grant_send_many_messages(admin: ChatUser) -> None:
    """Let ordinary users send faster than 5 messages a second (the benchmark's people type
    fast)."""
    listed = await admin.rest("GET", "permissions.listAll")
    roles: list[str] = next(
        (p.get("roles", []) for p in listed["update"] if p["_id"] == "send-many-messages"), []
    )
    await admin.rest(
        "POST",
        "permissions.update",
        json={"permissions": [{"_id": "send-many-messages", "roles": sorted({*roles, "user"})}]},
    )


async def wait_until_answered(
    user: ChatUser, target_account: str, child: Child, text: Callable[[int], str]
) -> float:
    """Say `text(k)` in the DM with the target every PROBE_INTERVAL until it answers one;
    returns the seconds from the child's start to that answer."""
    room_id = await user.direct_room(target_account)
    user.forget_heard(room_id)
    deadline = time.perf_counter() + READY_TIMEOUT_SECONDS
    for attempt in itertools.count():
        if child.process.returncode is not None:
            raise RuntimeError(f"{child.name} exited early:\n{child.log_tail()}")
        if time.perf_counter() > deadline:
            raise RuntimeError(f"{child.name} did not answer within {READY_TIMEOUT_SECONDS} s")
        await user.say(room_id, text(attempt))
        with contextlib.suppress(TimeoutError):
            arrived, _ = await user.next_message(room_id, PROBE_INTERVAL_SECONDS)
            return arrived - child.started
    raise AssertionError("unreachable")


def username_of(index: int) -> str:
    """The benchmark's name for its `index`-th person."""
    return f"load{index:05d}"


async def join_users(
    stack: AsyncExitStack,
    http: aiohttp.ClientSession,
    admin: ChatUser,
    count: int,
    target: Target,
    timeout: float,
) -> list[tuple[ChatUser, str]]:
    """Create `count` users, log them in, and have each delegate a fresh token to the target;
    returns each user with the id of their DM with the target."""
    slots = asyncio.Semaphore(SETUP_CONCURRENCY)

    async def join(index: int) -> tuple[ChatUser, str]:
        username = username_of(index)
        async with slots:
            await create_account(admin, username, USER_PASSWORD, roles=["user"])
            user = ChatUser(http, admin.base_url, username, USER_PASSWORD)
            await stack.enter_async_context(user)
            token = await user.create_personal_access_token("bench")
            room_id = await user.direct_room(target.account)
            await user.say(room_id, f"/token set {token}")
            _, answer = await user.next_message(room_id, timeout)
            if not str(answer["msg"]).startswith(target.delegated_reply):
                raise RuntimeError(f"{username} could not delegate a token: {answer['msg']!r}")
            return user, room_id

    return list(await asyncio.gather(*(join(index) for index in range(count))))


async def in_work_folder(
    keep: Path | None,
    prefix: str,
    timeout: float,
    run: Callable[[Path], Awaitable[dict[str, Any]]],
) -> dict[str, Any]:
    """`run(folder)` within `timeout` seconds, in `keep` (left in place) or a temporary folder."""
    if keep is not None:
        keep.mkdir(parents=True, exist_ok=True)
        async with asyncio.timeout(timeout):
            return await run(keep.resolve())
    with tempfile.TemporaryDirectory(prefix=prefix) as folder:
        async with asyncio.timeout(timeout):
            return await run(Path(folder))
