"""The feature stores' contract, proved on both backends (SQLite and PostgreSQL): automation,
conversations, revert and rule-firing claims, replicas and their leases, and, on PostgreSQL,
the handled-message ledger shared by several replicas."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.core.crypto import generate_key
from bot.core.message import IncomingMessage, RoomType
from bot.storage.automation import (
    AutomationStore,
    Claims,
    DelegatedUser,
    PendingRevert,
    UndoPoint,
)
from bot.storage.backends import is_postgres_url
from bot.storage.conversations import ConversationKey, ConversationRecord, ConversationStore
from bot.storage.handled import MARK_SLACK_MS, Claim, HandledMessages
from bot.storage.replicas import JOIN_BEATS, Replicas, beat_period, preferred
from bot.storage.store import Store

NOW = 1_800_000_000.0  # epoch seconds
START = datetime.fromtimestamp(NOW, UTC)
LEASE = 15.0
HOUR = 3600.0
TOKEN = "tK3n_0f-Al1ce-abcdefghijklmnopqrstuvwxyz01234"[:43]


class Clock:
    """Wall-clock seconds that move only when a test says so."""

    def __init__(self, now: float = NOW) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
async def store(store_location: str) -> AsyncIterator[Store]:
    async with await Store.open(store_location, secret_key=generate_key()) as opened:
        yield opened


@pytest.fixture
async def stores(store_location: str) -> AsyncIterator[tuple[Store, Store]]:
    """What two replicas use: two Stores on one PostgreSQL database; on SQLite, where one
    process owns the file, the same Store twice."""
    key = generate_key()
    first = await Store.open(store_location, secret_key=key)
    try:
        if not is_postgres_url(store_location):
            yield first, first
            return
        async with await Store.open(store_location, secret_key=key) as second:
            yield first, second
    finally:
        await first.close()


@pytest.fixture
def clock() -> Clock:
    return Clock()


def at(minutes: float) -> datetime:
    """A moment `minutes` after the tests' start."""
    return START + timedelta(minutes=minutes)


def revert(user_id: str = "alice-id", group: str = "status", due: float = 10) -> PendingRevert:
    return PendingRevert(
        user_id=user_id,
        username=user_id.removesuffix("-id"),
        group=group,
        due_at=at(due),
        restore={"status": "online", "statusText": "back at 5 ☕"},
        expected={"status": "busy", "statusText": "in a meeting"},
        cause="/status busy for 10m",
    )


# -- AutomationStore --------------------------------------------------------------------------


async def test_a_pending_revert_round_trips_and_is_replaced(store: Store) -> None:
    automation = AutomationStore(store)
    assert await automation.get_revert("alice-id", "status") is None
    first = revert()
    await automation.put_revert(first)
    assert await automation.get_revert("alice-id", "status") == first
    assert await automation.get_revert("alice-id", "nickname") is None
    assert await automation.get_revert("bob-id", "status") is None

    precise = PendingRevert(
        user_id="alice-id",
        username="alice",
        group="status",
        due_at=datetime(2026, 1, 5, 9, 0, 0, 123456, tzinfo=UTC),
        restore={"status": "away"},
        expected={},
        cause="rule lunch",
        attempts=3,
    )
    await automation.put_revert(precise)
    assert await automation.get_revert("alice-id", "status") == precise


async def test_reverts_are_scheduled_and_deleted_by_group(store: Store) -> None:
    automation = AutomationStore(store)
    await automation.put_revert(revert("alice-id", "status", due=10))
    await automation.put_revert(revert("alice-id", "nickname", due=20))
    await automation.put_revert(revert("alice-id", "bio", due=25))
    await automation.put_revert(revert("bob-id", "status", due=5))
    assert sorted(await automation.revert_schedule()) == [
        ("alice-id", "bio", at(25)),
        ("alice-id", "nickname", at(20)),
        ("alice-id", "status", at(10)),
        ("bob-id", "status", at(5)),
    ]

    await automation.delete_reverts("alice-id", [])  # nothing to do
    await automation.delete_reverts("alice-id", ["status", "nickname", "status", "unknown"])
    assert sorted(await automation.revert_schedule()) == [
        ("alice-id", "bio", at(25)),
        ("bob-id", "status", at(5)),
    ]
    assert await automation.get_revert("alice-id", "status") is None
    assert await automation.get_revert("bob-id", "status") == revert("bob-id", "status", due=5)


