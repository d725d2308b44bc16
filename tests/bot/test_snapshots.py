"""ProfileSnapshots: trusted only with the same token, only for max_age, and never kept longer."""

from __future__ import annotations

from bot.core.credentials import Credentials
from bot.profile.model import Profile
from bot.profile.snapshots import ProfileSnapshots


class Ticks:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


ALICE = Credentials("u-alice", "token-a")


def profile(user_id: str, nickname: str = "") -> Profile:
    return Profile(user_id=user_id, username=user_id, nickname=nickname)


def test_a_snapshot_is_trusted_until_it_is_max_age_old() -> None:
    ticks = Ticks()
    snapshots = ProfileSnapshots(30.0, ticks)
    snapshots.put(ALICE, profile("u-alice", "Ali"))
    ticks.now += 29.9
    seen = snapshots.get(ALICE)
    assert seen is not None and seen.nickname == "Ali"
    ticks.now += 0.1
    assert snapshots.get(ALICE) is None


def test_only_the_credentials_it_was_read_with_may_use_it() -> None:
    snapshots = ProfileSnapshots(30.0, Ticks())
    snapshots.put(ALICE, profile("u-alice"))
    assert snapshots.get(Credentials("u-alice", "a-new-token")) is None
    assert snapshots.get(Credentials("u-bob", "token-a")) is None


def test_max_age_zero_keeps_nothing() -> None:
    snapshots = ProfileSnapshots(0.0, Ticks())
    snapshots.put(ALICE, profile("u-alice"))
    assert snapshots.get(ALICE) is None
    assert len(snapshots) == 0


def test_drop_forgets_and_old_snapshots_are_let_go() -> None:
    ticks = Ticks()
    snapshots = ProfileSnapshots(10.0, ticks)
    for number in range(1000):
        snapshots.put(Credentials(f"u{number}", "t"), profile(f"u{number}"))
    snapshots.drop("u5")
    assert len(snapshots) == 999
    ticks.now += 5
    snapshots.put(Credentials("u0", "t"), profile("u0", "again"))  # refreshed: now the youngest
    ticks.now += 6
    snapshots.put(ALICE, profile("u-alice"))
    assert len(snapshots) == 2  # everything older than 10 s went when the next one came
    seen = snapshots.get(Credentials("u0", "t"))
    assert seen is not None and seen.nickname == "again"
