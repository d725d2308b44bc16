"""Status snapshots kept exact by the realtime API beyond their window, and never a wrong
"before": a status changed elsewhere (the person's other client, the admin, while the bot was
disconnected) is what `/undo` puts back.

Rocket.Chat announces every change of someone's shown status or status text on
stream-notify-logged `user-status` (apps/meteor/server/modules/listeners/listeners.module.ts,
from Presence.setStatus in ee/packages/presence/src/Presence.ts and
apps/meteor/app/lib/server/functions/setStatusText.ts). The snapshot window here is 0.5 s, so
a short sleep makes a snapshot older than it; another person's change (bob's) is the server's
proof that it announces presence changes. `GET me` calls are counted by the sandbox (a fault
with a tiny delay on `me` for one user).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bot.app.runner import ProfileBot
from sandbox.people import Person, create_account
from tests.e2e.conftest import PASSWORD, ask_bot, delegate, open_workspace
from tests.rest_helpers import sandbox_call

WINDOW = 0.5


@dataclass
class Space:
    url: str
    admin: Person
    alice: Person
    bob: Person

    async def count_reads(self, person: Person) -> None:
        """From now on, count `person`'s `GET me` calls."""
        await sandbox_call(self.url, "DELETE", "/sandbox/faults")
        fault = {"endpoint": "me", "user": person.username, "delay": 0.001, "count": 1000}
        await sandbox_call(self.url, "POST", "/sandbox/faults", fault)

    async def reads(self) -> int:
        faults = (await sandbox_call(self.url, "GET", "/sandbox/faults"))["faults"]
        return sum(int(fault["fired"]) for fault in faults if fault.get("endpoint") == "me")

    async def past_the_window(self) -> None:
        """Let every snapshot grow older than its window, then have the bot change bob's
        presence: its announcement is the proof that presence changes are announced."""
        await asyncio.sleep(WINDOW + 0.1)
        shown = (await self.bob.profile())["status"]
        await ask_bot(self.bob, "/status busy" if shown != "busy" else "/status online")


@asynccontextmanager
async def space(tmp_path: Path, **settings: Any) -> AsyncIterator[Space]:
    async with AsyncExitStack() as stack:
        url, admin, bot_settings = await open_workspace(
            stack, tmp_path, {}, profile_snapshot_seconds=WINDOW, **settings
        )
        bot = await stack.enter_async_context(ProfileBot(bot_settings))
        bot.start()
        people = []
        for name in ("alice", "bob"):
            await create_account(admin, name, PASSWORD)
            person = await stack.enter_async_context(Person(url, name, PASSWORD))
            assert "stored" in await delegate(person)
            people.append(person)
        yield Space(url, admin, *people)


async def status_of(person: Person) -> tuple[str, str]:
    user = await person.profile()
    return str(user.get("statusDefault") or user["status"]), str(user.get("statusText") or "")


async def test_a_status_change_past_the_window_starts_from_what_was_announced(
    tmp_path: Path,
) -> None:
    async with space(tmp_path) as s:
        await s.past_the_window()
        await s.count_reads(s.alice)
        assert "away" in await ask_bot(s.alice, "/status away Lunch")
        assert await s.reads() == 0
        await ask_bot(s.alice, "/undo")
        assert await status_of(s.alice) == ("online", "")


async def test_a_status_chosen_in_another_client_is_what_undo_puts_back(tmp_path: Path) -> None:
    async with space(tmp_path) as s:
        # `busy` shown means busy was chosen: the announcement says it all, no read needed.
        await s.alice.rest(
            "POST", "users.setStatus", json={"status": "busy", "message": "In a meeting"}
        )
        await s.past_the_window()
        await s.count_reads(s.alice)
        await ask_bot(s.alice, "/status away Lunch")
        assert await s.reads() == 0
        await ask_bot(s.alice, "/undo")
        assert await status_of(s.alice) == ("busy", "In a meeting")


async def test_an_away_status_set_elsewhere_is_read_before_the_next_change(
    tmp_path: Path,
) -> None:
    async with space(tmp_path) as s:
        # `away` shown may be the connection's idle state: the presence chosen is unknown.
        await s.alice.rest(
            "POST", "users.setStatus", json={"status": "away", "message": "Back soon"}
        )
        await s.past_the_window()
        await s.count_reads(s.alice)
        await ask_bot(s.alice, "/status busy Focus")
        assert await s.reads() == 1
        await ask_bot(s.alice, "/undo")
        assert await status_of(s.alice) == ("away", "Back soon")


async def test_a_status_text_the_admin_set_is_what_undo_puts_back(tmp_path: Path) -> None:
    async with space(tmp_path) as s:
        await s.admin.rest(
            "POST",
            "users.setStatus",
            json={"userId": s.alice.user_id, "status": "online", "message": "Set by the admin"},
        )
        await s.past_the_window()
        await ask_bot(s.alice, "/status away Lunch")
        await ask_bot(s.alice, "/undo")
        assert await status_of(s.alice) == ("online", "Set by the admin")


async def test_after_a_reconnect_a_status_changed_meanwhile_is_read(tmp_path: Path) -> None:
    async with space(tmp_path, reconnect_delay_min=0.5) as s:
        await s.past_the_window()
        await sandbox_call(s.url, "POST", "/sandbox/drop-websockets", {"user": "profilebot"})
        # The bot is away for at least 0.25 s: this change is announced to nobody it hears.
        await s.alice.rest(
            "POST", "users.setStatus", json={"status": "online", "message": "During the outage"}
        )
        await s.past_the_window()  # answered once the bot is back; proves the new connection
        await s.count_reads(s.alice)
        await ask_bot(s.alice, "/status away Lunch")
        assert await s.reads() == 1
        await ask_bot(s.alice, "/undo")
        assert await status_of(s.alice) == ("online", "During the outage")


async def test_a_bio_past_the_window_is_still_read_first(tmp_path: Path) -> None:
    # Rocket.Chat announces no bio change to the bot: only the window vouches for it.
    async with space(tmp_path) as s:
        await s.alice.rest("POST", "users.updateOwnBasicInfo", json={"data": {"bio": "Mine"}})
        await s.past_the_window()
        await s.count_reads(s.alice)
        await ask_bot(s.alice, "/bio Written by the bot")
        assert await s.reads() == 1
        await ask_bot(s.alice, "/undo")
        assert (await s.alice.profile())["bio"] == "Mine"