async def test_the_audit_trail_lists_a_users_newest_entries_first(store: Store) -> None:
    automation = AutomationStore(store)
    assert await automation.recent_audit("alice-id", 10) == []
    changes: list[list[dict[str, Any]]] = [
        [{"field": "nickname", "old": "", "new": "Ally"}],
        [{"field": "password", "secret": True}],
        [{"field": "bio", "old": "Ally ☕", "new": "Ally 🌙"}, {"field": "status", "old": "a"}],
    ]
    for n, change in enumerate(changes):
        await automation.add_audit(
            at=at(n), user_id="alice-id", username="alice", changes=change, cause=f"cmd {n}"
        )
        await automation.add_audit(
            at=at(n), user_id="bob-id", username="bob", changes=[], cause="other"
        )

    recent = await automation.recent_audit("alice-id", 2)
    assert [row.cause for row in recent] == ["cmd 2", "cmd 1"]
    assert [row.changes for row in recent] == [changes[2], changes[1]]
    assert [row.at for row in recent] == [at(2), at(1)]
    assert {(row.user_id, row.username) for row in recent} == {("alice-id", "alice")}
    assert recent[0].id > recent[1].id
    everything = await automation.recent_audit("alice-id", 10)
    assert [row.cause for row in everything] == ["cmd 2", "cmd 1", "cmd 0"]
    assert len(await automation.recent_audit("bob-id", 10)) == 3


async def test_an_audited_user_is_found_by_name_ignoring_case(store: Store) -> None:
    automation = AutomationStore(store)
    assert await automation.audit_user_by_name("alice") is None
    await automation.add_audit(
        at=at(0), user_id="old-id", username="Alice", changes=[], cause="before a rename"
    )
    assert await automation.audit_user_by_name("ALICE") == "old-id"
    await automation.add_audit(
        at=at(1), user_id="alice-id", username="alice", changes=[], cause="the name moved on"
    )
    assert await automation.audit_user_by_name("aLiCe") == "alice-id"  # the newest entry
    assert await automation.audit_user_by_name("alic") is None
    assert await automation.audit_user_by_name("alice%") is None


async def test_an_undo_point_is_kept_replaced_and_deleted(store: Store) -> None:
    automation = AutomationStore(store)
    assert await automation.get_undo_point("alice-id") is None
    first = UndoPoint(
        user_id="alice-id",
        changes={"nickname": ("", "Ally"), "bio": ("old ☕", "new")},
        cause="/nick Ally",
        at=at(1),
    )
    await automation.put_undo_point(first)
    assert await automation.get_undo_point("alice-id") == first
    second = UndoPoint(user_id="alice-id", changes={"status": ("a", "b")}, cause="x", at=at(2))
    await automation.put_undo_point(second)
    await automation.put_undo_point(
        UndoPoint(user_id="bob-id", changes={}, cause="bob's", at=at(3))
    )
    assert await automation.get_undo_point("alice-id") == second

    await automation.delete_undo_point("alice-id")
    await automation.delete_undo_point("alice-id")  # twice is fine
    assert await automation.get_undo_point("alice-id") is None
    assert await automation.get_undo_point("bob-id") is not None


async def test_rule_choices_are_recorded_changed_and_forgotten(store: Store) -> None:
    automation = AutomationStore(store)
    assert await automation.choices_of("alice-id") == {}
    await automation.set_choice("alice-id", "lunch", "in", at(0))
    await automation.set_choice("alice-id", "standup", "out", at(0))
    await automation.set_choice("bob-id", "lunch", "in", at(0))
    await automation.set_choice("carol-id", "lunch", "out", at(0))
    assert await automation.choices_of("alice-id") == {"lunch": "in", "standup": "out"}
    assert await automation.users_who_chose("lunch", "in") == {"alice-id", "bob-id"}
    assert await automation.users_who_chose("lunch", "out") == {"carol-id"}

    await automation.set_choice("alice-id", "lunch", "out", at(1))
    await automation.set_choice("bob-id", "lunch", None, at(1))
    await automation.set_choice("dave-id", "lunch", None, at(1))  # nothing to forget
    assert await automation.users_who_chose("lunch", "in") == set()
    assert await automation.users_who_chose("lunch", "out") == {"alice-id", "carol-id"}
    assert await automation.choices_of("bob-id") == {}
    assert await automation.users_who_chose("no such rule", "in") == set()


async def test_rule_choices_are_only_in_or_out(store: Store) -> None:
    automation = AutomationStore(store)
    with pytest.raises((sqlite3.IntegrityError, asyncpg.IntegrityConstraintViolationError)):
        await automation.set_choice("alice-id", "lunch", "maybe", at(0))  # type: ignore[arg-type]
    assert await automation.choices_of("alice-id") == {}


