"""The rule engine against the real store and a scripted profile service: who a rule acts for,
and what happens when one person's change fails (retries with backoff, then a DM)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.automation.engine import RuleEngine, retry_delay
from bot.automation.model import parse_rules
from bot.automation.schedule import FireRule, Job, RetryRule
from bot.core.clock import ManualClock
from bot.core.crypto import generate_key
from bot.core.errors import UserError
from bot.profile.model import Account, Cause, ProfileRefused
from bot.profile.tokens import NoTokenError, TokenRejected
from bot.storage.automation import AutomationStore
from bot.storage.store import Store

START = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
TOKEN = "Ab3dEfGhIjKlMnOpQrStUvWxYz0123456789abcdefg"
USERS = {"u-alice": "alice", "u-bob": "bob", "u-carol": "carol", "u-dave": "dave"}
RULES = parse_rules(
    [
        {
            "name": "evening",
            "trigger": {"schedule": "0 17 * * *"},
            "users": {"usernames": ["alice", "bob", "carol"]},
            "change": {"status": "away", "for": "14h"},
        },
        {
            "name": "team",
            "trigger": {"schedule": "0 9 * * *"},
            "users": {"room": "team"},
            "change": {"status": "busy"},
        },
        {
            "name": "focus",
            "trigger": {"schedule": "0 10 * * *"},
            "users": {"opted_in": True},
            "change": {"status_text": "Focus"},
        },
    ]
)


class ScriptedProfile:
    """ProfileService.apply, failing for some people as scripted."""

    def __init__(self) -> None:
        self.failures: dict[str, list[Exception]] = {}
        self.applied: list[tuple[str, dict[str, str], str, timedelta | None]] = []

    async def apply(
        self,
        actor: Account,
        fields: Mapping[str, str],
        *,
        cause: Cause,
        duration: timedelta | None = None,
    ) -> dict[str, tuple[str, str]]:
        script = self.failures.get(actor.sender_username)
        if script:
            raise script.pop(0)
        self.applied.append((actor.sender_username, dict(fields), str(cause), duration))
        return {key: ("", value) for key, value in fields.items()}


class Members:
    def __init__(self, rooms: dict[str, set[str]]) -> None:
        self.rooms = rooms

    async def members_among(self, room: str, user_ids: Iterable[str]) -> set[str]:
        return {uid for uid in user_ids if uid in self.rooms.get(room, set())}


@dataclass
class Harness:
    tokens: Store
    store: AutomationStore
    engine: RuleEngine
    profile: ScriptedProfile
    clock: ManualClock
    scheduled: list[tuple[datetime, Job]]
    told: list[tuple[str, str]]

    def retries(self) -> list[tuple[timedelta, RetryRule]]:
        return [
            (when - self.clock.now(), job)
            for when, job in self.scheduled
            if isinstance(job, RetryRule)
        ]


@pytest.fixture
async def harness(tmp_path: Path) -> AsyncIterator[Harness]:
    store = await Store.open(tmp_path / "bot.db", secret_key=generate_key())
    for user_id, username in USERS.items():
        await store.put_token(user_id=user_id, username=username, token=TOKEN)
    automation = AutomationStore(store)
    clock = ManualClock(START)
    profile = ScriptedProfile()
    scheduled: list[tuple[datetime, Job]] = []
    told: list[tuple[str, str]] = []

    async def notify(username: str, text: str) -> None:
        told.append((username, text))

    engine = RuleEngine(
        RULES,
        profile=profile,  # type: ignore[arg-type]
        store=automation,
        members=Members({"team": {"u-alice", "u-dave"}}),  # type: ignore[arg-type]
        schedule=lambda when, job: scheduled.append((when, job)),
        clock=clock,
        default_zone=UTC,
        notify=notify,
    )
    yield Harness(store, automation, engine, profile, clock, scheduled, told)
    await store.close()


async def test_arming_puts_one_entry_per_schedule_rule(harness: Harness) -> None:
    harness.engine.arm()
    fires = [(when.hour, job.rule) for when, job in harness.scheduled if isinstance(job, FireRule)]
    assert sorted(fires) == [
        (9, "team"),
        (10, "focus"),
        (17, "evening"),
    ]


async def test_each_selector_picks_its_people_minus_those_who_opted_out(harness: Harness) -> None:
    engine, store = harness.engine, harness.store
    evening, team, focus = RULES
    assert sorted(u.username for u in await engine.targets(evening)) == ["alice", "bob", "carol"]
    assert sorted(u.username for u in await engine.targets(team)) == ["alice", "dave"]
    assert await engine.targets(focus) == []

    await store.set_choice("u-bob", "evening", "out", START)
    await store.set_choice("u-carol", "focus", "in", START)
    await store.set_choice("u-alice", "team", "out", START)
    assert sorted(u.username for u in await engine.targets(evening)) == ["alice", "carol"]
    assert [u.username for u in await engine.targets(team)] == ["dave"]
    assert [u.username for u in await engine.targets(focus)] == ["carol"]


async def test_a_rejected_token_drops_out_of_the_next_firing(harness: Harness) -> None:
    evening = RULES[0]
    await harness.tokens.mark_token_invalid("u-bob")  # as ProfileService does on a 401
    assert sorted(u.username for u in await harness.engine.targets(evening)) == ["alice", "carol"]


async def test_a_failing_person_is_retried_with_backoff_and_then_told(harness: Harness) -> None:
    server_trouble = ProfileRefused("Rocket.Chat had a problem.", retryable=True)
    harness.profile.failures["bob"] = [server_trouble] * 4

    await harness.engine.fire("evening")

    assert sorted(name for name, *_ in harness.profile.applied) == ["alice", "carol"]
    assert harness.profile.applied[0][2:] == ("rule evening", timedelta(hours=14))
    delays = []
    for _ in range(3):
        ((delay, job),) = harness.retries()
        delays.append(delay)
        harness.scheduled.clear()
        await harness.engine.retry(job)
    assert delays == [timedelta(minutes=1), timedelta(minutes=2), timedelta(minutes=4)]
    assert harness.retries() == []
    ((username, text),) = harness.told
    assert username == "bob" and "The rule “evening” could not change your profile" in text


async def test_a_retry_that_succeeds_tells_nobody(harness: Harness) -> None:
    harness.profile.failures["bob"] = [TokenRejected()]
    await harness.engine.fire("evening")
    ((_, job),) = harness.retries()
    await harness.engine.retry(job)
    assert "bob" in [name for name, *_ in harness.profile.applied] and harness.told == []


async def test_a_refusal_that_retrying_cannot_fix_is_told_at_once(harness: Harness) -> None:
    harness.profile.failures["bob"] = [UserError("An admin has turned off status messages.")]
    harness.profile.failures["carol"] = [NoTokenError()]
    await harness.engine.fire("evening")
    assert harness.retries() == []
    assert [name for name, _ in harness.told] == ["bob"]  # carol removed her token: silence


async def test_a_rate_limit_hint_stretches_the_backoff() -> None:
    assert retry_delay(1) == timedelta(minutes=1)
    assert retry_delay(1, hint=300) == timedelta(minutes=5)
    assert retry_delay(10) == timedelta(minutes=15)


async def test_someone_who_opted_out_meanwhile_is_not_retried(harness: Harness) -> None:
    harness.profile.failures["bob"] = [ProfileRefused("trouble", retryable=True)]
    await harness.engine.fire("evening")
    ((_, job),) = harness.retries()
    await harness.store.set_choice("u-bob", "evening", "out", START)
    await harness.engine.retry(job)
    assert "bob" not in [name for name, *_ in harness.profile.applied]


async def test_firing_rearms_from_now(harness: Harness) -> None:
    await harness.clock.advance(to=START + timedelta(days=3))
    await harness.engine.fire("evening")
    fires = [when for when, job in harness.scheduled if isinstance(job, FireRule)]
    assert fires == [datetime(2026, 1, 8, 17, 0, tzinfo=UTC)]
