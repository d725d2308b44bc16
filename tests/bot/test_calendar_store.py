"""The calendar and status-layer stores' contract on both backends (SQLite and PostgreSQL): the
feed address encrypted at rest and re-encrypted by rotate-key, the choices, the poll state and
the kept intervals, the block shown, the one-time warning, and the layers kept per person."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from cryptography.fernet import Fernet

from bot.core.crypto import generate_key
from bot.storage.calendars import CalendarStore
from bot.storage.layers import LayerStore, StoredLayer
from bot.storage.store import Store

START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
ADDRESS = "https://calendar.example.com/private-5e3f9a/basic.ics?token=s3cret"
STATE = {"etag": '"v1"', "failures": 0, "next_attempt": "2026-03-02T09:15:00+00:00"}
INTERVALS = [{"start": "2026-03-02T13:00:00+00:00", "end": "2026-03-02T14:00:00+00:00"}]


@pytest.fixture
async def store(store_location: str) -> AsyncIterator[Store]:
    async with await Store.open(store_location, secret_key=generate_key()) as opened:
        yield opened


async def test_a_feed_address_is_stored_encrypted_and_read_back(store: Store) -> None:
    feeds = CalendarStore(store)
    assert await feeds.get("alice-id") is None
    assert await feeds.address("alice-id") is None

    await feeds.put("alice-id", "alice", ADDRESS, at=START)

    assert await feeds.address("alice-id") == ADDRESS
    async with store.reading() as db:
        row = await db.fetchone("SELECT url_encrypted FROM calendar_feeds")
    assert row is not None and b"s3cret" not in bytes(row[0])
    feed = await feeds.get("alice-id")
    assert feed is not None
    assert (feed.username, feed.show_titles, feed.all_day_ooo) == ("alice", False, False)
    assert feed.state == {} and feed.intervals == [] and feed.shown_start is None
    assert "s3cret" not in repr(feed)


async def test_choices_poll_state_and_intervals_are_kept_and_a_new_address_resets_the_poll(
    store: Store,
) -> None:
    feeds = CalendarStore(store)
    assert not await feeds.choose("alice-id", show_titles=True)  # no feed yet
    await feeds.put("alice-id", "alice", ADDRESS, at=START)
    assert await feeds.choose("alice-id", show_titles=True)
    assert await feeds.choose("alice-id", all_day_ooo=True)
    assert await feeds.save_poll("alice-id", STATE, INTERVALS)
    assert await feeds.save_poll("alice-id", {**STATE, "failures": 1})  # intervals kept
    await feeds.show("alice-id", START, START + timedelta(hours=1))

    feed = await feeds.get("alice-id")
    assert feed is not None
    assert (feed.show_titles, feed.all_day_ooo) == (True, True)
    assert feed.state["failures"] == 1 and feed.intervals == INTERVALS
    assert (feed.shown_start, feed.shown_end) == (START, START + timedelta(hours=1))

    await feeds.put("alice-id", "alice", ADDRESS + "&v=2", at=START)
    again = await feeds.get("alice-id")
    assert again is not None
    assert again.state == {} and again.intervals == [] and again.show_titles
    assert [f.user_id for f in await feeds.all()] == ["alice-id"]
    await feeds.put("bob-id", "bob", ADDRESS, at=START + timedelta(minutes=5))
    assert [f.user_id for f in await feeds.set_since(START + timedelta(minutes=1))] == ["bob-id"]


async def test_the_token_warning_is_given_once_until_cleared(store: Store) -> None:
    feeds = CalendarStore(store)
    await feeds.put("alice-id", "alice", ADDRESS, at=START)
    assert await feeds.warn("alice-id", True)
    assert not await feeds.warn("alice-id", True)
    assert await feeds.warn("alice-id", False)
    assert await feeds.warn("alice-id", True)


async def test_forgetting_a_feed_deletes_address_and_state(store: Store) -> None:
    feeds = CalendarStore(store)
    await feeds.put("alice-id", "alice", ADDRESS, at=START)
    assert await feeds.forget("alice-id")
    assert not await feeds.forget("alice-id")
    assert await feeds.address("alice-id") is None
    assert not await feeds.save_poll("alice-id", STATE)


async def test_rotate_key_re_encrypts_calendar_addresses(store_location: str) -> None:
    key, new_key = generate_key(), Fernet.generate_key().decode()
    async with await Store.open(store_location, secret_key=key) as store:
        await CalendarStore(store).put("alice-id", "alice", ADDRESS, at=START)
        async with store.reading() as db:
            before = await db.fetchone("SELECT url_encrypted FROM calendar_feeds")
        await store.rotate_key(new_key)
        async with store.reading() as db:
            after = await db.fetchone("SELECT url_encrypted FROM calendar_feeds")
    assert before is not None and after is not None and bytes(before[0]) != bytes(after[0])
    async with await Store.open(store_location, secret_key=new_key) as store:
        assert await CalendarStore(store).address("alice-id") == ADDRESS


async def test_layers_are_kept_per_person_and_replaced_per_layer(store: Store) -> None:
    layers = LayerStore(store)
    meeting = StoredLayer(
        "alice-id",
        "alice",
        "calendar",
        {"presence": "busy", "status_text": "In a meeting until 15:30"},
        START + timedelta(hours=1),
        "calendar",
    )
    rule = StoredLayer("alice-id", "alice", "rule", {"presence": "away"}, None, "rule lunch")
    await layers.put(meeting)
    await layers.put(rule)
    await layers.put(StoredLayer("bob-id", "bob", "rule", {}, None, "rule lunch"))
    assert sorted(await layers.of_user("alice-id"), key=lambda l: l.layer) == [meeting, rule]

    later = StoredLayer("alice-id", "alice", "calendar", {"presence": "busy"}, START, "calendar")
    await layers.put(later)
    assert later in await layers.of_user("alice-id")
    assert await layers.drop("alice-id", "calendar")
    assert not await layers.drop("alice-id", "calendar")
    assert await layers.of_user("alice-id") == [rule]
