"""The bot's Prometheus metrics (prometheus-client, default registry), served on `/metrics`.

    rcbot_commands_total{command, outcome}   commands run; outcome is ok, refused (the user's
                                             input or state: usage, no token, ...), api_error,
                                             crashed, or unknown (no such command)
    rcbot_command_seconds{command}           time from a command's start to its answer sent
    rcbot_reconnects_total                   realtime connections opened again after a drop
    rcbot_api_errors_total{kind}             REST calls that failed after retries: auth,
                                             rate_limited, two_factor (a code refused; a code
                                             asked for is part of the flow, not an error),
                                             network, server (5xx), refused (other 4xx)
    rcbot_messages_refused_total{reason}     messages not handled: flood, busy (global limit),
                                             unreadable (too long, control characters)
    rcbot_connected                          1 while connected and logged in, else 0
    rcbot_rule_pattern_timeouts_total{rule}  messages a rule's pattern gave up on (too slow)
    rcbot_tokens_unreadable_total            stored tokens the configured key could not decrypt

Labels only take values from small fixed sets (command names come from the registry), so a
user cannot grow the number of series. The reconnect loop counts with `RECONNECTS.inc()`.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from typing import Any, Final

from prometheus_client import Counter, Gauge, Histogram

from bot.core.errors import (
    AuthError,
    RateLimited,
    ServerError,
    TwoFactorInvalid,
    TwoFactorRequired,
)

UNKNOWN_COMMAND: Final = "(unknown)"

COMMANDS = Counter(
    "rcbot_commands", "Commands run, by command and outcome.", ["command", "outcome"]
)
COMMAND_SECONDS = Histogram(
    "rcbot_command_seconds",
    "Seconds from a command's start until its answer was sent.",
    ["command"],
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0),
)
RECONNECTS = Counter(
    "rcbot_reconnects", "Times the realtime connection was opened again after a drop."
)
API_ERRORS = Counter(
    "rcbot_api_errors", "Rocket.Chat REST calls that failed after retries, by kind.", ["kind"]
)
MESSAGES_REFUSED = Counter(
    "rcbot_messages_refused",
    "Messages not handled because of flood control or unreadable text, by reason.",
    ["reason"],
)
RULE_PATTERN_TIMEOUTS = Counter(
    "rcbot_rule_pattern_timeouts",
    "Messages on which a message rule's pattern hit its time bound (counted as no match).",
    ["rule"],
)
TOKENS_UNREADABLE = Counter(
    "rcbot_tokens_unreadable",
    "Reads of a stored token that the configured key could not decrypt (the person is asked to "
    "send it again).",
)
CONNECTED = Gauge("rcbot_connected", "1 while connected and logged in to Rocket.Chat, else 0.")


def observe_command(command: str, outcome: str, seconds: float) -> None:
    """Count one finished command and record how long it took."""
    count, duration = _command_series(command, outcome)
    count.inc()
    duration.observe(seconds)


@functools.cache
def _command_series(command: str, outcome: str) -> tuple[Counter, Histogram]:
    # Looking a labelled series up costs more than updating it; the label sets are few.
    return COMMANDS.labels(command, outcome), COMMAND_SECONDS.labels(command)


def error_kind(error: ServerError) -> str:
    """A REST failure as one word of a fixed set (for the `kind` label)."""
    if isinstance(error, AuthError):
        return "auth"
    if isinstance(error, RateLimited):
        return "rate_limited"
    if isinstance(error, TwoFactorInvalid):
        return "two_factor"
    if error.status == 0:
        return "network"
    return "server" if error.status >= 500 else "refused"


def count_api_errors(client: Any, method: str = "request") -> None:
    """Make `client.<method>` (an async method, e.g. RestClient.request) count the ServerErrors
    it raises, without the client knowing about metrics."""
    original: Callable[..., Awaitable[Any]] = getattr(client, method)

    @functools.wraps(original)
    async def counted(*args: Any, **kwargs: Any) -> Any:
        try:
            return await original(*args, **kwargs)
        except TwoFactorRequired:
            raise  # the server asks for a code: a question to pass on, not a failure
        except ServerError as error:
            API_ERRORS.labels(kind=error_kind(error)).inc()
            raise

    setattr(client, method, counted)
