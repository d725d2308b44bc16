"""What can go wrong with someone's calendar, as sentences they can act on.

UserError (bot.core.errors)
 └── CalendarError              base: every message names the problem and what to do
      ├── FeedAddressRefused    not http(s), no host, or an address this bot may not fetch
      ├── FeedUnreachable       no connection (unknown name, refused, TLS failure)
      ├── FeedTimeout           no complete answer within the time limit
      ├── FeedHTTPError         the server answered with an error status (`status`)
      ├── FeedTooManyRedirects  more redirects than the limit
      ├── FeedTooLarge          the body is over the size cap
      └── CalendarUnreadable    the body is not an iCalendar file, or too complex to expand

No message ever contains the fetched body or the calendar address (its path and query are often
the secret, like a token); at most the host name or the refused IP address. Errors raised here
never chain the library exception that caused them, whose text may hold either.
"""

from __future__ import annotations

from bot.core.errors import UserError


class CalendarError(UserError):
    """A calendar feed could not be fetched or read; the message is shown as written."""


class FeedAddressRefused(CalendarError):
    """The address is not one this bot may fetch (scheme, host, or a private network)."""


class FeedUnreachable(CalendarError):
    """The calendar server could not be reached at all."""


class FeedTimeout(CalendarError):
    """The calendar server did not give a complete answer in time."""


class FeedHTTPError(CalendarError):
    """The calendar server answered with an error status.

    `retry_after` is the server's own Retry-After in seconds (429 and 503), when it gave one.
    """

    def __init__(self, message: str, *, status: int, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.retry_after = retry_after


class FeedTooManyRedirects(CalendarError):
    """The address redirected more often than the limit allows."""


class FeedTooLarge(CalendarError):
    """The calendar is larger than the size cap."""


class CalendarUnreadable(CalendarError):
    """The answer is not an iCalendar file, or one too complex to expand safely."""
