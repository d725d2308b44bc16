"""REST and DDP faults: 5xx, 429, slow answers and DDP rate limits, each answered exactly once."""

from __future__ import annotations

import time

from tests.e2e.conftest import BOT_NAME
from tests.faults.conftest import FaultWorld, Talker, count, settle


async def ready(world: FaultWorld, **settings: float) -> Talker:
    await world.start_bot(**settings)
    alice = await world.person("alice")
    await alice.delegate()
    return alice


async def test_a_change_that_meets_5xx_is_retried_and_answered_once(
    fault_world: FaultWorld,
) -> None:
    alice = await ready(fault_world)
    await fault_world.sandbox.inject(endpoint="users.updateOwnBasicInfo", status=503, count=2)
    answer = await alice.ask("/nick Steady", "Steady")
    assert answer == "Nickname set to “Steady”."
    assert [fault["fired"] for fault in await fault_world.sandbox.faults()] == [2]
    await settle()
    assert count(await alice.answers(), "Steady") == 1
    assert (await alice.profile())["nickname"] == "Steady"


async def test_a_read_that_meets_5xx_and_broken_answers_is_retried(
    fault_world: FaultWorld,
) -> None:
    alice = await ready(fault_world)
    await alice.ask("/nick Shown", "Shown")
    await fault_world.sandbox.inject(endpoint="me", status=500, count=1)
    await fault_world.sandbox.inject(endpoint="me", status=502, count=1)
    answer = await alice.ask("/profile", "Shown")
    assert "Rocket.Chat had a problem" not in answer
    assert [fault["fired"] for fault in await fault_world.sandbox.faults()] == [1, 1]


async def test_a_server_that_keeps_failing_gets_one_failure_answer_and_no_change(
    fault_world: FaultWorld,
) -> None:
    alice = await ready(fault_world, retry_attempts=3)
    await fault_world.sandbox.inject(endpoint="users.updateOwnBasicInfo", status=503, count=10)
    answer = await alice.ask("/nick Never", "Rocket.Chat")
    assert "nickname was not changed" in answer and "try again" in answer
    assert [fault["fired"] for fault in await fault_world.sandbox.faults()] == [3]  # bounded
    await settle()
    answers = await alice.answers()
    assert count(answers, "not changed") == 1 and count(answers, "Never") == 0
    assert "nickname" not in await alice.profile()


async def test_a_429_waits_until_the_reset_and_the_change_is_answered_once(
    fault_world: FaultWorld,
) -> None:
    alice = await ready(fault_world)
    await fault_world.sandbox.inject(
        endpoint="users.updateOwnBasicInfo", status=429, count=2, reset_ms=300
    )
    started = time.monotonic()
    assert "“Patient”" in await alice.ask("/nick Patient", "Nickname set")
    assert time.monotonic() - started >= 0.5  # two resets of 0.3 s (the clocks' ms aside)
    await settle()
    assert count(await alice.answers(), "“Patient”") == 1
    assert (await alice.profile())["nickname"] == "Patient"


async def test_a_slow_answer_times_out_and_the_change_is_sent_again_safely(
    fault_world: FaultWorld,
) -> None:
    alice = await ready(fault_world, request_timeout=0.5)
    await fault_world.sandbox.inject(endpoint="users.updateOwnBasicInfo", delay=1.0, count=1)
    assert "“Tortoise”" in await alice.ask("/nick Tortoise", "Nickname set")
    await settle(1.0)  # the slow first call lands meanwhile: same value, no second answer
    assert count(await alice.answers(), "“Tortoise”") == 1
    assert (await alice.profile())["nickname"] == "Tortoise"


async def test_a_ddp_rate_limit_on_the_answer_is_waited_out_and_sent_once(
    fault_world: FaultWorld,
) -> None:
    alice = await ready(fault_world)
    await fault_world.sandbox.inject(
        method="sendMessage", error="too-many-requests", count=2, reset_ms=200, user=BOT_NAME
    )
    started = time.monotonic()
    assert "“Throttled”" in await alice.ask("/nick Throttled", "Nickname set")
    assert time.monotonic() - started >= 0.4
    await settle()
    assert count(await alice.answers(), "“Throttled”") == 1
    assert [fault["fired"] for fault in await fault_world.sandbox.faults()] == [2]


async def test_rocket_chats_own_error_too_many_requests_is_waited_out_too(
    fault_world: FaultWorld,
) -> None:
    alice = await ready(fault_world)
    await fault_world.sandbox.inject(
        method="setReaction", error="error-too-many-requests", count=1, reset_ms=200
    )
    general = "GENERAL"
    command = await alice.say(general, "!nick Reacted")
    await alice.wait_for_each("“Reacted”")
    reply = await alice.rest("GET", "chat.getMessage", params={"msgId": command})
    assert list(reply["message"]["reactions"]) == [":white_check_mark:"]
    assert [fault["fired"] for fault in await fault_world.sandbox.faults()] == [1]
