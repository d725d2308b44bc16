"""What the bot last saw of each person's profile, so that most changes need no read first.

Rocket.Chat answers `users.updateOwnBasicInfo` with the whole user as it is after the change,
and `GET me` with the whole user as it is; either may stand in for a read when the same person's
next change starts (never to conclude "already so": bot.profile.reader). Two reasons make a
snapshot still exact when that change starts:

* **Its age** (`max_age`, every field). Within the window a change made elsewhere (the
  Rocket.Chat client, the admin) is not seen; that is the price of the window, as before.
* **The realtime API** (only presence and status text, beyond the window). Rocket.Chat
  announces every change of someone's shown status or status text on `user-status`
  (bot.rocketchat.user_status), over the bot's own connection, in order, before the frames that
  follow it. A snapshot is kept exact by those events for as long as (1) it was taken on the
  connection the bot is still on (an event missed while disconnected is never re-sent); (2) no
  event since left its status in doubt: `online` and `busy` shown mean that presence was chosen
  (the snapshot takes the event's values), `away` and `offline` may also come from the
  connections (idle, gone), so they leave the presence unknown and the next change reads; events
  that arrive while a read or a change of ours is in flight are judged when it ends (what the
  change itself announces is expected, anything else leaves the status unknown); (3) what the
  snapshot shows is a chosen presence others see as it is (shown equal to presence, not
  offline), so that any change of the chosen presence changes what others see, which every
  version announces; (4) the server was seen announcing presence changes within the last
  `max_age` seconds: a change of ours that altered the shown status came back as an event.
  Rocket.Chat stops announcing presence when told to (Troubleshoot_Disable_Presence_Broadcast)
  or, without a licence, above 200 connections; the proof then goes stale within `max_age`,
  and from then on every change reads, so a change made elsewhere can be missed only in the
  window the age rule accepts anyway.

Only in one process: replicas (`max_age` 0) read every time.
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Final

from bot.rocketchat.user_status import UserStatusEvent

if TYPE_CHECKING:
    from bot.core.credentials import Credentials
    from bot.profile.model import Profile

STATUS_KEYS: Final = frozenset({"presence", "status_text"})
EXACT_SHOWN: Final = frozenset({"online", "busy"})  # shown only when chosen (processStatus)
GRACE_SECONDS: Final = 2.0  # how long after its answer a change's own events may still come
MAX_KEPT: Final = 50_000  # snapshots kept at most (the oldest go first)


@dataclass(slots=True)
class _Seen:
    profile: Profile
    credentials: Credentials
    at: float
    connection: int | None  # the connection whose events have kept it since; None: none
    status_known: bool = True  # False: an event left presence or status text in doubt


@dataclass(eq=False, slots=True)
class Window:
    """A read or a change of one person's profile in flight, and the events meanwhile.

    `before` is (shown status, status text) before a change of ours; None for a read.
    """

    user_id: str
    before: tuple[str, str] | None = None
    events: list[UserStatusEvent] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class _OwnEvents:
    """What a change of ours may announce: Rocket.Chat sets the text and the presence one after
    the other (saveUserProfile), each announced when it changed something, so every state on
    the way from `before` to `final` but `before` itself."""

    before: tuple[str, str]
    final: tuple[str, str]

    def includes(self, event: UserStatusEvent) -> bool:
        state = (event.shown, event.text)
        return (
            state != self.before
            and event.shown in (self.before[0], self.final[0])
            and event.text in (self.before[1], self.final[1])
        )


@dataclass(slots=True)
class _Tail:
    """After a change's answer: its own events that may still come, for `grace` seconds."""

    own: _OwnEvents
    until: float
    wants_proof: bool  # it altered the shown status, so the server must announce it


