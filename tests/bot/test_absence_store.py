"""The out-of-office tables' contract, on both backends (SQLite and PostgreSQL): one absence
per person, state changes that one caller wins, the digest's messages, one auto-reply per
sender however many replicas try, and the display-name choice."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from bot.core.crypto import generate_key
from bot.storage.absences import Absence, AbsenceStore, NotedMessage
from bot.storage.store import Store

START = datetime(2026, 12, 20, tzinfo=UTC)
NOW = START.timestamp()
LEASE = 15.0


@pytest.fixture
async def absences(store_location: str) -> AsyncIterator[AbsenceStore]:
    async with await Store.open(store_location, secret_key=generate_key()) as store:
        yield AbsenceStore(store)


def absence(absence_id: str = "A1", user_id: str = "u1", **changes: object) -> Absence:
    base = Absence(
        absence_id=absence_id,
        user_id=user_id,
        username=f"user-{user_id}",
        state="scheduled",
        starts_at=START,
        ends_at=START + timedelta(days=7),
        note="Skiing, back on the 28th",
        zone="Europe/Berlin",
        name_suffix=True,
        created_at=START - timedelta(days=1),
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def noted(message_id: str, ts: float, sender: str = "s1") -> NotedMessage:
    return NotedMessage(
        message_id=message_id,
        room_id="R1",
        room_kind="direct",
        room_name=None,
        thread_id=None,
        sender_id=sender,
        sender_username=f"name-{sender}",
        ts=ts,
    )


async def test_an_absence_round_trips_and_replaces_the_persons_earlier_one(
    absences: AbsenceStore,
) -> None:
    first = absence()
    await absences.replace(first)
    assert await absences.get("A1") == first
    assert await absences.of_user("u1") == first
    await absences.note("A1", noted("m1", 1.0))
    second = absence("A2", note="Conference")
    await absences.replace(second)
    assert await absences.get("A1") is None
    assert await absences.of_user("u1") == second
    assert await absences.noted("A1") == []
    assert [a.absence_id for a in await absences.all()] == ["A2"]


async def test_a_state_change_is_won_once(absences: AbsenceStore) -> None:
    await absences.replace(absence())
    results = await asyncio.gather(
        *(absences.advance("A1", from_states=["scheduled"], to="starting") for _ in range(4))
    )
    assert sorted(results) == [False, False, False, True]
    assert not await absences.advance("A1", from_states=["scheduled"], to="active")
    assert await absences.advance("A1", from_states=["starting"], to="active")
    found = await absences.get("A1")
    assert found is not None and found.state == "active"


async def test_the_end_moves_until_the_absence_is_ending(absences: AbsenceStore) -> None:
    await absences.replace(absence(state="active"))
    later = START + timedelta(days=10)
    assert await absences.change_end("A1", ends_at=later, note="longer")
    found = await absences.get("A1")
    assert found is not None and found.ends_at == later and found.note == "longer"
    await absences.advance("A1", from_states=["active"], to="ending")
    assert not await absences.change_end("A1", ends_at=START, note="x")


async def test_the_anchor_is_set_once_and_the_mark_only_goes_forward(
    absences: AbsenceStore,
) -> None:
    await absences.replace(absence())
    assert await absences.anchor("A1", 1000.0) == 1000.0
    assert await absences.anchor("A1", 5000.0) == 1000.0
    await absences.mark("A1", 3000.0)
    await absences.mark("A1", 2000.0)
    found = await absences.get("A1")
    assert found is not None and (found.anchor_ms, found.mark_ms) == (1000.0, 3000.0)


async def test_noted_messages_come_oldest_first_once_each(absences: AbsenceStore) -> None:
    await absences.replace(absence())
    assert await absences.note("A1", noted("m2", 20.0))
    assert await absences.note("A1", noted("m1", 10.0))
    assert not await absences.note("A1", noted("m1", 10.0))
    assert [m.message_id for m in await absences.noted("A1")] == ["m1", "m2"]
    await absences.forget("A1")
    assert await absences.noted("A1") == [] and await absences.get("A1") is None


async def test_one_auto_reply_per_sender_across_replicas(absences: AbsenceStore) -> None:
    await absences.replace(absence())
    claims = await asyncio.gather(
        *(
            absences.claim_reply("A1", "s1", owner=f"replica-{n}", now=NOW, lease=LEASE)
            for n in range(3)
        )
    )
    assert sum(claims) == 1
    winner = f"replica-{claims.index(True)}"
    assert not await absences.claim_reply("A1", "s1", owner="late", now=NOW + 1, lease=LEASE)
    await absences.reply_sent("A1", "s1")
    assert not await absences.claim_reply("A1", "s1", owner=winner, now=NOW + 99, lease=LEASE)
    assert await absences.replied_to("A1") == 1


async def test_a_failed_or_abandoned_reply_may_be_tried_again(absences: AbsenceStore) -> None:
    await absences.replace(absence())
    assert await absences.claim_reply("A1", "s1", owner="r1", now=NOW, lease=LEASE)
    await absences.release_reply("A1", "s1", owner="r2")  # not theirs: nothing happens
    assert not await absences.claim_reply("A1", "s1", owner="r2", now=NOW, lease=LEASE)
    await absences.release_reply("A1", "s1", owner="r1")
    assert await absences.claim_reply("A1", "s1", owner="r2", now=NOW, lease=LEASE)
    # r2 dies before sending: once its lease ran out, another replica takes the reply over
    assert await absences.claim_reply("A1", "s1", owner="r3", now=NOW + LEASE + 1, lease=LEASE)
    assert await absences.replied_to("A1") == 0


async def test_the_name_suffix_choice_is_remembered(absences: AbsenceStore) -> None:
    assert not await absences.wants_name_suffix("u1")
    await absences.choose_name_suffix("u1", True)
    assert await absences.wants_name_suffix("u1")
    await absences.choose_name_suffix("u1", False)
    assert not await absences.wants_name_suffix("u1")
