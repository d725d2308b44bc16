"""What the bot last saw of each person's profile, so a burst of changes needs no read per change.

Rocket.Chat answers `users.updateOwnBasicInfo` with the whole user as it is after the change, so
after one read (`GET me`) a person's next changes can start from what the server last said
instead of asking again. That is exact unless the profile was also changed elsewhere (the
Rocket.Chat client, another bot) in between, so a snapshot is only trusted for `max_age`
seconds, only with the token it was read with, and only in one process (never across replicas).
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bot.core.credentials import Credentials
    from bot.profile.model import Profile


@dataclass(frozen=True, slots=True)
class _Seen:
    profile: Profile
    credentials: Credentials
    at: float


class ProfileSnapshots:
    """Profiles as Rocket.Chat last returned them, by user id, each trusted for `max_age` s.

    `max_age` 0 turns them off: every change then reads the profile first.
    """

    def __init__(self, max_age: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.max_age = max_age
        self._clock = clock
        self._seen: OrderedDict[str, _Seen] = OrderedDict()  # oldest first

    def get(self, credentials: Credentials) -> Profile | None:
        """The profile last seen with exactly these credentials, if it is young enough."""
        seen = self._seen.get(credentials.user_id)
        if seen is None or seen.credentials != credentials:
            return None
        if self._clock() - seen.at >= self.max_age:
            return None
        return seen.profile

    def put(self, credentials: Credentials, profile: Profile) -> None:
        """Remember `profile` as the server's answer for the owner of `credentials`, now."""
        if self.max_age <= 0:
            return
        now = self._clock()
        self._seen[credentials.user_id] = _Seen(profile, credentials, now)
        self._seen.move_to_end(credentials.user_id)
        self._forget_older_than(now - self.max_age)

    def drop(self, user_id: str) -> None:
        """Forget what was seen of `user_id` (a failed change: the server's state is unknown)."""
        self._seen.pop(user_id, None)

    def __len__(self) -> int:
        return len(self._seen)

    def _forget_older_than(self, moment: float) -> None:
        while self._seen:
            oldest = next(iter(self._seen.values()))
            if oldest.at > moment:
                return  # the rest are younger
            self._seen.popitem(last=False)
