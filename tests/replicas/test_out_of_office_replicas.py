"""Out of office on three replicas: the one running the scheduler follows the away person;
killed (SIGKILL), another takes the following over, catches up on what came in meanwhile,
and nobody is answered twice; the digest goes out once."""

from __future__ import annotations

import asyncio

import pytest

from bot.automation.ooo.responder import MARK
from tests.faults.conftest import FaultWorld, Talker, count
from tests.replicas.test_replicas import (  # noqa: F401 - `replicas` is a fixture
    TAKE_OVER_WAIT,
    Replica,
    people,
    query,
    replicas,
)

pytestmark = pytest.mark.timeout(120)


async def automatic_answers(talker: Talker, room_id: str) -> list[str]:
    reply = await talker.rest("GET", "im.history", params={"roomId": room_id, "count": "100"})
    return [str(m["msg"]) for m in reply["messages"] if str(m.get("msg", "")).startswith(MARK)]


async def until_answered(talker: Talker, room_id: str, times: int = 1) -> None:
    for _ in range(int(TAKE_OVER_WAIT / 0.1)):
        if len(await automatic_answers(talker, room_id)) >= times:
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"{talker.username} got no automatic answer")


async def test_the_scheduler_replica_killed_while_someone_is_away(
    fault_world: FaultWorld,
    replicas: list[Replica],  # noqa: F811 - the fixture imported above
    postgres_url: str,
) -> None:
    (alice,) = await people(fault_world, 1)
    bob, carol = await fault_world.person("bob"), await fault_world.person("carol")
    await alice.ask("/ooo for 1d", "You are out of office")
    to_bob = str(
        (await bob.rest("POST", "im.create", json={"username": alice.username}))["room"]["_id"]
    )
    to_carol = str(
        (await carol.rest("POST", "im.create", json={"username": alice.username}))["room"]["_id"]
    )
    await bob.say(to_bob, "first, before the kill")
    await until_answered(bob, to_bob)

    leases = await query(postgres_url, "SELECT owner FROM leases WHERE name = 'scheduler'")
    leader = next(replica for replica in replicas if replica.owns(leases[0]["owner"]))
    await leader.kill()
    await bob.say(to_bob, "second, while nobody follows")
    await carol.say(to_carol, "hello from carol")
    await until_answered(carol, to_carol)
    assert len(await automatic_answers(bob, to_bob)) == 1
    assert len(await automatic_answers(carol, to_carol)) == 1

    await alice.ask("/ooo off", "Your out of office is over")
    answers = await alice.answers()
    assert count(answers, "Welcome back!") == 1
    digest = next(a for a in answers if a.startswith("Welcome back!"))
    assert "3 messages were for you" in digest and "answered 2 people" in digest
    assert await query(postgres_url, "SELECT * FROM absences") == []