async def test_delegated_users_come_from_the_token_table(store: Store) -> None:
    automation = AutomationStore(store)
    assert await automation.delegated_users() == []
    await store.put_token(user_id="alice-id", username="Alice", token=TOKEN)
    await store.put_token(user_id="bob-id", username="bob", token=TOKEN)
    await store.put_token(user_id="carol-id", username="carol", token=TOKEN)
    await store.mark_token_invalid("bob-id")

    everyone = sorted(await automation.delegated_users(), key=lambda user: user.user_id)
    assert everyone == [
        DelegatedUser("alice-id", "Alice", True),
        DelegatedUser("bob-id", "bob", False),
        DelegatedUser("carol-id", "carol", True),
    ]
    some = await automation.delegated_users(["bob-id", "nobody", "bob-id"])
    assert some == [DelegatedUser("bob-id", "bob", False)]
    assert await automation.delegated_users([]) == []

    by_name = await automation.delegated_by_username(["ALICE", "alice", "Carol", "zed"])
    assert sorted(user.user_id for user in by_name) == ["alice-id", "carol-id"]
    assert await automation.delegated_by_username([]) == []
    assert await automation.delegated_by_username(["al%"]) == []


# -- ConversationStore ------------------------------------------------------------------------


def conversation(
    room: str, user: str, minutes: float, step: str = "ask_code"
) -> ConversationRecord:
    return ConversationRecord(
        key=ConversationKey(room_id=room, user_id=user),
        flow="email",
        step=step,
        expires_at=at(minutes),
        data={"email": "ally@example.com", "tries": 1, "name": "Ally ☕", "nested": [1, 2]},
    )


async def test_a_conversation_round_trips_and_is_replaced(store: Store) -> None:
    conversations = ConversationStore(store)
    key = ConversationKey(room_id="dm-alice", user_id="alice-id")
    assert await conversations.get(key) is None
    first = conversation("dm-alice", "alice-id", 5)
    await conversations.put(first)
    assert await conversations.get(key) == first

    later = conversation("dm-alice", "alice-id", 7.5, step="confirm")
    await conversations.put(later)
    assert await conversations.get(key) == later
    assert await conversations.of_user("alice-id") == [later]


async def test_a_conversation_stored_before_a_restart_is_found_and_kept_track_of(
    store: Store,
) -> None:
    before_restart = conversation("dm-alice", "alice-id", 5)
    await ConversationStore(store).put(before_restart)
    conversations = ConversationStore(store)  # a new process on the same database
    nobody = ConversationKey(room_id="dm-bob", user_id="bob-id")
    assert await conversations.get(nobody) is None
    assert await conversations.get(before_restart.key) == before_restart
    assert await conversations.delete(before_restart.key) is True
    assert await conversations.get(before_restart.key) is None
    new = conversation("dm-bob", "bob-id", 3)
    await conversations.put(new)
    assert await conversations.get(nobody) == new


async def test_conversations_of_a_user_come_oldest_deadline_first(store: Store) -> None:
    conversations = ConversationStore(store)
    late = conversation("room-b", "alice-id", 9)
    early = conversation("room-a", "alice-id", 3)
    other = conversation("room-a", "bob-id", 1)
    for record in (late, early, other):
        await conversations.put(record)
    assert await conversations.of_user("alice-id") == [early, late]
    assert await conversations.of_user("nobody") == []

    assert await conversations.delete(early.key) is True
    assert await conversations.delete(early.key) is False
    assert await conversations.of_user("alice-id") == [late]
    assert await conversations.get(other.key) == other


async def test_due_conversations_and_the_next_deadline(store: Store) -> None:
    conversations = ConversationStore(store)
    assert await conversations.next_deadline() is None
    assert await conversations.due(at(100)) == []
    records = [
        conversation(f"room-{n}", f"user-{n}", minutes) for n, minutes in enumerate([5, 1, 3])
    ]
    for record in records:
        await conversations.put(record)

    assert await conversations.next_deadline() == at(1)
    assert await conversations.due(at(0.5)) == []
    assert await conversations.due(at(3)) == [records[1], records[2]]  # the deadline counts
    assert await conversations.due(at(10)) == [records[1], records[2], records[0]]

    await conversations.delete(records[1].key)
    assert await conversations.next_deadline() == at(3)


# -- Claims: who runs a pending revert or a rule firing ----------------------------------------


