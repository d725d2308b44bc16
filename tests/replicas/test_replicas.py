"""Three bot replicas (real `python -m bot run` processes) on one PostgreSQL database and the
sandbox: a burst of commands from many people with one replica killed (SIGKILL) in the middle
is handled exactly once, and the pending reverts fire once after the replica running the
scheduler is killed.

"Exactly once" is judged where people see it and where it lands: each command's answer appears
once in its sender's DM, the audit trail holds one entry per change, and no claim is left
unfinished in the database.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections import Counter
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import pytest

from bot.storage.automation import to_text
from bot.storage.replicas import JOIN_BEATS, beat_period
from tests.e2e.conftest import PASSWORD
from tests.faults.conftest import BotProcess, FaultWorld, Talker, count, settle

REPLICAS = 3
LEASE = 2.0  # seconds: a killed replica's work moves on this fast
PEOPLE = 9
COMMANDS_EACH = 6
TAKE_OVER_WAIT = 30.0
NEW_PASSWORD = "Replica-Pass-2026!"

pytestmark = pytest.mark.timeout(120)


class Replica(BotProcess):
    """A bot process on the shared database, with a log of its own."""

    def __init__(self, world: FaultWorld, index: int, database: str, lease: float = LEASE) -> None:
        super().__init__(world, db=database, replica_lease=lease, replica_defer=0.5)
        self.log = world.tmp_path / f"replica-{index}.log"

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def owns(self, replica_id: str) -> bool:
        """True when `replica_id` (host-pid-random) names this process."""
        return re.search(rf"-{self.pid}-[0-9a-f]+$", replica_id) is not None


@pytest.fixture
async def replicas(
    request: pytest.FixtureRequest, fault_world: FaultWorld, postgres_url: str
) -> AsyncIterator[list[Replica]]:
    """Three replicas; `@pytest.mark.lease(seconds)` gives them a lease other than LEASE."""
    marker = request.node.get_closest_marker("lease")
    lease = float(marker.args[0]) if marker else LEASE
    started = [Replica(fault_world, index, postgres_url, lease) for index in range(REPLICAS)]
    try:
        for replica in started:
            await replica.start()
        # Until every replica knows the last one, people are not yet assigned for good.
        await asyncio.sleep((JOIN_BEATS + 1) * beat_period(lease))
        yield started
    finally:
        for replica in started:
            await replica.ensure_stopped()


async def query(url: str, sql: str, *args: Any) -> list[asyncpg.Record]:
    connection = await asyncpg.connect(url)
    try:
        return list(await connection.fetch(sql, *args))
    finally:
        await connection.close()


async def people(world: FaultWorld, how_many: int) -> list[Talker]:
    talkers = [await world.person(f"user{index}") for index in range(how_many)]
    await asyncio.gather(*(talker.delegate() for talker in talkers))
    return talkers


async def presence_of(talker: Talker) -> str:
    """The status text (these people have no websocket, so their presence reads offline)."""
    return str((await talker.profile()).get("statusText") or "")


def plan(person: Talker) -> list[tuple[str, str]]:
    """(command, the unique value its answer quotes) for one person's burst."""
    commands = []
    for index in range(COMMANDS_EACH):
        value = f"{person.username}-{index}"
        kind = "/nick" if index % 2 == 0 else "/bio"
        commands.append((f"{kind} {value}", value))
    return commands


async def test_a_burst_with_one_replica_killed_is_handled_exactly_once(
    fault_world: FaultWorld, replicas: list[Replica], postgres_url: str
) -> None:
    talkers = await people(fault_world, PEOPLE)
    plans = {talker.username: plan(talker) for talker in talkers}
    # Slow every update down so that the victim surely dies with claimed work in hand.
    await fault_world.sandbox.inject(endpoint="users.updateOwnBasicInfo", delay=0.3, count=40)

    async def burst(talker: Talker) -> None:
        for command, _ in plans[talker.username]:
            await talker.tell(command)

    await asyncio.gather(*(burst(talker) for talker in talkers))
    victim = replicas[0]
    claimed_by_victim = 0
    for _ in range(100):
        rows = await query(
            postgres_url,
            "SELECT claimed_by FROM handled_messages WHERE claimed_by IS NOT NULL",
        )
        claimed_by_victim = sum(victim.owns(row["claimed_by"]) for row in rows)
        if claimed_by_victim:
            break
        await asyncio.sleep(0.05)
    assert claimed_by_victim, "the victim never held a claim: nothing would test the take-over"
    await victim.kill()

    for talker in talkers:
        values = [value for _, value in plans[talker.username]]
        await talker.wait_for(
            lambda answers, values=values: all(  # type: ignore[misc]
                any(f"“{value}”" in answer for answer in answers) for value in values
            ),
            timeout=TAKE_OVER_WAIT,
        )
    await settle(LEASE)  # a duplicate would need a lease to show up

    for talker in talkers:
        answers = await talker.answers()
        for _, value in plans[talker.username]:
            assert count(answers, f"“{value}”") == 1, (value, answers)
        profile = await talker.profile()
        last_nick, last_bio = plans[talker.username][-2][1], plans[talker.username][-1][1]
        assert (profile["nickname"], profile["bio"]) == (last_nick, last_bio)
    audit = [row["changes"] for row in await query(postgres_url, "SELECT changes FROM audit_log")]
    made = Counter(change.get("new") for changes in audit for change in json.loads(changes))
    for talker in talkers:
        for _, value in plans[talker.username]:
            assert made[value] == 1, (
                value,
                made[value],
                [a for a in await talker.answers() if value in a],
            )
    unfinished = await query(
        postgres_url, "SELECT message_id FROM handled_messages WHERE claimed_by IS NOT NULL"
    )
    assert unfinished == []
    for survivor in replicas[1:]:
        assert survivor.process is not None and survivor.process.returncode is None
        assert await survivor.terminate() == 0


