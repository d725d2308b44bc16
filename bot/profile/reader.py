"""Reading someone's account with their own delegated token: `GET me`, checked to be theirs.

The token is the one they gave the bot (bot.profile.tokens); a 401 marks it invalid and says
what to do. A profile Rocket.Chat returned a moment ago (after a change, or a read) may stand in
for a read when a change starts (bot.profile.snapshots), never to conclude "already so".
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from bot.core.credentials import Credentials
from bot.core.errors import AuthError, ServerError
from bot.profile.model import Actor, Profile, ProfileRefused
from bot.profile.snapshots import ProfileSnapshots
from bot.profile.tokens import TokenRejected, TokenService

if TYPE_CHECKING:
    from bot.rocketchat.rest import RestClient

log = logging.getLogger(__name__)


class ProfileReader:
    """The account of whoever a change is for, read with their own token."""

    def __init__(
        self, rest: RestClient, tokens: TokenService, snapshots: ProfileSnapshots
    ) -> None:
        self._rest = rest
        self.tokens = tokens
        self.snapshots = snapshots

    async def credentials(self, actor: Actor) -> Credentials:
        """The actor's delegated token; NoTokenError, TokenRejected or TokenUnreadable."""
        return await self.tokens.credentials_for(actor.sender_id)

    async def rejected(self, actor: Actor) -> TokenRejected:
        """Rocket.Chat refused the actor's token: mark it invalid, return what to raise."""
        return await self.tokens.rejected_for(actor.sender_id)

    async def account(
        self, actor: Actor, credentials: Credentials, *, what: str = "profile"
    ) -> dict[str, Any]:
        """The actor's own user object (`GET me`), checked to be theirs; `what` names it in
        the sentence when it cannot be read ("profile", "account")."""
        try:
            user = await self._rest.me(credentials)
        except AuthError:
            raise await self.rejected(actor) from None
        except ServerError as exc:
            log.info("could not read the account of %s (HTTP %s)", actor.sender_id, exc.status)
            raise ProfileRefused(
                f"I could not read your {what} from Rocket.Chat right now, so nothing was "
                "changed. Please try again in a moment.",
                retryable=True,
                retry_after=float(getattr(exc, "retry_after", 0) or 0),
            ) from None
        if user.get("_id") != actor.sender_id:
            raise await self.rejected(actor)
        return user

    async def read(self, actor: Actor, credentials: Credentials) -> Profile:
        """The actor's profile as Rocket.Chat has it now (remembered as a snapshot)."""
        window = self.snapshots.opened(actor.sender_id)
        try:
            profile = Profile.from_user(await self.account(actor, credentials))
            self.snapshots.read(credentials, profile, window)
        finally:
            self.snapshots.closed(window)
        return profile

    async def verify(self, credentials: Credentials) -> dict[str, Any]:
        """`GET me` with a token someone is delegating (bot.profile.tokens checks the answer);
        when it is the token owner's account, it is remembered as a snapshot too."""
        window = self.snapshots.opened(credentials.user_id)
        try:
            user = await self._rest.me(credentials)
            if user.get("_id") == credentials.user_id:
                self.snapshots.read(credentials, Profile.from_user(user), window)
        finally:
            self.snapshots.closed(window)
        return user

    async def current(self, actor: Actor) -> Profile:
        """The actor's profile as Rocket.Chat has it now."""
        return await self.read(actor, await self.credentials(actor))

    async def starting_point(
        self, actor: Actor, credentials: Credentials, after: Mapping[str, str]
    ) -> Profile:
        """The profile a change to `after` starts from: the one Rocket.Chat returned a moment
        ago if there is one, else read now. "Already so" is never concluded from a snapshot."""
        seen = self.snapshots.get(credentials, after)
        if seen is not None:
            values = seen.values()
            if any(values.get(key, "") != value for key, value in after.items()):
                return seen
        return await self.read(actor, credentials)

    async def find_user(self, actor: Actor, username: str) -> tuple[str, str] | None:
        """(id, username) of the user called `username`, looked up with the actor's token;
        None when there is no such user."""
        credentials = await self.credentials(actor)
        try:
            answer = await self._rest.request(
                "GET", "users.info", credentials=credentials, params={"username": username}
            )
        except AuthError:
            raise await self.rejected(actor) from None
        except ServerError as exc:
            if exc.status == 400:
                return None  # "User not found."
            raise ProfileRefused(
                "I could not look that user up in Rocket.Chat right now. Please try again in a "
                "moment.",
                retryable=True,
            ) from None
        user = answer.get("user")
        if not isinstance(user, Mapping) or not user.get("_id"):
            return None
        return str(user["_id"]), str(user.get("username") or username)
