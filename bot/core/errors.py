"""The bot's one error tree. Every failure reaches the user as a sentence, never a stack trace.

BotError
 ├── UserError            shown to the user as written
 │    └── UsageError      … followed by the command's usage line
 ├── DatabaseBusy         another process kept the bot's database locked too long
 ├── LoginRefused         Rocket.Chat refused the bot's own login (at start-up: exit code 3)
 └── ServerError          a REST call failed (status, errorType, details from Rocket.Chat)
      ├── AuthError       401: the token is invalid or revoked
      ├── RateLimited     429 / error-too-many-requests: retry after `retry_after` seconds
      ├── TwoFactorRequired   totp-required: `method` says which code to ask for
      └── TwoFactorInvalid    totp-invalid / totp-max-attempts

Beside it, for admins rather than users: ConfigError (the configuration or the database cannot be
used as it is; each problem names its setting), with DatabaseUnusable for a database that is
corrupt, read-only or locked.
"""

from __future__ import annotations

from typing import Any


class BotError(Exception):
    """Base of every error the bot raises on purpose."""


class UserError(BotError):
    """Something the user can fix; the message is shown to them as written."""


class UsageError(UserError):
    """A command was called wrongly; the dispatcher adds the usage line."""


class DatabaseBusy(BotError):
    """Another process held the bot's database locked for longer than the bot waits."""


class LoginRefused(BotError):
    """Rocket.Chat refused the bot's own credentials: waiting will not help, the admin must."""


class ServerError(BotError):
    """Rocket.Chat answered a REST call with an error.

    `error_type` is Rocket.Chat's `errorType` (or the bare `error` when there is none); the
    message never contains request headers, so it never contains a token. `may_have_applied`:
    the request reached the server and its outcome is unknown (no answer in time, a connection
    lost after sending, a 5xx), so it may still be applied, later.
    """

    def __init__(
        self,
        message: str,
        *,
        status: int,
        error_type: str | None = None,
        details: Any = None,
        endpoint: str = "",
        may_have_applied: bool = False,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.error_type = error_type
        self.details = details
        self.endpoint = endpoint
        self.may_have_applied = may_have_applied


class AuthError(ServerError):
    """401: the credentials were not accepted (token revoked, expired or wrong)."""


class RateLimited(ServerError):
    """429 (or DDP error-too-many-requests): wait `retry_after` seconds before trying again."""

    def __init__(self, message: str, *, retry_after: float, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.retry_after = retry_after


class TwoFactorRequired(ServerError):
    """totp-required: the server wants a second factor; `method` is totp, email or password."""

    @property
    def method(self) -> str:
        details = self.details if isinstance(self.details, dict) else {}
        return str(details.get("method", "password"))


class TwoFactorInvalid(ServerError):
    """totp-invalid or totp-max-attempts: the code given was wrong."""


class ConfigError(Exception):
    """The configuration is unusable; the message names each bad key and what is expected."""

    def __init__(self, problems: str | list[str]) -> None:
        self.problems = [problems] if isinstance(problems, str) else list(problems)
        super().__init__("\n".join(self.problems))


class DatabaseUnusable(ConfigError):
    """The database exists but cannot be used as it is (corrupt, read-only, locked)."""