async def test_pending_reverts_fire_once_after_the_scheduler_replica_is_killed(
    fault_world: FaultWorld, replicas: list[Replica], postgres_url: str
) -> None:
    talkers = await people(fault_world, 6)
    before = {talker.username: await presence_of(talker) for talker in talkers}
    for talker in talkers:
        await talker.ask("/status away Lunch for 1h", "Status set to away")
        assert await presence_of(talker) == "Lunch"
    leases = await query(postgres_url, "SELECT owner FROM leases WHERE name = 'scheduler'")
    assert len(leases) == 1
    leader = next(replica for replica in replicas if replica.owns(leases[0]["owner"]))
    await leader.kill()
    # An hour passes in the database: every revert is due now, while nobody runs the scheduler.
    due = to_text(datetime.now(UTC) - timedelta(seconds=1))
    changed = await query(postgres_url, "UPDATE pending_reverts SET due_at = $1 RETURNING 1", due)
    assert len(changed) == len(talkers)

    async def all_back() -> bool:
        return all([await presence_of(t) == before[t.username] for t in talkers])

    for _ in range(int(TAKE_OVER_WAIT / 0.1)):
        if await all_back():
            break
        await asyncio.sleep(0.1)
    assert await all_back(), [await presence_of(talker) for talker in talkers]
    await settle(LEASE)

    assert await query(postgres_url, "SELECT * FROM pending_reverts") == []
    expiries = await query(
        postgres_url,
        "SELECT user_id, COUNT(*) AS n FROM audit_log WHERE cause = 'expiry' GROUP BY user_id",
    )
    assert {row["user_id"]: row["n"] for row in expiries} == {t.user_id: 1 for t in talkers}
    leases = await query(postgres_url, "SELECT owner FROM leases WHERE name = 'scheduler'")
    new_leader = next(r for r in replicas if leases and r.owns(leases[0]["owner"]))
    assert new_leader is not leader
    for talker in talkers:
        answers = await talker.answers()
        assert count(answers, "Status set to away") == 1


async def logged_in_again(world: FaultWorld, username: str) -> Talker:
    """`username` logged in with the new password, once the bot has changed it."""
    for _ in range(int(TAKE_OVER_WAIT / 0.1)):
        talker = Talker(world.sandbox, username, NEW_PASSWORD)
        try:
            await talker.__aenter__()
        except AssertionError:  # 401: the change is not through yet
            await talker.__aexit__(None, None, None)
            await asyncio.sleep(0.1)
            continue
        await talker.__aexit__(None, None, None)
        return Talker(world.sandbox, username, NEW_PASSWORD)
    raise AssertionError(f"{username} never could log in with the new password")


# No replica dies here: a lease long enough that a busy machine's late heartbeat is not taken
# for a death (which would move people to another replica, and the bot would rightly ask for
# the new password again).
@pytest.mark.lease(15.0)
async def test_password_changes_stay_with_the_replica_that_holds_the_new_password(
    fault_world: FaultWorld, replicas: list[Replica]
) -> None:
    """The new password is held in memory only, between "once more" and the current password:
    every answer of one person must reach the same replica, or it would be asked again."""
    talkers = await people(fault_world, 6)

    async def change(talker: Talker) -> None:
        await talker.ask("/password", "new password")
        await talker.ask(NEW_PASSWORD, "once more")
        await talker.ask(NEW_PASSWORD, "current password")
        await talker.tell(PASSWORD)  # the change ends this login: read the answer afterwards

    await asyncio.gather(*(change(talker) for talker in talkers))
    for talker in talkers:
        async with await logged_in_again(fault_world, talker.username) as again:
            answers = await again.wait_for(lambda got: any("Done" in a for a in got))
        assert count(answers, "Done") == 1, answers
        lost = ("new password again", "no longer have your new password")
        assert not any(text in answer for answer in answers for text in lost), answers