def claims_of(stores: tuple[Store, Store], clock: Clock) -> tuple[Claims, Claims]:
    first, second = stores
    return (
        Claims(first, owner="replica-a", lease=LEASE, clock=clock),
        Claims(second, owner="replica-b", lease=LEASE, clock=clock),
    )


async def test_a_revert_is_claimed_once_until_its_lease_runs_out(
    stores: tuple[Store, Store], clock: Clock
) -> None:
    a, b = claims_of(stores, clock)
    await AutomationStore(stores[0]).put_revert(revert(due=10))

    assert await a.revert("alice-id", "status", at(10))
    assert await a.revert("alice-id", "status", at(10))  # its own claim again
    assert not await b.revert("alice-id", "status", at(10))
    clock.advance(LEASE - 1)
    assert not await b.revert("alice-id", "status", at(10))
    clock.advance(2)  # replica-a stopped: its lease ran out
    assert await b.revert("alice-id", "status", at(10))
    assert not await a.revert("alice-id", "status", at(10))


async def test_a_revert_that_is_gone_or_moved_cannot_be_claimed(
    stores: tuple[Store, Store], clock: Clock
) -> None:
    a, _ = claims_of(stores, clock)
    automation = AutomationStore(stores[0])
    assert not await a.revert("alice-id", "status", at(10))  # none stored
    await automation.put_revert(revert(due=10))
    assert not await a.revert("alice-id", "status", at(11))  # not the one due then
    assert not await a.revert("alice-id", "nickname", at(10))
    await automation.delete_reverts("alice-id", ["status"])
    assert not await a.revert("alice-id", "status", at(10))


async def test_putting_a_revert_again_clears_its_claim(
    stores: tuple[Store, Store], clock: Clock
) -> None:
    a, b = claims_of(stores, clock)
    automation = AutomationStore(stores[1])
    await automation.put_revert(revert(due=10))
    assert await a.revert("alice-id", "status", at(10))

    await automation.put_revert(revert(due=20))  # a later change moved it
    assert not await a.revert("alice-id", "status", at(10))
    assert await b.revert("alice-id", "status", at(20))  # free at once, lease or not
    assert not await a.revert("alice-id", "status", at(20))

    await automation.put_revert(revert(due=20))  # the same due: still a fresh revert
    assert await a.revert("alice-id", "status", at(20))


async def test_reverts_due_by_a_moment(stores: tuple[Store, Store], clock: Clock) -> None:
    a, _ = claims_of(stores, clock)
    automation = AutomationStore(stores[0])
    await automation.put_revert(revert("alice-id", "status", due=10))
    await automation.put_revert(revert("bob-id", "status", due=20))
    assert await a.reverts_due_by(at(5)) == []
    assert await a.reverts_due_by(at(10)) == [("alice-id", "status", at(10))]
    assert sorted(await a.reverts_due_by(at(60))) == [
        ("alice-id", "status", at(10)),
        ("bob-id", "status", at(20)),
    ]


async def test_a_rule_firing_is_claimed_once_and_fired_is_final(
    stores: tuple[Store, Store], clock: Clock
) -> None:
    a, b = claims_of(stores, clock)
    due = at(0)
    assert await a.firing("lunch", due)
    assert await a.firing("lunch", due)  # its own claim again
    assert not await b.firing("lunch", due)
    assert await b.firing("lunch", at(60))  # another firing of the same rule
    assert await b.firing("standup", due)  # another rule

    await a.fired("lunch", due)
    assert not await a.firing("lunch", due)
    clock.advance(10 * LEASE)
    assert not await b.firing("lunch", due)  # done is done, lease or not
    assert ("lunch", due) not in await b.abandoned_firings()


async def test_an_abandoned_firing_is_listed_and_taken_over(
    stores: tuple[Store, Store], clock: Clock
) -> None:
    a, b = claims_of(stores, clock)
    assert await a.firing("lunch", at(0))
    assert await a.firing("standup", at(0))
    await a.fired("standup", at(0))
    assert await b.abandoned_firings() == []
    clock.advance(LEASE + 1)  # replica-a stopped

    assert await b.abandoned_firings() == [("lunch", at(0))]
    assert await b.firing("lunch", at(0))
    assert await a.abandoned_firings() == []
    assert not await a.firing("lunch", at(0))


