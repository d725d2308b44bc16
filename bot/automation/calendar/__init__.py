"""Calendar-driven status, the self-contained core: fetch a person's ICS feed, expand it into
busy time, and say what that means now.

- `addresses`: which addresses may be fetched (`AddressPolicy`, checked in the resolver the
  connector uses, so DNS rebinding gains nothing) and `CalendarUrl`, a feed address that never
  shows itself or its credentials.
- `feed`: `FeedFetcher`, one vetted connection pool for every feed, with caps on size, time and
  redirects, conditional requests (ETag, Last-Modified) and bounded concurrency.
- `polling`: `FeedState` (validators, failures, next attempt) and `poll`, pure decisions with
  exponential backoff a scheduler stores and follows.
- `events`: `expand`, ICS text to `BusyInterval`s in UTC (recurrences, exceptions,
  cancellations, time zones, all-day events; free time dropped, private titles never kept).
- `worker`: `expand_within`, the same in a child process with a deadline and a memory cap,
  since a hostile feed can make expansion arbitrarily slow.
- `busy`: the busy block at a moment (merged meetings) and a one-line summary of the day.
- `errors`: `CalendarError` and its kinds, each a sentence the person can act on.

This package imports only `bot.core` and third-party libraries; commands, storage and the
status layering use it from above.
"""

from bot.automation.calendar.addresses import AddressPolicy, CalendarUrl, VettedResolver
from bot.automation.calendar.busy import (
    BusyBlock,
    all_day_at,
    busy_block_at,
    clock_text,
    local_day,
    status_window,
    summarise,
)
from bot.automation.calendar.errors import (
    CalendarError,
    CalendarUnreadable,
    FeedAddressRefused,
    FeedHTTPError,
    FeedTimeout,
    FeedTooLarge,
    FeedTooManyRedirects,
    FeedUnreachable,
)
from bot.automation.calendar.events import BusyInterval, expand, parse_calendar
from bot.automation.calendar.feed import (
    FeedContent,
    FeedFetcher,
    FeedLimits,
    FeedUnchanged,
    FetchResult,
    Validators,
)
from bot.automation.calendar.polling import FeedState, PollOutcome, PollPolicy, poll, poll_delay
from bot.automation.calendar.worker import expand_within

__all__ = [
    "AddressPolicy",
    "BusyBlock",
    "BusyInterval",
    "CalendarError",
    "CalendarUnreadable",
    "CalendarUrl",
    "FeedAddressRefused",
    "FeedContent",
    "FeedFetcher",
    "FeedHTTPError",
    "FeedLimits",
    "FeedState",
    "FeedTimeout",
    "FeedTooLarge",
    "FeedTooManyRedirects",
    "FeedUnchanged",
    "FeedUnreachable",
    "FetchResult",
    "PollOutcome",
    "PollPolicy",
    "Validators",
    "VettedResolver",
    "all_day_at",
    "busy_block_at",
    "clock_text",
    "expand",
    "expand_within",
    "local_day",
    "parse_calendar",
    "poll",
    "poll_delay",
    "status_window",
    "summarise",
]
