"""The bot's own account: how it logs in, and the REST credentials that login gives.

The bot logs in with a username and password, or with a user id and a personal access token.
The realtime login returns a login token that REST accepts too, so REST calls made as the bot
use it while it is connected; before that (or without a connection, as in `rcbot doctor`) a
personal access token is used as it is, and a password means one REST login, kept until
Rocket.Chat refuses it. This is the one place that turns the bot's settings into credentials.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from bot.core.credentials import Credentials
from bot.rocketchat.server_info import ServerInfo

if TYPE_CHECKING:
    from bot.rocketchat.rest import RestClient
    from bot.rocketchat.transport import RealtimeConnection


class Secret(Protocol):
    """A setting that hides its value (pydantic's SecretStr)."""

    def get_secret_value(self) -> str: ...


class LoginSettings(Protocol):
    """The settings the bot logs in with (bot.app.config.BotSettings has them)."""

    @property
    def username(self) -> str | None: ...
    @property
    def password(self) -> Secret | None: ...
    @property
    def user_id(self) -> str | None: ...
    @property
    def auth_token(self) -> Secret | None: ...


@dataclass(frozen=True)
class BotLogin:
    """What the bot logs in with: username + password, or user id + personal access token."""

    username: str | None = None
    password: str | None = field(default=None, repr=False)
    user_id: str | None = None
    auth_token: str | None = field(default=None, repr=False)

    @classmethod
    def from_settings(cls, settings: LoginSettings) -> BotLogin:
        """The login in the settings, secrets unwrapped."""
        return cls(
            username=settings.username,
            password=settings.password.get_secret_value() if settings.password else None,
            user_id=settings.user_id,
            auth_token=settings.auth_token.get_secret_value() if settings.auth_token else None,
        )

    @property
    def uses_password(self) -> bool:
        return not (self.user_id and self.auth_token)


class BotAccount:
    """Logs the bot in over the realtime API and hands out its REST credentials."""

    def __init__(
        self,
        login: BotLogin,
        rest: RestClient,
        connection: RealtimeConnection | None = None,
        *,
        server: ServerInfo | None = None,
    ) -> None:
        self.login = login
        self._rest = rest
        self._connection = connection
        self._rest_login: Credentials | None = None
        self.server = server or ServerInfo()

    async def connect(self) -> None:
        """Open the realtime connection, log in (the last login's resume token first), and read
        which Rocket.Chat answered: it may have been upgraded while the bot was away."""
        await self._log_in()
        await self.server.refresh(self._rest)

    async def _log_in(self) -> None:
        assert self._connection is not None
        connection, login = self._connection, self.login
        resume_token = connection.resume_token
        if not login.uses_password:
            assert login.user_id and login.auth_token
            username = connection.username
            if not username:
                me = await self._rest.me(Credentials(login.user_id, login.auth_token))
                username = str(me["username"])
            await connection.connect(
                username=username, resume_token=resume_token or login.auth_token
            )
            return
        await connection.connect(
            username=str(login.username), password=login.password or "", resume_token=resume_token
        )

    def current(self) -> Credentials | None:
        """The credentials of the realtime login, or the token configured; None before a
        password login has happened."""
        connection = self._connection
        if connection is not None and connection.resume_token and connection.user_id:
            return Credentials(connection.user_id, connection.resume_token)
        if not self.login.uses_password:
            assert self.login.user_id and self.login.auth_token
            return Credentials(self.login.user_id, self.login.auth_token)
        return self._rest_login

    async def credentials(self, *, fresh: bool = False) -> Credentials:
        """Credentials for REST calls as the bot; `fresh` logs in again (after a 401)."""
        if not fresh:
            known = self.current()
            if known is not None:
                return known
        if not self.login.uses_password:
            assert self.login.user_id and self.login.auth_token
            return Credentials(self.login.user_id, self.login.auth_token)
        self._rest_login = await self._rest.login(
            username=str(self.login.username), password=self.login.password or ""
        )
        return self._rest_login