async def test_renew_keeps_this_replicas_claims(stores: tuple[Store, Store], clock: Clock) -> None:
    a, b = claims_of(stores, clock)
    await AutomationStore(stores[0]).put_revert(revert(due=10))
    assert await a.revert("alice-id", "status", at(10))
    assert await a.firing("lunch", at(0))
    assert await b.firing("standup", at(0))
    for _ in range(3):  # three leases long, renewed each time before it runs out
        clock.advance(LEASE * 0.8)
        await a.renew()
        assert not await b.revert("alice-id", "status", at(10))
        assert not await b.firing("lunch", at(0))
    assert await a.abandoned_firings() == [("standup", at(0))]  # b's: never renewed


async def test_fired_forgets_firings_older_than_a_week(
    stores: tuple[Store, Store], clock: Clock
) -> None:
    a, _ = claims_of(stores, clock)
    old, recent = START - timedelta(days=8), START - timedelta(days=6)
    for due in (old, recent):
        assert await a.firing("lunch", due)
    await a.fired("lunch", recent)
    await a.fired("lunch", old)
    assert not await a.firing("lunch", recent)  # kept: still refused
    async with stores[0].reading() as db:
        rows = await db.fetchall("SELECT due_at FROM rule_firings")
    assert len(rows) == 1


async def test_concurrent_claims_have_one_winner_each(
    stores: tuple[Store, Store], clock: Clock
) -> None:
    a, b = claims_of(stores, clock)
    automation = AutomationStore(stores[0])
    users = [f"user-{n}" for n in range(10)]
    for user in users:
        await automation.put_revert(revert(user, due=10))
    reverts = await asyncio.gather(
        *(claims.revert(user, "status", at(10)) for user in users for claims in (a, b))
    )
    firings = await asyncio.gather(
        *(claims.firing(f"rule-{n}", at(0)) for n in range(10) for claims in (a, b))
    )
    for won in (reverts, firings):
        assert [won[n] + won[n + 1] for n in range(0, len(won), 2)] == [1] * 10


# -- Replicas ---------------------------------------------------------------------------------


def replicas_of(stores: tuple[Store, Store], clock: Clock) -> tuple[Replicas, Replicas]:
    first, second = stores
    return (
        Replicas(first, lease=LEASE, defer=1.0, replica_id="replica-a", clock=clock),
        Replicas(second, lease=LEASE, defer=1.0, replica_id="replica-b", clock=clock),
    )


async def test_replicas_that_beat_are_live_and_one_that_stops_is_not(
    stores: tuple[Store, Store], clock: Clock
) -> None:
    a, b = replicas_of(stores, clock)
    assert a.live == ("replica-a",)  # before any beat: only itself
    assert await a.beat() == ("replica-a",)
    assert await b.beat() == ("replica-a", "replica-b")
    assert await a.beat() == ("replica-a", "replica-b")

    clock.advance(LEASE - 1)
    assert await a.beat() == ("replica-a", "replica-b")  # b beat within the lease
    clock.advance(2)  # b has not beaten for longer than the lease
    assert await a.beat() == ("replica-a",)
    assert a.live == ("replica-a",)
    assert await b.beat() == ("replica-a", "replica-b")  # back again


async def test_a_replica_gone_for_long_is_forgotten(
    stores: tuple[Store, Store], clock: Clock
) -> None:
    a, b = replicas_of(stores, clock)
    await b.beat()
    clock.advance(LEASE * 25)
    await a.beat()
    async with stores[0].reading() as db:
        rows = await db.fetchall("SELECT replica_id FROM replicas")
    assert [row[0] for row in rows] == ["replica-a"]


async def test_a_lease_is_exclusive_renewable_and_released(
    stores: tuple[Store, Store], clock: Clock
) -> None:
    a, b = replicas_of(stores, clock)
    assert await a.holder("scheduler") is None
    assert await a.acquire("scheduler")
    assert not await b.acquire("scheduler")
    assert await b.holder("scheduler") == "replica-a"
    assert await b.acquire("janitor")  # another name, another lease

    for _ in range(3):  # the holder renews before it runs out
        clock.advance(LEASE * 0.8)
        assert await a.acquire("scheduler")
        assert not await b.acquire("scheduler")
    await b.release("scheduler")  # not b's to release
    assert await a.holder("scheduler") == "replica-a"

    await a.release("scheduler")
    assert await b.holder("scheduler") is None
    assert await b.acquire("scheduler")
    assert await a.holder("scheduler") == "replica-b"
    assert not await a.acquire("scheduler")


