"""A burst of changes starts from what Rocket.Chat last returned instead of reading each time,
and never at the cost of a wrong answer: "already so" is always checked with a fresh read, and
only the fields a command sets are sent, so a change made elsewhere meanwhile is kept.

`GET me` calls are counted by the sandbox: a fault with a tiny delay on `me` for one user fires
once per call and otherwise lets the call run.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path
from typing import Any

from bot.app.runner import ProfileBot
from bot.core.crypto import generate_key
from bot.profile.service import ProfileService
from bot.rocketchat.rest import RestClient
from bot.storage.store import Store
from sandbox import serve
from sandbox.people import Person, create_account
from tests.e2e.conftest import PASSWORD, ask_bot, delegate, open_workspace
from tests.rest_helpers import sandbox_call


class Workspace:
    """A sandbox with the bot running on the given settings, and one person who delegated."""

    def __init__(self, url: str, person: Person) -> None:
        self.url = url
        self.person = person

    async def faults(self, method: str, body: Any = None) -> dict[str, Any]:
        """The sandbox's fault endpoint (`/sandbox/faults`): arm, list or clear faults."""
        return await sandbox_call(self.url, method, "/sandbox/faults", body)

    async def count_reads(self) -> None:
        """From now on, count the person's `GET me` calls."""
        await self.faults("DELETE")
        fault = {"endpoint": "me", "user": self.person.username, "delay": 0.001, "count": 1000}
        await self.faults("POST", fault)

    async def reads(self) -> int:
        """`GET me` calls made with the person's credentials since `count_reads`."""
        faults = (await self.faults("GET"))["faults"]
        return sum(int(fault["fired"]) for fault in faults if fault.get("endpoint") == "me")


@asynccontextmanager
async def workspace(tmp_path: Path, **settings: Any) -> AsyncIterator[Workspace]:
    async with AsyncExitStack() as stack:
        url, admin, bot_settings = await open_workspace(stack, tmp_path, {}, **settings)
        bot = await stack.enter_async_context(ProfileBot(bot_settings))
        bot.start()
        await create_account(admin, "alice", PASSWORD)
        alice = await stack.enter_async_context(Person(url, "alice", PASSWORD))
        assert "stored" in await delegate(alice)
        yield Workspace(url, alice)


async def set_elsewhere(person: Person, **data: str) -> None:
    """Change the person's profile as the Rocket.Chat client would, without the bot."""
    await person.rest("POST", "users.updateOwnBasicInfo", json={"data": data})


async def test_a_burst_of_changes_needs_no_read_after_the_token_was_checked(
    tmp_path: Path,
) -> None:
    # `/token set` read the profile to check the token a moment ago: that answer is the start.
    async with workspace(tmp_path) as space:
        await space.count_reads()
        assert "Ali" in await ask_bot(space.person, "/nick Ali")
        assert "Reads a lot" in await ask_bot(space.person, "/bio Reads a lot")
        assert "away" in await ask_bot(space.person, "/status away Lunch")
        assert "Bob" in await ask_bot(space.person, "/nick Bob")
        user = await space.person.profile()
        assert user["nickname"] == "Bob"
        assert (user["bio"], user["statusText"]) == ("Reads a lot", "Lunch")
        assert await space.reads() == 0


async def test_with_snapshots_off_every_change_reads_first(tmp_path: Path) -> None:
    async with workspace(tmp_path, profile_snapshot_seconds=0) as space:
        await space.count_reads()
        await ask_bot(space.person, "/nick Ali")
        await ask_bot(space.person, "/bio Reads a lot")
        await ask_bot(space.person, "/status away")
        assert await space.reads() == 3


async def test_a_snapshot_is_trusted_only_for_its_window(tmp_path: Path) -> None:
    async with workspace(tmp_path, profile_snapshot_seconds=0.5) as space:
        await space.count_reads()
        await asyncio.sleep(0.6)  # the token's check is too old now
        await ask_bot(space.person, "/nick Ali")
        await ask_bot(space.person, "/bio One")  # within the window
        assert await space.reads() == 1
        await asyncio.sleep(0.6)
        await set_elsewhere(space.person, bio="Two")
        await ask_bot(space.person, "/bio Three")
        assert await space.reads() == 2  # the snapshot was too old: read again
        await ask_bot(space.person, "/undo")
        assert (await space.person.profile())["bio"] == "Two"  # what it replaced, as read


async def test_already_so_is_checked_with_a_fresh_read(tmp_path: Path) -> None:
    async with workspace(tmp_path) as space:
        await ask_bot(space.person, "/nick Ali")
        await set_elsewhere(space.person, nickname="Changed in the client")
        answer = await ask_bot(space.person, "/nick Ali")
        assert "already" not in answer
        assert (await space.person.profile())["nickname"] == "Ali"
        assert "already" in await ask_bot(space.person, "/nick Ali")


async def test_a_temporary_status_puts_back_what_is_there_now_not_a_snapshot(
    tmp_path: Path,
) -> None:
    async with workspace(tmp_path) as space:
        await ask_bot(space.person, "/status online Working")
        await set_elsewhere(space.person, statusText="In a meeting")
        reply = await ask_bot(space.person, "/status away Lunch for 1h")
        assert "In a meeting" in reply and "Working" not in reply, reply


async def test_a_change_made_elsewhere_meanwhile_is_kept(tmp_path: Path) -> None:
    async with workspace(tmp_path) as space:
        await ask_bot(space.person, "/nick Ali")
        await set_elsewhere(space.person, bio="Written in the client")
        await ask_bot(space.person, "/nick Bob")
        user = await space.person.profile()
        assert (user["nickname"], user["bio"]) == ("Bob", "Written in the client")
        assert "Written in the client" in await ask_bot(space.person, "/profile")


async def test_a_failed_change_forgets_the_snapshot(tmp_path: Path) -> None:
    async with workspace(tmp_path, retry_attempts=1, in_doubt_wait=0) as space:
        await ask_bot(space.person, "/nick Ali")
        await space.count_reads()
        fault = {"endpoint": "users.updateOwnBasicInfo", "status": 503, "count": 1}
        await space.faults("POST", fault)
        assert "try again" in await ask_bot(space.person, "/nick Bob")
        assert (await space.person.profile())["nickname"] == "Ali"
        assert "Bob" in await ask_bot(space.person, "/nick Bob")
        assert await space.reads() == 1  # the failure left nothing to trust


async def test_commands_in_flight_together_read_the_workspace_settings_once(
    tmp_path: Path,
) -> None:
    async with AsyncExitStack() as stack:
        url = await stack.enter_async_context(serve("127.0.0.1", 0))
        store = await stack.enter_async_context(
            await Store.open(tmp_path / "bot.db", secret_key=generate_key())
        )
        rest = await stack.enter_async_context(RestClient(url))
        service = ProfileService(store, rest)
        fault = {"endpoint": "settings.public", "delay": 0.05, "count": 100}
        await sandbox_call(url, "POST", "/sandbox/faults", fault)
        answers = await asyncio.gather(*(service.workspace_settings() for _ in range(20)))
        faults = (await sandbox_call(url, "GET", "/sandbox/faults"))["faults"]
        assert all(answer == answers[0] for answer in answers)
        assert "Accounts_AllowUserProfileChange" in answers[0]
        assert [fault["fired"] for fault in faults] == [1]
