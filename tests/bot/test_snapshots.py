"""ProfileSnapshots: trusted only with the same token, for max_age, and past it only for the status
while the realtime API keeps it exact (every event fed in by hand, in the server's order)."""

from __future__ import annotations

from bot.core.credentials import Credentials
from bot.profile.model import Profile
from bot.profile.snapshots import GRACE_SECONDS, ProfileSnapshots
from bot.rocketchat.user_status import UserStatusEvent


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


# -- kept exact by the realtime API (user-status events) beyond the window ------------------

STATUS = ("presence", "status_text")


def status_profile(presence: str, text: str = "", shown: str | None = None) -> Profile:
    shown = presence if shown is None else shown
    return Profile(
        user_id="u-alice",
        username="alice",
        presence=presence,
        status_text=text,
        shown_status=shown,
    )


def event(shown: str, text: str = "", user_id: str = "u-alice") -> UserStatusEvent:
    return UserStatusEvent(user_id=user_id, shown=shown, text=text)


BOB = Credentials("u-bob", "token-b")


def proven(snapshots: ProfileSnapshots) -> None:
    """A change of bob's from online to busy, announced: presence changes are announced."""
    window = snapshots.opened("u-bob", before=Profile("u-bob", "bob", shown_status="online"))
    snapshots.status_changed(event("busy", user_id="u-bob"))
    busy = Profile("u-bob", "bob", presence="busy", shown_status="busy")
    snapshots.changed(BOB, busy, window)
    snapshots.closed(window)


def watched(ticks: Ticks, start: Profile) -> ProfileSnapshots:
    snapshots = ProfileSnapshots(30.0, ticks)
    snapshots.watching(1)
    snapshots.put(ALICE, start)
    ticks.now += 31
    proven(snapshots)
    return snapshots


def test_past_the_window_only_the_status_is_kept_and_only_while_announced() -> None:
    ticks = Ticks()
    snapshots = watched(ticks, status_profile("online"))
    assert snapshots.get(ALICE, STATUS) is not None
    assert snapshots.get(ALICE, ("bio",)) is None
    ticks.now += 30  # no announced change of ours for a whole window: not proven any more
    assert snapshots.get(ALICE, STATUS) is None


def test_an_exact_announcement_updates_the_status_and_a_doubtful_one_forgets_it() -> None:
    ticks = Ticks()
    snapshots = watched(ticks, status_profile("online"))
    snapshots.status_changed(event("busy", "In a meeting"))
    seen = snapshots.get(ALICE, STATUS)
    assert seen is not None and (seen.presence, seen.status_text) == ("busy", "In a meeting")
    snapshots.status_changed(event("away", "In a meeting"))  # chosen, or idle? unknown
    assert snapshots.get(ALICE, STATUS) is None
    ticks.now -= 31  # even a young snapshot is no longer trusted for the status
    assert snapshots.get(ALICE, STATUS) is None


def test_a_change_that_is_not_announced_means_the_server_stopped_announcing() -> None:
    ticks = Ticks()
    snapshots = watched(ticks, status_profile("online"))
    window = snapshots.opened("u-bob", before=Profile("u-bob", "bob", shown_status="busy"))
    snapshots.changed(BOB, Profile("u-bob", "bob", presence="away", shown_status="away"), window)
    snapshots.closed(window)
    assert snapshots.get(ALICE, STATUS) is not None  # its announcement may still come
    ticks.now += GRACE_SECONDS + 0.1
    assert snapshots.get(ALICE, STATUS) is None


def test_what_a_change_announces_is_its_own_and_anything_else_leaves_it_in_doubt() -> None:
    ticks = Ticks()
    snapshots = watched(ticks, status_profile("online"))
    start = status_profile("online")
    after = status_profile("away", "Lunch")
    window = snapshots.opened("u-alice", before=start)
    snapshots.status_changed(event("online", "Lunch"))  # the text first, then the presence
    snapshots.changed(ALICE, after, window)
    snapshots.closed(window)
    snapshots.status_changed(event("away", "Lunch"))  # late, but the change's own
    ticks.now += 31
    proven(snapshots)
    seen = snapshots.get(ALICE, STATUS)
    assert seen is not None and seen.status_text == "Lunch"

    window = snapshots.opened("u-alice", before=after)
    snapshots.status_changed(event("busy", "Set elsewhere meanwhile"))
    snapshots.changed(ALICE, status_profile("online", "Back"), window)
    snapshots.closed(window)
    assert snapshots.get(ALICE, STATUS) is None


def test_a_read_answered_while_a_change_was_announced_is_not_trusted_for_the_status() -> None:
    ticks = Ticks()
    snapshots = watched(ticks, status_profile("online"))
    window = snapshots.opened("u-alice")
    snapshots.status_changed(event("busy", "Meeting"))  # before or after the read? unknown
    snapshots.read(ALICE, status_profile("online"), window)
    snapshots.closed(window)
    assert snapshots.get(ALICE, STATUS) is None
    assert snapshots.get(ALICE, ("bio",)) is not None  # the window still vouches for the rest


def test_nothing_is_kept_past_the_window_from_an_earlier_connection_or_offline() -> None:
    ticks = Ticks()
    snapshots = watched(ticks, status_profile("online"))
    snapshots.watching(None)
    snapshots.watching(2)
    proven(snapshots)
    assert snapshots.get(ALICE, STATUS) is None
    offline = watched(ticks, status_profile("offline"))  # a change while away is not announced
    assert offline.get(ALICE, STATUS) is None
    disconnected = watched(ticks, status_profile("busy", shown="offline"))
    assert disconnected.get(ALICE, STATUS) is None