async def test_a_lease_not_renewed_passes_to_another_replica(
    stores: tuple[Store, Store], clock: Clock
) -> None:
    a, b = replicas_of(stores, clock)
    assert await a.acquire("scheduler")
    clock.advance(LEASE)
    assert await b.holder("scheduler") == "replica-a"  # up to the last moment
    assert not await b.acquire("scheduler")
    clock.advance(1)
    assert await b.holder("scheduler") is None
    assert await b.acquire("scheduler")
    assert not await a.acquire("scheduler")
    assert await a.holder("scheduler") == "replica-b"


async def test_concurrent_acquires_have_one_winner(
    stores: tuple[Store, Store], clock: Clock
) -> None:
    a, b = replicas_of(stores, clock)
    won = await asyncio.gather(
        *(replica.acquire(f"lease-{n}") for n in range(10) for replica in (a, b))
    )
    assert [won[n] + won[n + 1] for n in range(0, len(won), 2)] == [1] * 10


async def test_leaving_drops_the_heartbeat_and_the_leases(
    stores: tuple[Store, Store], clock: Clock
) -> None:
    a, b = replicas_of(stores, clock)
    await a.beat()
    await b.beat()
    assert await a.acquire("scheduler")
    assert await a.acquire("janitor")
    assert await b.acquire("other")

    await a.leave()
    assert await b.beat() == ("replica-b",)
    assert await b.holder("scheduler") is None
    assert await b.acquire("janitor")
    assert await b.holder("other") == "replica-b"


async def test_every_sender_has_one_preferred_live_replica(
    stores: tuple[Store, Store], clock: Clock
) -> None:
    a, b = replicas_of(stores, clock)
    await a.beat()
    await b.beat()
    clock.advance(JOIN_BEATS * beat_period(LEASE) + 0.1)  # both have been around a while
    await b.beat()
    await a.beat()
    senders = [f"user-{n}" for n in range(200)]
    for sender in senders:
        assert a.prefers(sender) != b.prefers(sender)
        assert {a.defer_for(sender), b.defer_for(sender)} == {0.0, 1.0}
    mine = sum(a.prefers(sender) for sender in senders)
    assert 50 < mine < 150  # spread over both

    clock.advance(LEASE + 1)
    await a.beat()  # b is gone: a takes everyone
    assert all(a.prefers(sender) and a.defer_for(sender) == 0.0 for sender in senders)


replica_ids = st.sets(st.text(min_size=1, max_size=12), min_size=2, max_size=6)
senders = st.lists(st.text(max_size=12), min_size=1, max_size=30, unique=True)


@settings(max_examples=50, deadline=None)
@given(ids=replica_ids, keys=senders, data=st.data())
def test_preferred_is_stable_and_moves_only_the_keys_of_a_replica_that_leaves(
    ids: set[str], keys: list[str], data: st.DataObject
) -> None:
    ordered = sorted(ids)
    owners = {key: preferred(key, ordered) for key in keys}
    assert all(owner in ids for owner in owners.values())
    shuffled = data.draw(st.permutations(ordered))
    assert {key: preferred(key, shuffled) for key in keys} == owners  # order does not matter

    gone = data.draw(st.sampled_from(ordered))
    rest = [rid for rid in ordered if rid != gone]
    for key, owner in owners.items():
        now = preferred(key, rest)
        assert now in rest
        if owner != gone:
            assert now == owner  # only the keys of the replica that left move


def test_nobody_is_preferred_among_no_replicas() -> None:
    assert preferred("user-1", []) is None


# -- HandledMessages: the ledger shared by replicas (PostgreSQL) -------------------------------


def message(message_id: str, room: str = "R1", sender: str | None = None) -> IncomingMessage:
    """A message; each has a sender of its own unless told (one sender's messages are kept
    in order across replicas)."""
    return IncomingMessage(
        id=message_id,
        room_id=room,
        room_type=RoomType.CHANNEL,
        text="/help",
        sender_id=sender or f"sender-of-{message_id}",
        sender_username="alice",
    )


def ms(seconds_ago: float) -> float:
    return (NOW - seconds_ago) * 1000


@pytest.fixture
async def shared_stores(postgres_url: str) -> AsyncIterator[tuple[Store, Store]]:
    """Two replicas' Stores on one PostgreSQL database."""
    key = generate_key()
    async with (
        await Store.open(postgres_url, secret_key=key) as first,
        await Store.open(postgres_url, secret_key=key) as second,
    ):
        yield first, second


