"""The pieces behind reliability, one by one: the handled-message record and its marks, the
reconnect backoff, server times, and the sandbox's fault endpoints."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import aiohttp
import pytest
from aiohttp import web

from bot.app.runner import reconnect_delay
from bot.core.credentials import Credentials
from bot.core.crypto import generate_key
from bot.core.errors import ServerError
from bot.core.message import IncomingMessage, RoomType
from bot.rocketchat.frames import server_time
from bot.rocketchat.rest import RestClient
from bot.storage.handled import MARK_SLACK_MS, Claim, HandledMessages
from bot.storage.store import Store
from sandbox import serve
from tests.conftest import ADMIN_ENV

NOW = 1_800_000_000.0  # epoch seconds
HOUR = 3600.0


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> float:
        return self.now


def message(message_id: str, room: str = "R1") -> IncomingMessage:
    return IncomingMessage(
        id=message_id,
        room_id=room,
        room_type=RoomType.CHANNEL,
        text="/help",
        sender_id="u1",
        sender_username="alice",
    )


def ms(seconds_ago: float) -> float:
    return (NOW - seconds_ago) * 1000


@pytest.fixture
async def store_path(store_location: str) -> AsyncIterator[tuple[str, str]]:
    """The ledger's contract holds on both backends (claims in memory on SQLite, in the
    database on PostgreSQL)."""
    yield store_location, generate_key()


async def test_a_finished_message_is_not_new_even_after_a_restart(
    store_path: tuple[str, str],
) -> None:
    path, key = store_path
    clock = Clock()
    async with await Store.open(path, secret_key=key) as store:
        handled = HandledMessages(store, window=HOUR, clock=clock)
        await handled.start()
        first = message("m1")
        assert await handled.claim(first, ms(5)) is Claim.MINE
        assert await handled.claim(first, ms(5)) is Claim.TAKEN  # in flight
        await handled.finished(first)
        assert await handled.claim(first, ms(5)) is Claim.TAKEN
    async with await Store.open(path, secret_key=key) as store:
        again = HandledMessages(store, window=HOUR, clock=clock)
        assert await again.claim(first, ms(5)) is Claim.TAKEN
        assert await again.claim(message("m2"), ms(4)) is Claim.MINE


async def test_a_message_older_than_the_window_is_not_acted_on(
    store_path: tuple[str, str],
) -> None:
    path, key = store_path
    async with await Store.open(path, secret_key=key) as store:
        handled = HandledMessages(store, window=HOUR, clock=Clock())
        assert await handled.claim(message("old"), ms(HOUR + 1)) is Claim.TAKEN
        assert await handled.claim(message("recent"), ms(HOUR - 1)) is Claim.MINE
        assert await handled.claim(message("no time"), None) is Claim.MINE


async def test_the_mark_never_passes_a_message_still_in_flight(
    store_path: tuple[str, str],
) -> None:
    path, key = store_path
    clock = Clock()
    async with await Store.open(path, secret_key=key) as store:
        handled = HandledMessages(store, window=HOUR, clock=clock)
        await handled.start()
        slow, fast, other_room = message("slow"), message("fast"), message("x", room="R2")
        assert await handled.claim(slow, ms(30)) is Claim.MINE
        assert await handled.claim(fast, ms(20)) is Claim.MINE
        assert await handled.claim(other_room, ms(10)) is Claim.MINE
        await handled.finished(fast)
        await handled.finished(other_room)
        since = await handled.since()
        assert since("R1") == ms(30) - 1 - MARK_SLACK_MS  # still before the slow one
        assert since("R2") == ms(10) - MARK_SLACK_MS
        await handled.finished(slow)
        since = await handled.since()
        assert since("R1") == ms(20) - MARK_SLACK_MS
        assert since("a room never seen") == NOW * 1000  # from when the bot first listened


async def test_catch_up_never_reaches_back_beyond_the_window(
    store_path: tuple[str, str],
) -> None:
    path, key = store_path
    clock = Clock()
    async with await Store.open(path, secret_key=key) as store:
        handled = HandledMessages(store, window=HOUR, clock=clock)
        await handled.start()
        clock.now += 5 * HOUR  # the bot was down for five hours
        since = await handled.since()
        assert since("R1") == (clock.now - HOUR) * 1000


async def test_old_ids_are_pruned_and_recent_ones_kept(store_path: tuple[str, str]) -> None:
    path, key = store_path
    clock = Clock()
    async with await Store.open(path, secret_key=key) as store:
        handled = HandledMessages(store, window=HOUR, clock=clock)
        for name in ("a", "b"):
            assert await handled.claim(message(name), ms(1)) is Claim.MINE
            await handled.finished(message(name))
        clock.now += 2 * HOUR + 1
        assert await handled.claim(message("c"), (clock.now - 1) * 1000) is Claim.MINE
        await handled.finished(message("c"))
        assert await handled.prune() == 2
        assert await handled.claim(message("c"), (clock.now - 1) * 1000) is Claim.TAKEN


def test_reconnect_delay_doubles_from_the_first_up_to_the_cap_with_jitter() -> None:
    delays = [reconnect_delay(n, first=0.5, cap=30, jitter=1.0) for n in range(9)]
    assert delays == [0.5, 1, 2, 4, 8, 16, 30, 30, 30]
    assert reconnect_delay(3, first=0.5, cap=30, jitter=0.0) == 2.0  # half, at the least
    assert reconnect_delay(10_000, first=0.5, cap=30, jitter=0.5) == 22.5  # no overflow


def test_server_times_from_ddp_and_rest_agree() -> None:
    assert server_time({"$date": 1_700_000_000_123}) == 1_700_000_000_123
    assert server_time("2023-11-14T22:13:20.123Z") == 1_700_000_000_123
    assert server_time(None) is None and server_time("yesterday") is None


async def test_a_profile_change_is_never_repeated_by_the_rest_client() -> None:
    """A 5xx may come from a proxy while Rocket.Chat goes on with the request, so the client
    sends a change once and says its outcome is unknown; bot.profile.service reads back before it sends
    anything again (tests/faults/test_late_requests.py). Reads are still retried."""
    sent: list[dict[str, object]] = []

    async def handler(request: web.Request) -> web.Response:
        sent.append(await request.json())
        return web.Response(status=503, text="busy")

    app = web.Application()
    app.router.add_post("/api/v1/users.updateOwnBasicInfo", handler)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    credentials = Credentials("u1", "t")
    try:

        async def no_sleep(_: float) -> None:
            return None

        async with RestClient(f"http://127.0.0.1:{port}", max_attempts=3, sleep=no_sleep) as rest:
            with pytest.raises(ServerError, match="503") as raised:
                await rest.update_own_basic_info(credentials, data={"nickname": "N"})
            assert len(sent) == 1 and raised.value.may_have_applied
            sent.clear()
            with pytest.raises(ServerError, match="503"):
                await rest.update_own_basic_info(
                    credentials, data={"newPassword": "x", "currentPassword": "y"}
                )
            assert len(sent) == 1
    finally:
        await runner.cleanup()


# -- the sandbox's fault endpoints ----------------------------------------------------------


@pytest.fixture
async def sandbox() -> AsyncIterator[str]:
    async with serve("127.0.0.1", 0, environ=ADMIN_ENV) as url:
        yield url


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        ({"status": 503}, "exactly one of endpoint"),
        ({"endpoint": "me", "method": "login", "status": 503}, "exactly one of endpoint"),
        ({"endpoint": "me", "status": 404}, "429 or a 5xx"),
        ({"endpoint": "me"}, "a status, an error or a delay"),
        ({"endpoint": "me", "status": 503, "count": 0}, "count must be"),
        ({"endpoint": "me", "error": "too-many-requests"}, "error is for DDP"),
        ({"method": "noSuchMethod", "error": "x"}, "no DDP method"),
        ({"endpoint": "me", "status": 503, "user": "nobody"}, "no user"),
    ],
)
async def test_a_bad_fault_is_refused_with_the_reason(
    sandbox: str, body: dict[str, object], problem: str
) -> None:
    async with (
        aiohttp.ClientSession() as http,
        http.post(f"{sandbox}/sandbox/faults", json=body) as reply,
    ):
        assert reply.status == 400
        assert problem in (await reply.json())["error"]


async def test_faults_spoil_only_the_calls_they_match_then_disarm(sandbox: str) -> None:
    async with aiohttp.ClientSession() as http:
        for fault in (
            {"endpoint": "info", "status": 429, "reset_ms": 2000},
            {"endpoint": "info", "status": 503},
        ):
            async with http.post(f"{sandbox}/sandbox/faults", json=fault) as reply:
                assert reply.status == 200
        async with http.get(f"{sandbox}/api/v1/info") as reply:
            assert reply.status == 429
            assert reply.headers["X-RateLimit-Remaining"] == "0"
            assert "You must wait 2 seconds" in (await reply.json())["error"]
        async with http.get(f"{sandbox}/api/v1/info") as reply:
            assert reply.status == 503 and reply.content_type == "text/html"
        async with http.get(f"{sandbox}/api/v1/info") as reply:
            assert reply.status == 200  # both used up: Rocket.Chat's own answer again
        async with http.get(f"{sandbox}/sandbox/faults") as reply:
            assert [f["fired"] for f in (await reply.json())["faults"]] == [1, 1]
        async with http.delete(f"{sandbox}/sandbox/faults") as reply:
            assert reply.status == 200
        async with http.get(f"{sandbox}/sandbox/faults") as reply:
            assert (await reply.json())["faults"] == []


async def test_messages_finishing_together_are_all_recorded_with_the_newest_mark(
    store_path: tuple[str, str],
) -> None:
    path, key = store_path
    clock = Clock()
    async with await Store.open(path, secret_key=key) as store:
        handled = HandledMessages(store, window=HOUR, clock=clock)
        await handled.start()
        batch = [message(f"m{index}") for index in range(50)]
        for index, item in enumerate(batch):
            assert await handled.claim(item, ms(100 - index)) is Claim.MINE
        await asyncio.gather(*(handled.finished(item) for item in batch))
        for item in batch:
            assert await handled.claim(item, ms(1)) is Claim.TAKEN
        since = await handled.since()
        # Each mark was computed while the others were still in flight: it may stay back at
        # the oldest of the batch, never beyond the newest (the ledger turns repeats away).
        assert ms(100) - 1 - MARK_SLACK_MS <= since("R1") <= ms(100 - 49) - MARK_SLACK_MS
    async with await Store.open(path, secret_key=key) as store:
        again = HandledMessages(store, window=HOUR, clock=clock)
        assert all([await again.claim(item, ms(1)) is Claim.TAKEN for item in batch])
