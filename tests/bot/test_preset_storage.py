"""The preset store's contract on both backends (SQLite and PostgreSQL): personal presets,
recent statuses, and the list a person was shown last."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from bot.core.crypto import generate_key
from bot.storage.presets import PresetStore, SavedStatus, StoredPreset
from bot.storage.store import Store

START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
LUNCH = SavedStatus("away", "At lunch ☕", for_seconds=3600)
MEETING = SavedStatus("busy", "In a meeting", until_time="17:30")
FOCUS = SavedStatus("busy", "Focusing")


@pytest.fixture
async def presets(store_location: str) -> AsyncIterator[PresetStore]:
    async with await Store.open(store_location, secret_key=generate_key()) as store:
        yield PresetStore(store)


async def test_a_preset_is_saved_listed_by_name_and_replaced_ignoring_case(
    presets: PresetStore,
) -> None:
    assert await presets.presets("alice-id") == []
    assert await presets.save_preset("alice-id", "lunch", LUNCH, at=START, limit=20) == "added"
    assert await presets.save_preset("alice-id", "Focus", FOCUS, at=START, limit=20) == "added"
    assert await presets.save_preset("bob-id", "lunch", MEETING, at=START, limit=20) == "added"
    assert await presets.presets("alice-id") == [
        StoredPreset("Focus", FOCUS),
        StoredPreset("lunch", LUNCH),
    ]

    later = START + timedelta(hours=1)
    assert await presets.save_preset("alice-id", "LUNCH", MEETING, at=later, limit=20) == (
        "replaced"
    )
    assert await presets.presets("alice-id") == [
        StoredPreset("Focus", FOCUS),
        StoredPreset("LUNCH", MEETING),
    ]
    assert await presets.presets("bob-id") == [StoredPreset("lunch", MEETING)]


async def test_a_new_preset_beyond_the_limit_is_refused_but_one_can_be_replaced(
    presets: PresetStore,
) -> None:
    for name in ("a", "b"):
        assert await presets.save_preset("alice-id", name, FOCUS, at=START, limit=2) == "added"
    assert await presets.save_preset("alice-id", "c", FOCUS, at=START, limit=2) == "full"
    assert [p.name for p in await presets.presets("alice-id")] == ["a", "b"]
    assert await presets.save_preset("alice-id", "B", LUNCH, at=START, limit=2) == "replaced"
    assert await presets.save_preset("bob-id", "c", FOCUS, at=START, limit=2) == "added"


async def test_a_preset_is_deleted_by_name_ignoring_case(presets: PresetStore) -> None:
    await presets.save_preset("alice-id", "Lunch", LUNCH, at=START, limit=20)
    await presets.save_preset("bob-id", "lunch", LUNCH, at=START, limit=20)
    assert await presets.delete_preset("alice-id", "other") is False
    assert await presets.delete_preset("alice-id", "LUNCH") is True
    assert await presets.delete_preset("alice-id", "lunch") is False
    assert await presets.presets("alice-id") == []
    assert await presets.presets("bob-id") == [StoredPreset("lunch", LUNCH)]


async def test_recent_statuses_are_newest_first_one_per_text_and_the_oldest_go(
    presets: PresetStore,
) -> None:
    assert await presets.recent("alice-id", 5) == []
    for minute, status in enumerate((LUNCH, MEETING, FOCUS)):
        await presets.record_recent(
            "alice-id", status, at=START + timedelta(minutes=minute), keep=3
        )
    assert await presets.recent("alice-id", 5) == [FOCUS, MEETING, LUNCH]
    assert await presets.recent("alice-id", 2) == [FOCUS, MEETING]

    # The same text again moves up, with the presence and time it had this time.
    lunch_now = SavedStatus("busy", LUNCH.text, until_time="13:00")
    await presets.record_recent("alice-id", lunch_now, at=START, keep=3)  # same moment: order kept
    assert await presets.recent("alice-id", 5) == [lunch_now, FOCUS, MEETING]

    # A fourth text pushes the oldest out; other people's are their own.
    fourth = SavedStatus("online", "Back")
    await presets.record_recent("bob-id", MEETING, at=START, keep=3)
    await presets.record_recent("alice-id", fourth, at=START, keep=3)
    assert await presets.recent("alice-id", 5) == [fourth, lunch_now, FOCUS]
    assert await presets.recent("bob-id", 5) == [MEETING]


async def test_the_list_shown_last_is_kept_and_replaced(presets: PresetStore) -> None:
    assert await presets.menu("alice-id") is None
    first: list[dict[str, Any]] = [
        {"recent": {"presence": "away", "text": "Déjeuner 🥐"}},
        {"team": "focus"},
    ]
    await presets.put_menu("alice-id", first, at=START)
    stored = await presets.menu("alice-id")
    assert stored is not None and stored.entries == first and stored.shown_at == START

    later = START + timedelta(minutes=5, microseconds=7)
    await presets.put_menu("alice-id", [{"mine": "lunch"}], at=later)
    stored = await presets.menu("alice-id")
    assert stored is not None
    assert stored.entries == [{"mine": "lunch"}] and stored.shown_at == later
    assert await presets.menu("bob-id") is None