def ledgers(stores: tuple[Store, Store], clock: Clock) -> tuple[HandledMessages, HandledMessages]:
    first, second = stores
    return (
        HandledMessages(first, window=HOUR, clock=clock, owner="replica-a", lease=LEASE),
        HandledMessages(second, window=HOUR, clock=clock, owner="replica-b", lease=LEASE),
    )


async def test_one_replica_wins_a_message_until_its_lease_runs_out(
    shared_stores: tuple[Store, Store], clock: Clock
) -> None:
    a, b = ledgers(shared_stores, clock)
    assert a.claims_in_database and b.claims_in_database
    first = message("m1")
    assert await a.claim(first, ms(5)) is Claim.MINE
    assert await b.claim(first, ms(5)) is Claim.TAKEN
    assert await a.claim(first, ms(5)) is Claim.TAKEN  # in flight here
    clock.advance(LEASE - 1)
    assert await b.claim(first, ms(5)) is Claim.TAKEN
    clock.advance(2)  # replica-a stopped without finishing
    assert await b.claim(first, ms(5)) is Claim.MINE
    fresh_a = HandledMessages(shared_stores[0], window=HOUR, clock=clock, owner="replica-a2")
    assert await fresh_a.claim(first, ms(5)) is Claim.TAKEN


async def test_concurrent_claims_of_a_message_have_one_winner(
    shared_stores: tuple[Store, Store], clock: Clock
) -> None:
    a, b = ledgers(shared_stores, clock)
    messages = [message(f"m{n}", room=f"R{n % 3}") for n in range(20)]
    verdicts = await asyncio.gather(
        *(ledger.claim(item, ms(5)) for item in messages for ledger in (a, b))
    )
    pairs = [set(verdicts[n : n + 2]) for n in range(0, len(verdicts), 2)]
    assert pairs == [{Claim.MINE, Claim.TAKEN}] * 20


async def test_one_senders_later_message_waits_for_the_earlier_one_elsewhere(
    shared_stores: tuple[Store, Store], clock: Clock
) -> None:
    a, b = ledgers(shared_stores, clock)
    earlier, later = message("m1", sender="alice-id"), message("m2", sender="alice-id")
    assert await a.claim(earlier, ms(10)) is Claim.MINE
    assert await b.claim(later, ms(5)) is Claim.WAIT
    assert await b.claim(message("m3", sender="bob-id"), ms(5)) is Claim.MINE
    await a.finished(earlier)
    assert await b.claim(later, ms(5)) is Claim.MINE


async def test_expired_claims_name_the_room_and_its_oldest_message(
    shared_stores: tuple[Store, Store], clock: Clock
) -> None:
    a, b = ledgers(shared_stores, clock)
    assert await a.claim(message("old", "R1"), ms(30)) is Claim.MINE
    assert await a.claim(message("new", "R1"), ms(10)) is Claim.MINE
    assert await a.claim(message("x", "R2"), ms(20)) is Claim.MINE
    assert await b.claim(message("b's", "R3"), ms(5)) is Claim.MINE
    assert await a.claim(message("done", "R4"), ms(5)) is Claim.MINE
    await a.finished(message("done", "R4"))
    assert await b.expired_claims() == {}

    clock.advance(LEASE + 1)
    assert await b.expired_claims() == {"R1": ms(30), "R2": ms(20), "R3": ms(5)}
    assert await b.claim(message("old", "R1"), ms(30)) is Claim.MINE  # taken over
    assert await b.claim(message("new", "R1"), ms(10)) is Claim.MINE
    assert await a.expired_claims() == {"R2": ms(20), "R3": ms(5)}


async def test_renew_keeps_a_replicas_claims_alive(
    shared_stores: tuple[Store, Store], clock: Clock
) -> None:
    a, b = ledgers(shared_stores, clock)
    assert await b.renew() == 0  # nothing in flight
    assert await a.claim(message("m1"), ms(5)) is Claim.MINE
    assert await a.claim(message("m2", "R2"), ms(5)) is Claim.MINE
    for _ in range(3):
        clock.advance(LEASE * 0.8)
        assert await a.renew() == 2
        assert await b.expired_claims() == {}
        assert await b.claim(message("m1"), ms(5)) is Claim.TAKEN
    await a.finished(message("m1"))
    clock.advance(LEASE * 0.8)
    assert await a.renew() == 1


