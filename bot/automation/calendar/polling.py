"""When to fetch a feed again: pure data a scheduler stores per person, and pure decisions.

A healthy feed is fetched every `PollPolicy.interval` with its validators (so most polls are a
304). A failing one is retried after `first_retry`, then twice as long each time up to
`max_backoff`, or later if the server asked so (Retry-After). A small, stable per-feed offset
(`jitter`, from the feed's key) keeps thousands of feeds from polling in the same second.
`poll` puts a fetch and these decisions together and never raises a CalendarError.

A 304 says the calendar is unchanged, not that the intervals kept from it still reach far
enough ahead: the window slides, and the ICS text is not kept. So the state remembers how far
the kept intervals reach (`expanded_until`, set by the scheduler after expanding), and once less
than `PollPolicy.min_horizon` is left, `poll` asks without validators and gets the whole file.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from bot.automation.calendar.addresses import CalendarUrl
from bot.automation.calendar.errors import CalendarError, FeedHTTPError
from bot.automation.calendar.feed import FeedContent, FeedFetcher, Validators


@dataclass(frozen=True, slots=True)
class PollPolicy:
    """How often feeds are fetched, and how a failing one backs off."""

    interval: timedelta = timedelta(minutes=15)
    first_retry: timedelta = timedelta(minutes=1)
    max_backoff: timedelta = timedelta(hours=6)
    jitter: float = 0.1  # up to this fraction of each delay, added, stable per feed
    min_horizon: timedelta = timedelta(hours=24)  # fetch whole when the intervals end sooner


@dataclass(frozen=True, slots=True)
class FeedState:
    """What the scheduler keeps about one feed between polls (no address, no content).

    `next_attempt` None means due now; `last_error` is the last failure's sentence, safe to
    show the person (`/calendar status`); it is cleared by the next success. `expanded_until`
    is the end of the window the kept intervals were expanded for.
    """

    validators: Validators = field(default_factory=Validators)
    next_attempt: datetime | None = None
    failures: int = 0
    last_success: datetime | None = None
    last_error: str | None = None
    expanded_until: datetime | None = None

    def due(self, now: datetime) -> bool:
        return self.next_attempt is None or self.next_attempt <= now

    def expanded(self, until: datetime) -> FeedState:
        """The state once fresh content was expanded into intervals up to `until`."""
        return replace(self, expanded_until=until)

    def validators_for(self, now: datetime, policy: PollPolicy) -> Validators:
        """The validators to send now: none when the kept intervals end too soon."""
        if self.expanded_until is None or self.expanded_until - now < policy.min_horizon:
            return Validators()
        return self.validators

    def succeeded(
        self, now: datetime, validators: Validators, policy: PollPolicy, *, key: str = ""
    ) -> FeedState:
        """The state after a fetch that worked (fresh content or 304)."""
        return replace(
            self,
            validators=validators,
            next_attempt=now + poll_delay(0, policy, key=key),
            failures=0,
            last_success=now,
            last_error=None,
        )

    def failed(
        self,
        now: datetime,
        error: CalendarError,
        policy: PollPolicy,
        *,
        key: str = "",
        forget_validators: bool = False,
    ) -> FeedState:
        """The state after a failure. `forget_validators` when the content came but could not
        be read: the next poll must fetch it whole rather than hear 304 about it."""
        failures = self.failures + 1
        retry_after = error.retry_after if isinstance(error, FeedHTTPError) else None
        return replace(
            self,
            validators=Validators() if forget_validators else self.validators,
            next_attempt=now + poll_delay(failures, policy, retry_after=retry_after, key=key),
            failures=failures,
            last_error=str(error),
        )

    def as_record(self) -> dict[str, Any]:
        """A JSON-ready dict for storage (`from_record` reads it back)."""
        return {
            "etag": self.validators.etag,
            "last_modified": self.validators.last_modified,
            "next_attempt": _iso(self.next_attempt),
            "failures": self.failures,
            "last_success": _iso(self.last_success),
            "last_error": self.last_error,
            "expanded_until": _iso(self.expanded_until),
        }

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> FeedState:
        return cls(
            validators=Validators(record.get("etag"), record.get("last_modified")),
            next_attempt=_parse_iso(record.get("next_attempt")),
            failures=int(record.get("failures") or 0),
            last_success=_parse_iso(record.get("last_success")),
            last_error=record.get("last_error"),
            expanded_until=_parse_iso(record.get("expanded_until")),
        )


def poll_delay(
    failures: int, policy: PollPolicy, *, retry_after: float | None = None, key: str = ""
) -> timedelta:
    """How long to wait before the next fetch after `failures` failures in a row (0: healthy)."""
    if failures <= 0:
        base = policy.interval
    else:
        # 2 ** n grows past any cap quickly; stop doubling once it would.
        doublings = min(failures - 1, 32)
        base = min(policy.max_backoff, policy.first_retry * (2**doublings))
        if retry_after is not None:
            base = max(base, min(timedelta(seconds=retry_after), policy.max_backoff))
    return base + base * (policy.jitter * _spread(key))


def _spread(key: str) -> float:
    """A number in [0, 1) that is the same for a key in every process."""
    digest = hashlib.blake2b(key.encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


def _parse_iso(text: Any) -> datetime | None:
    return datetime.fromisoformat(text) if isinstance(text, str) and text else None


@dataclass(frozen=True, slots=True)
class PollOutcome:
    """One poll: the state to keep, the fresh content (None when unchanged or failed), and the
    error when it failed."""

    state: FeedState
    content: FeedContent | None = None
    error: CalendarError | None = None

    @property
    def unchanged(self) -> bool:
        return self.content is None and self.error is None


async def poll(
    fetcher: FeedFetcher,
    url: CalendarUrl,
    state: FeedState,
    now: datetime,
    policy: PollPolicy,
    *,
    key: str = "",
) -> PollOutcome:
    """Fetch `url` and decide the next attempt; never raises a CalendarError (it is in the
    outcome). `key` (e.g. the person's id) spreads the polls. After fresh content, expand it and
    keep `outcome.state.expanded(window_end)`."""
    try:
        result = await fetcher.fetch(url, state.validators_for(now, policy))
    except CalendarError as error:
        return PollOutcome(state.failed(now, error, policy, key=key), error=error)
    new_state = state.succeeded(now, result.validators, policy, key=key)
    if isinstance(result, FeedContent):
        return PollOutcome(new_state, content=result)
    return PollOutcome(new_state)
