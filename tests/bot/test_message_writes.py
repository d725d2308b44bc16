"""A command's settlement is written with its message's handled record, on both backends, and
the sender's lock stays held until then (bot.storage.message_writes, bot.profile.locks)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest

from bot.core.crypto import generate_key
from bot.core.message import IncomingMessage, RoomType
from bot.profile.locks import PersonLocks
from bot.storage.automation import AutomationStore, UndoPoint
from bot.storage.handled import HandledMessages
from bot.storage.message_writes import collecting
from bot.storage.store import Store

AT = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)
CAUSE = "command /nick"


@pytest.fixture
async def store(store_location: str) -> AsyncIterator[Store]:
    async with await Store.open(store_location, secret_key=generate_key()) as opened:
        yield opened


def message(number: int, sender: str = "alice-id") -> IncomingMessage:
    return IncomingMessage(
        id=f"m{number}",
        room_id="dm-alice",
        room_type=RoomType.DIRECT,
        text="/nick Second",
        sender_id=sender,
        sender_username="alice",
    )


async def settle(automation: AutomationStore, message_id: str, new: str) -> None:
    """What bot.profile.bookkeeping does once a nickname change went through."""
    changes = [{"field": "nickname", "old": "First", "new": new}]
    await automation.intend(
        message_id, at=AT, user_id="alice-id", username="alice", changes=changes, cause=CAUSE
    )
    await automation.settle(
        user_id="alice-id",
        username="alice",
        at=AT,
        changes=changes,
        cause=CAUSE,
        message_id=message_id,
        undo=UndoPoint("alice-id", {"nickname": ("First", new)}, CAUSE, AT),
        drop_undo=False,
        cancel_reverts=["profile"],
    )


async def on_disk(store: Store, message_id: str) -> tuple[int | None, bool, bool]:
    """(the audit entry's pending flag, is there an undo point, is the message handled: with
    replicas its row exists from the claim on, and is handled once the claim is gone)."""
    async with store.reading() as db:
        entry = await db.fetchone(
            "SELECT pending FROM audit_log WHERE message_id = ?", (message_id,)
        )
        undo = await db.fetchone("SELECT 1 FROM undo_points WHERE user_id = 'alice-id'")
        handled = await db.fetchone(
            "SELECT 1 FROM handled_messages WHERE message_id = ? AND claimed_by IS NULL",
            (message_id,),
        )
    pending = int(entry[0]) if entry is not None else None
    return pending, undo is not None, handled is not None


async def test_the_settlement_is_written_with_the_handled_record(store: Store) -> None:
    automation = AutomationStore(store)
    handled = HandledMessages(store, window=3600)
    first = message(1)
    await handled.claim(first, None)
    with collecting(first.id, first.sender_id) as writes:
        await settle(automation, first.id, "Second")
        # Written ahead, not yet settled: a kill now runs the command again after the restart.
        assert await on_disk(store, first.id) == (1, False, False)
    await handled.finished(first, writes.close())
    assert await on_disk(store, first.id) == (0, True, True)


async def test_a_settlement_outside_its_messages_run_is_written_at_once(store: Store) -> None:
    automation = AutomationStore(store)
    await settle(automation, "m1", "Second")  # no run: a replayed flow, a test, a tool
    assert await on_disk(store, "m1") == (0, True, False)

    with collecting("m2", "alice-id"):
        await settle(automation, "m3", "Third")  # another message's change
        assert await on_disk(store, "m3") == (0, True, False)
        # A task the run starts is not the run: its writes go at once.
        await asyncio.create_task(settle(automation, "m2", "Fourth"))
        assert await on_disk(store, "m2") == (0, True, False)


async def test_the_senders_lock_is_kept_until_the_record_and_taken_again_freely() -> None:
    locks = PersonLocks()
    order: list[str] = []

    async def rule_for(user_id: str) -> None:
        async with locks.hold(user_id):
            order.append(f"rule {user_id}")

    with collecting("m1", "alice-id") as writes:
        async with locks.hold("alice-id"):
            order.append("change")
        waiting = asyncio.create_task(rule_for("alice-id"))
        async with locks.hold("alice-id"):  # a second change of the same run: no deadlock
            order.append("second change")
        async with locks.hold("bob-id"):  # someone else's lock is not kept
            pass
        await rule_for("bob-id")
        await asyncio.sleep(0.01)
        assert not waiting.done()  # the rule waits for the settlement of the run
    await asyncio.sleep(0.01)
    assert not waiting.done()
    writes.close()
    writes.release()  # the handled record is written
    await asyncio.wait_for(waiting, 1)
    assert order == ["change", "second change", "rule bob-id", "rule alice-id"]