async def test_renew_does_not_wait_for_a_claim_locked_by_a_write_in_progress(
    shared_stores: tuple[Store, Store], clock: Clock
) -> None:
    a, _ = ledgers(shared_stores, clock)
    store = shared_stores[0]
    assert await a.claim(message("m1"), ms(5)) is Claim.MINE
    assert await a.claim(message("m2", "R2"), ms(5)) is Claim.MINE
    async with store.transaction() as db:  # a write finishing m1 holds its row meanwhile
        await db.execute(
            "UPDATE handled_messages SET handled_at = 0 WHERE message_id = ?", ("m1",)
        )
        renewed = await asyncio.wait_for(a.renew(), 5)  # waiting here would deadlock
    assert renewed == 1


async def test_a_message_finished_by_its_owner_is_final_for_everybody(
    shared_stores: tuple[Store, Store], clock: Clock
) -> None:
    a, b = ledgers(shared_stores, clock)
    first = message("m1")
    assert await a.claim(first, ms(5)) is Claim.MINE
    await a.finished(first)
    for ledger in (a, b):
        assert await ledger.claim(first, ms(5)) is Claim.TAKEN
    clock.advance(10 * LEASE)
    assert await b.expired_claims() == {}
    assert await b.claim(first, ms(5)) is Claim.TAKEN
    since = await b.since()
    assert since("R1") == ms(5) - MARK_SLACK_MS  # the room's mark moved for every replica


async def test_a_late_finish_by_a_replica_that_lost_the_claim_changes_nothing(
    shared_stores: tuple[Store, Store], clock: Clock
) -> None:
    a, b = ledgers(shared_stores, clock)
    first = message("m1")
    assert await a.claim(first, ms(5)) is Claim.MINE
    clock.advance(LEASE + 1)
    assert await b.claim(first, ms(5)) is Claim.MINE
    await a.finished(first)  # too late: b holds it now
    clock.advance(LEASE + 1)
    assert await a.expired_claims() == {"R1": ms(5)}  # still b's, and b stopped too
    await b.finished(first)
    assert await a.expired_claims() == {}


async def test_finished_messages_are_pruned_but_claims_are_kept(
    shared_stores: tuple[Store, Store], clock: Clock
) -> None:
    a, b = ledgers(shared_stores, clock)
    assert await a.claim(message("done"), ms(1)) is Claim.MINE
    await a.finished(message("done"))
    assert await a.claim(message("stuck"), ms(1)) is Claim.MINE
    clock.advance(2 * HOUR + 1)
    assert await b.prune() == 1
    async with shared_stores[1].reading() as db:
        left = await db.fetchall("SELECT message_id, claimed_by FROM handled_messages")
    assert [tuple(row) for row in left] == [("stuck", "replica-a")]


async def test_an_expired_claim_older_than_the_window_is_given_up(
    shared_stores: tuple[Store, Store], clock: Clock
) -> None:
    a, b = ledgers(shared_stores, clock)
    assert await a.claim(message("stuck"), ms(1)) is Claim.MINE
    assert await a.claim(message("recent", "R2"), ms(1)) is Claim.MINE
    clock.advance(HOUR - 10)  # both expired; "stuck" may still be taken over
    assert await b.expired_claims() == {"R1": ms(1), "R2": ms(1)}
    assert await b.claim(message("recent", "R2"), ms(1)) is Claim.MINE
    clock.advance(20)  # now older than the window: nobody acts on it any more
    assert await b.expired_claims() == {}
    assert await b.claim(message("stuck"), ms(1)) is Claim.TAKEN


async def test_a_new_replica_leaves_everyone_to_the_others_until_they_know_it(
    stores: tuple[Store, Store], clock: Clock
) -> None:
    a, _ = replicas_of(stores, clock)
    await a.beat()
    clock.advance(JOIN_BEATS * beat_period(LEASE) + 0.1)
    late = Replicas(stores[1], lease=LEASE, defer=1.0, replica_id="replica-c", clock=clock)
    await late.beat()
    await a.beat()
    senders = [f"user-{n}" for n in range(100)]
    assert not any(late.prefers(sender) for sender in senders)  # still joining
    assert all(late.defer_for(sender) == 1.0 for sender in senders)
    clock.advance(JOIN_BEATS * beat_period(LEASE))
    await late.beat()
    await a.beat()
    assert any(late.prefers(sender) for sender in senders)
    assert all(late.prefers(sender) != a.prefers(sender) for sender in senders)


async def test_a_replica_alone_takes_everything_from_the_start(
    stores: tuple[Store, Store], clock: Clock
) -> None:
    alone = Replicas(stores[0], lease=LEASE, defer=1.0, replica_id="solo", clock=clock)
    await alone.beat()
    assert alone.prefers("anyone") and alone.defer_for("anyone") == 0.0
