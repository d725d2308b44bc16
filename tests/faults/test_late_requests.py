"""A late request never overwrites a newer change: when Rocket.Chat does not answer a change in
time, the bot waits `in_doubt_wait` seconds (the request may still land meanwhile), reads the
profile back, and only then answers or sends the change again. The person's next command waits
behind it, so after everything settles their profile holds the last change the bot confirmed."""

from __future__ import annotations

from tests.e2e.conftest import PASSWORD
from tests.faults.conftest import FaultWorld, Talker, count, settle


async def ready(world: FaultWorld, **settings: float) -> Talker:
    await world.start_bot(**settings)
    alice = await world.person("alice")
    await alice.delegate()
    return alice


async def test_a_slow_change_that_lands_late_does_not_overwrite_the_next_one(
    fault_world: FaultWorld,
) -> None:
    alice = await ready(fault_world, request_timeout=0.5, in_doubt_wait=1.5)
    # The first change reaches Rocket.Chat only after the bot stopped waiting for the answer.
    await fault_world.sandbox.inject(endpoint="users.updateOwnBasicInfo", delay=1.0, count=1)
    assert "“First”" in await alice.ask("/nick First", "Nickname set")
    assert "“Second”" in await alice.ask("/nick Second", "Nickname set")
    await settle(1.5)  # anything still in flight lands now
    assert (await alice.profile())["nickname"] == "Second"
    answers = await alice.answers()
    assert count(answers, "“First”") == 1 and count(answers, "“Second”") == 1


async def test_a_change_that_never_lands_is_sent_again_after_the_wait(
    fault_world: FaultWorld,
) -> None:
    """A 502 from a proxy says nothing about Rocket.Chat behind it: read back, not there, send
    again; the person hears one answer."""
    alice = await ready(fault_world, in_doubt_wait=0.2)
    await fault_world.sandbox.inject(endpoint="users.updateOwnBasicInfo", status=502, count=1)
    assert "“Twice”" in await alice.ask("/nick Twice", "Nickname set")
    await settle()
    assert count(await alice.answers(), "“Twice”") == 1
    assert (await alice.profile())["nickname"] == "Twice"


async def test_a_change_that_landed_despite_an_error_is_confirmed_not_repeated(
    fault_world: FaultWorld,
) -> None:
    """Rocket.Chat applied the change but the answer was lost (slow past the timeout): the read
    back finds it, so the person is told it is done and it is not sent a second time."""
    alice = await ready(fault_world, request_timeout=0.3, in_doubt_wait=0.8, retry_attempts=1)
    await fault_world.sandbox.inject(endpoint="users.updateOwnBasicInfo", delay=0.5, count=1)
    assert "“Landed”" in await alice.ask("/nick Landed", "Nickname set")
    assert (await alice.profile())["nickname"] == "Landed"


async def test_an_email_change_answered_too_late_is_reported_done_not_failed(
    fault_world: FaultWorld,
) -> None:
    """The change carries a second factor, so it is never sent twice; its answer comes after
    the timeout, but the change is made: the read back finds it, and the person is told so."""
    alice = await ready(fault_world, request_timeout=0.5, in_doubt_wait=1.0)
    await alice.ask("/email alice.new@example.org", "(yes/no)")
    await alice.ask("yes", "current password")
    await fault_world.sandbox.inject(endpoint="users.updateOwnBasicInfo", delay=1.0, count=1)
    done = await alice.ask(PASSWORD, "email")
    assert "Done: your email address is now alice.new@example.org" in done
    assert count(await alice.answers(), "not changed") == 0
    assert (await alice.profile())["emails"][0]["address"] == "alice.new@example.org"
