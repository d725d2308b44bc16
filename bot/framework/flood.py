"""Flood control: what the bot refuses to read, and how many commands it takes per minute.

Two checks run on every new message before it can reach a command or a conversation:

* `screen_text` refuses text the bot will not read at all: longer than `max_message_length`
  (a 100 KB message costs parsing and regex time for nothing; no command needs more than a few
  hundred characters), or with characters no person types: NUL and other control characters
  (tab and line breaks are fine) and lone UTF-16 surrogates (they cannot even be encoded).
* `FloodGate.admit` counts commands per sender and in total, in fixed windows of `window`
  seconds. Over either limit, the sender gets one polite notice and then silence until their
  own window resets; nothing they send meanwhile runs, so a flood costs the bot a dict lookup.

The clock is injected (the bot passes its own), so tests move time instead of waiting.
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

# C0 controls except tab, LF, CR; DEL; C1 controls. Format characters (zero-width joiners in
# emoji, bidi marks) are left alone: people do send them.
_CONTROL: Final = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
_SURROGATE: Final = re.compile(r"[\ud800-\udfff]")
_PRUNE_FLOOR: Final = 1024


def screen_text(text: str, *, max_length: int | None) -> str | None:
    """None when the bot may read `text`; otherwise a sentence for the sender saying why not.

    `max_length` None means no length limit. The sentence never repeats the text (it may be a
    secret).
    """
    if max_length is not None and len(text) > max_length:
        return (
            f"That message is too long for me: {len(text):,} characters, and I read at most "
            f"{max_length:,}. No command needs that much; please send a shorter one."
        )
    if _SURROGATE.search(text):
        return (
            "I can't read that message: it contains broken characters (invalid UTF-16). "
            "Please type it again."
        )
    if _CONTROL.search(text):
        return (
            "I can't read that message: it contains control characters (such as NUL) that no "
            "keyboard types. Please type it again without them."
        )
    return None


def readable_head(text: str, length: int = 200) -> str:
    """The start of `text` with unreadable characters replaced, to tell whether it is a command."""
    head = _SURROGATE.sub("\ufffd", text[:length])
    return _CONTROL.sub(" ", head)


@dataclass
class _Window:
    """Commands counted since `started`; `notified` once the sender was told to slow down."""

    started: float
    count: int = 0
    notified: bool = False


@dataclass(frozen=True)
class Admission:
    """The gate's answer: run it, or not (and then maybe a notice to send, once per window).

    `reason` says which limit refused it: "flood" (the sender's own) or "busy" (the global one).
    """

    allowed: bool
    notice: str | None = None
    reason: str = ""


ALLOWED: Final = Admission(allowed=True)


class FloodGate:
    """Per-sender and global command limits over fixed windows; a limit of 0 means none."""

    def __init__(
        self,
        *,
        per_user: int,
        global_limit: int,
        window: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if window <= 0:
            raise ValueError("window must be greater than 0")
        self.per_user = per_user
        self.global_limit = global_limit
        self.window = window
        self._clock = clock
        self._users: dict[str, _Window] = {}
        self._all: _Window | None = None
        self._prune_at = _PRUNE_FLOOR

    def admit(self, user_id: str) -> Admission:
        """Count one command of `user_id` if it may run; otherwise refuse it."""
        now = self._clock()
        user = self._users.get(user_id)
        if user is None or now - user.started >= self.window:
            user = self._users[user_id] = _Window(started=now)
            self._prune(now)
        if self._all is None or now - self._all.started >= self.window:
            self._all = _Window(started=now)
        if self.per_user and user.count >= self.per_user:
            return self._refuse(user, now, busy=False)
        if self.global_limit and self._all.count >= self.global_limit:
            return self._refuse(user, now, busy=True)
        user.count += 1
        self._all.count += 1
        return ALLOWED

    def _refuse(self, user: _Window, now: float, *, busy: bool) -> Admission:
        reason = "busy" if busy else "flood"
        if user.notified:
            return Admission(allowed=False, reason=reason)
        user.notified = True
        wait = max(1, math.ceil(user.started + self.window - now))
        if busy:
            notice = (
                "I'm getting more commands than I can handle right now, so I'm not taking "
                f"yours for a moment. Please send it again in {wait} seconds; until then I "
                "won't answer."
            )
        else:
            notice = (
                f"Slow down, please: I take at most {self.per_user} "
                f"command{'s' if self.per_user != 1 else ''} per "
                f"{_describe_window(self.window)} from one person. I'll ignore what you send "
                f"for the next {wait} seconds; then send it again."
            )
        return Admission(allowed=False, notice=notice, reason=reason)

    def _prune(self, now: float) -> None:
        """Forget senders whose window has passed, once the table doubled since last time."""
        if len(self._users) < self._prune_at:
            return
        self._users = {
            user_id: window
            for user_id, window in self._users.items()
            if now - window.started < self.window
        }
        self._prune_at = max(_PRUNE_FLOOR, 2 * len(self._users))


def _describe_window(seconds: float) -> str:
    if seconds == 60:
        return "minute"
    if seconds == 3600:
        return "hour"
    if seconds % 60 == 0:
        return f"{int(seconds // 60)} minutes"
    return f"{seconds:g} seconds"