class ProfileSnapshots:
    """Profiles as Rocket.Chat last returned them, by user id (see the module's docstring).

    `max_age` 0 turns them off: every change then reads the profile first.
    """

    def __init__(
        self,
        max_age: float,
        clock: Callable[[], float] = time.monotonic,
        *,
        max_kept: int = MAX_KEPT,
        grace: float = GRACE_SECONDS,
    ) -> None:
        self.max_age = max_age
        self._clock = clock
        self._max_kept = max_kept
        self._grace = grace
        self._seen: OrderedDict[str, _Seen] = OrderedDict()  # oldest first
        self._open: dict[str, list[Window]] = {}
        self._tails: dict[str, _Tail] = {}
        self._tail_order: deque[tuple[float, str, _Tail]] = deque()
        self._connection: int | None = None
        self._announced_at: float | None = None  # the last proof that presence is announced

    # -- what a change starts from ------------------------------------------------------------

    def get(self, credentials: Credentials, keys: Iterable[str] = ()) -> Profile | None:
        """The profile last seen with exactly these credentials, if it is still exact for the
        fields `keys` (every field when empty)."""
        seen = self._seen.get(credentials.user_id)
        if seen is None or seen.credentials != credentials:
            return None
        wanted = frozenset(keys)
        asks_status = not wanted or bool(wanted & STATUS_KEYS)
        if asks_status and not seen.status_known:
            return None
        now = self._clock()
        if now - seen.at < self.max_age:
            return seen.profile
        if wanted and wanted <= STATUS_KEYS and self._kept_by_events(seen, now):
            return seen.profile
        return None

    def _kept_by_events(self, seen: _Seen, now: float) -> bool:
        self._end_tails(now)
        profile = seen.profile
        return (
            seen.connection is not None
            and seen.connection == self._connection
            and self._announced_at is not None
            and now - self._announced_at < self.max_age
            and profile.shown_status == profile.presence != "offline"
        )

    # -- what the server said ---------------------------------------------------------------

    def put(
        self,
        credentials: Credentials,
        profile: Profile,
        *,
        status_known: bool = True,
        keep_age: bool = False,
    ) -> None:
        """Remember `profile` as the server's answer for the owner of `credentials`, now
        (`keep_age`: only its status is new, so it is as old as what it replaces)."""
        if self.max_age <= 0:
            return
        now = self._clock()
        user_id = credentials.user_id
        at = now
        if keep_age:
            old = self._seen.get(user_id)
            at = old.at if old is not None and old.credentials == credentials else -math.inf
        self._seen[user_id] = _Seen(profile, credentials, at, self._connection, status_known)
        self._seen.move_to_end(user_id)
        self._let_go(now)

    def drop(self, user_id: str) -> None:
        """Forget what was seen of `user_id` (a failed change: the server's state is unknown)."""
        self._seen.pop(user_id, None)

    def opened(self, user_id: str, *, before: Profile | None = None) -> Window:
        """A read (or, with `before`, a change of ours) of `user_id` goes out now."""
        state = (before.shown_status, before.status_text) if before is not None else None
        window = Window(user_id, state)
        self._open.setdefault(user_id, []).append(window)
        return window

    def closed(self, window: Window) -> None:
        """The read or change of `window` is over (answered or not)."""
        windows = self._open.get(window.user_id)
        if windows is None:
            return
        if window in windows:
            windows.remove(window)
        if not windows:
            del self._open[window.user_id]

    def read(self, credentials: Credentials, profile: Profile, window: Window) -> None:
        """A read answered: events that came meanwhile may be newer than it."""
        self.put(credentials, profile, status_known=not window.events)

    def changed(
        self,
        credentials: Credentials,
        profile: Profile,
        window: Window,
        *,
        status_only: bool = False,
    ) -> None:
        """A change of ours answered with `profile`: keep it unless an event meanwhile was not
        the change's own, and expect its remaining events for a moment. `status_only`: the
        answer did not carry the user (users.setStatus), so only the status in `profile` is
        new and the other fields stay as old as they were."""
        final = (profile.shown_status, profile.status_text)
        before = window.before or final
        own = _OwnEvents(before, final)
        all_own = all(own.includes(event) for event in window.events)
        wants_proof = before[0] != final[0]
        if wants_proof and any(event.shown == final[0] for event in window.events):
            self._announced_at = self._clock()
            wants_proof = False
        self.put(credentials, profile, status_known=all_own, keep_age=status_only)
        ended = any((event.shown, event.text) == final for event in window.events)
        if all_own and not ended and before != final and self.max_age > 0:
            until = self._clock() + self._grace
            tail = _Tail(own, until, wants_proof)
            self._tails[window.user_id] = tail
            self._tail_order.append((until, window.user_id, tail))

    # -- the realtime API (bot.rocketchat.user_status.StatusListener) --------------------------

    def watching(self, connection: int | None) -> None:
        """Events come over connection number `connection` now (None: no connection)."""
        self._connection = connection
        if connection is None:
            self._announced_at = None

    def status_changed(self, event: UserStatusEvent) -> None:
        """Rocket.Chat announced `event`."""
        user_id = event.user_id
        windows = self._open.get(user_id)
        if windows:
            for window in windows:
                window.events.append(event)
            return
        tail = self._tails.get(user_id)
        if tail is not None:
            if tail.until >= self._clock() and tail.own.includes(event):
                final = tail.own.final
                if tail.wants_proof and event.shown == final[0]:
                    self._announced_at = self._clock()
                    tail.wants_proof = False
                if (event.shown, event.text) == final:
                    del self._tails[user_id]
                return
            del self._tails[user_id]
        seen = self._seen.get(user_id)
        if seen is None:
            return
        if event.shown in EXACT_SHOWN:
            seen.profile = replace(
                seen.profile,
                presence=event.shown,
                shown_status=event.shown,
                status_text=event.text,
                status_source=event.source,
            )
            seen.status_known = True
        else:
            seen.status_known = False

    # -- bookkeeping --------------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self._seen)

    def _end_tails(self, now: float) -> None:
        """Changes whose own events had time to come: one that altered the shown status and
        was never announced means the server stopped announcing presence."""
        order = self._tail_order
        while order and order[0][0] < now:
            _, user_id, tail = order.popleft()
            if tail.wants_proof:
                self._announced_at = None
            if self._tails.get(user_id) is tail:
                del self._tails[user_id]

    def _let_go(self, now: float) -> None:
        while len(self._seen) > self._max_kept:
            self._seen.popitem(last=False)
        while self._seen:
            oldest = next(iter(self._seen.values()))
            young = now - oldest.at < self.max_age
            if young or (oldest.connection is not None and oldest.connection == self._connection):
                return  # the rest are younger, or it may still be kept by the events
            self._seen.popitem(last=False)
