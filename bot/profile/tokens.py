"""Delegated tokens: a user's personal access token, checked, stored encrypted, used, forgotten.

The user id always comes from the server's sender field (`ctx.sender_id`), never from the text.
A token is accepted only when `GET me` with (sender id, token) answers with the sender's own id;
then it is stored (the store encrypts it) and the DM message that carried it is deleted with that
same token. A token posted in a room is refused and never stored; its message is deleted if the
token allows it, and the user is asked to regenerate it.

No token ever appears in a reply, a log line or an exception message: only user ids and names.
"""

from __future__ import annotations

import hashlib
import logging
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from bot.core.context import CommandContext
from bot.core.credentials import Credentials
from bot.core.errors import AuthError, RateLimited, ServerError, UserError

if TYPE_CHECKING:
    from bot.rocketchat.rest import RestClient
    from bot.storage.store import DelegatedToken, Store

log = logging.getLogger(__name__)

NOT_TOKENS_KEPT = 10_000


def _fingerprint(candidate: str) -> str:
    return hashlib.blake2b(candidate.encode(), digest_size=12).hexdigest()


def token_howto(prefix: str = "/") -> str:
    """How to create a personal access token in Rocket.Chat and hand it to the bot."""
    return (
        "To create a personal access token in Rocket.Chat:\n"
        "1. Click your avatar → Account → Personal Access Tokens.\n"
        "2. Type a name (for example “profile bot”) and click Add. Tick “Ignore Two Factor "
        "Authentication” only if you want to.\n"
        "3. Copy the token Rocket.Chat shows you (it is shown only once).\n"
        f"4. Send it to me here, in our direct messages: `{prefix}token set <token>`\n"
        "I check it with Rocket.Chat, keep it encrypted, and delete your message right away. "
        f"`{prefix}token forget` removes it again. If Personal Access Tokens is missing from your "
        "account menu, ask an admin to give you the “create-personal-access-tokens” permission."
    )


def posted_in_room(deleted: bool, *, what: str, renew: str, again: str) -> str:
    """What someone who posted a secret in a room is told: `what` it was ("a token"), how to
    `renew` it, and how to send it `again`. One sentence for every secret, so the advice
    stays the same."""
    cleanup = (
        "I deleted your message"
        if deleted
        else "I could not delete your message, so please delete it yourself right away"
    )
    return (
        f"Please never post {what} in a room: everyone there can read it. I did not store "
        f"it, and {cleanup}. Because others may have seen it, treat it as leaked and "
        f"{renew}, then send {again}"
    )


class NoTokenError(UserError):
    """The sender has not given the bot a token yet; the message explains how to."""

    def __init__(self, prefix: str = "/") -> None:
        super().__init__(
            "I need your personal access token before I can change your profile for you.\n"
            + token_howto(prefix)
        )


class TokenUnreadable(UserError):
    """The sender's stored token cannot be decrypted (another key, or a damaged copy)."""

    def __init__(self, prefix: str = "/") -> None:
        super().__init__(
            "I have a token stored for you, but I can't read it (the bot's key was changed or "
            "the stored copy is damaged), so I can't act for you and nothing was changed. "
            f"Please send it to me again: `{prefix}token set <token>`."
        )


class TokenRejected(UserError):
    """Rocket.Chat rejected the sender's stored token (401); it is now marked invalid."""

    def __init__(self, prefix: str = "/", *, earlier: bool = False) -> None:
        when = "earlier" if earlier else "just now"
        super().__init__(
            f"Rocket.Chat rejected your personal access token {when} (it may have been removed, "
            "regenerated or expired), so I can't act for you and nothing was changed. Please "
            f"create a new token and send it to me with `{prefix}token set <token>`.\n"
            + token_howto(prefix)
        )


def _when(stored_at: datetime) -> str:
    return stored_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


class TokenService:
    """The `/token` commands and the credentials every profile change runs with."""

    def __init__(self, store: Store, rest: RestClient, *, prefix: str = "/") -> None:
        self._store = store
        self._rest = rest
        self.prefix = prefix
        # How a token is checked, if not with a plain GET me: the profile service has the
        # answer remembered as a snapshot too.
        self.read_me: Callable[[Credentials], Awaitable[dict[str, Any]]] | None = None
        # (user id, fingerprint) of words Rocket.Chat refused as that user's token: a flood of
        # lookalikes costs one call each, once.
        self._not_tokens: OrderedDict[tuple[str, str], None] = OrderedDict()

    async def credentials(self, ctx: CommandContext) -> Credentials:
        """The sender's stored credentials; NoTokenError or TokenRejected when unusable."""
        return await self.credentials_for(ctx.sender_id)

    async def credentials_for(self, user_id: str) -> Credentials:
        """The stored credentials of `user_id`; NoTokenError or TokenRejected when unusable."""
        token = await self._store.get_token(user_id)
        if token is None:
            raise NoTokenError(self.prefix)
        if not token.readable:
            raise TokenUnreadable(self.prefix)
        if not token.valid:
            raise TokenRejected(self.prefix, earlier=True)
        return token.credentials

    async def rejected(self, ctx: CommandContext) -> TokenRejected:
        """Mark the sender's token invalid after a 401 and return the error to raise."""
        return await self.rejected_for(ctx.sender_id)

    async def rejected_for(self, user_id: str) -> TokenRejected:
        """Mark the token of `user_id` invalid after a 401 and return the error to raise."""
        await self._store.mark_token_invalid(user_id)
        log.warning("Rocket.Chat rejected the delegated token of %s", user_id)
        return TokenRejected(self.prefix)

    async def set(self, ctx: CommandContext, token: str) -> str:
        """Check `token` with GET me, store it, and delete the message that carried it."""
        credentials = Credentials(user_id=ctx.sender_id, token=str(token))
        if not ctx.is_direct:
            deleted = await self._delete_message(ctx, credentials)
            log.warning("refused a token posted outside a DM by %s", ctx.sender_id)
            raise UserError(self._posted_in_room(deleted))
        try:
            me = await (self.read_me or self._rest.me)(credentials)
        except AuthError:
            raise UserError(
                f"Rocket.Chat did not accept that token for your account (@{ctx.sender_username})"
                ", so I did not store it. Check that it is your own token, copied whole, and that "
                "it has not been removed or regenerated since."
            ) from None
        except RateLimited as exc:
            raise UserError(
                "Rocket.Chat asks me to slow down, so I could not check your token. I did not "
                f"store it; please send it again in {max(1, round(exc.retry_after))} seconds."
            ) from None
        except ServerError:
            raise UserError(
                "I could not check your token with Rocket.Chat right now, so I did not store it. "
                "Please try again in a moment."
            ) from None
        if me.get("_id") != ctx.sender_id:
            # Cannot happen with a well-behaved server (it checks the id and the token together).
            log.warning("GET me answered another user for a token sent by %s", ctx.sender_id)
            raise UserError(
                "That token belongs to another account, so I did not store it. Please send me "
                "your own personal access token."
            )
        username = str(me.get("username") or ctx.sender_username)
        await self._store.put_token(user_id=ctx.sender_id, username=username, token=str(token))
        deleted = await self._delete_message(ctx, credentials)
        cleanup = (
            "I deleted your message so the token doesn't stay in our chat."
            if deleted
            else "I could not delete your message, so please delete it yourself so the token "
            "doesn't stay in our chat."
        )
        return (
            f"Thanks, @{username}! Your token works and I stored it, encrypted. {cleanup} "
            f"Now try `{self.prefix}status away` or `{self.prefix}help`."
        )

    def _posted_in_room(self, deleted: bool) -> str:
        return posted_in_room(
            deleted,
            what="a token",
            renew="regenerate it now (avatar → Account → Personal Access Tokens → Regenerate, "
            "or remove it and add a new one)",
            again=f"the new token to me here, in our direct messages: `{self.prefix}token set "
            "<token>`",
        )

    async def take_back_secret(self, ctx: CommandContext) -> bool:
        """Delete the message `ctx` came in, as its author, with their stored token (another
        secret than a token posted where it must not be); False when that is not possible."""
        try:
            credentials = await self.credentials(ctx)
        except UserError:
            return False
        return await self._delete_message(ctx, credentials)

    async def take_back(self, ctx: CommandContext, candidates: list[str]) -> str | None:
        """Delete a message that holds one of the sender's live tokens, and forget that token if
        it is the one stored; the sentence for the sender, or None when no candidate is a token
        of theirs (the message is then left as it is).

        The message is deleted as its author with the candidate itself: only a token of the
        sender's gets past Rocket.Chat's check, so a word that merely looks like one, or
        someone else's token, changes nothing.
        """
        for candidate in candidates:
            key = (ctx.sender_id, _fingerprint(candidate))
            if key in self._not_tokens:
                continue
            credentials = Credentials(user_id=ctx.sender_id, token=candidate)
            try:
                await self._rest.delete_message(
                    credentials, room_id=ctx.room_id, message_id=ctx.message.original_id
                )
                deleted = True
            except AuthError:
                self._remember_not_a_token(key)
                continue
            except ServerError as exc:
                if exc.status == 0:
                    log.warning(
                        "could not check a token-shaped word of %s: %s",
                        ctx.sender_id,
                        exc.error_type,
                    )
                    continue
                deleted = False  # it logged in, so it is a token; deleting was not allowed
            log.warning("took back a token of %s from a message", ctx.sender_id)
            if ctx.is_direct:  # private: nobody else saw it
                return self._posted_in_dm(deleted)
            forgotten = await self._forget_if_stored(ctx.sender_id, candidate)
            return self._posted_in_room(deleted) + (
                " I also forgot the copy I had stored." if forgotten else ""
            )
        return None

    def _remember_not_a_token(self, key: tuple[str, str]) -> None:
        self._not_tokens[key] = None
        if len(self._not_tokens) > NOT_TOKENS_KEPT:
            self._not_tokens.popitem(last=False)

    async def _forget_if_stored(self, user_id: str, token: str) -> bool:
        stored = await self._store.get_token(user_id)
        if stored is None or stored.credentials.token != token:
            return False
        return await self._store.forget_token(user_id)

    def _posted_in_dm(self, deleted: bool) -> str:
        cleanup = (
            "so I deleted it to keep it out of our chat history"
            if deleted
            else "and I could not delete it, so please delete it yourself"
        )
        return (
            f"That message held your personal access token, {cleanup}. I did not store it from "
            f"there: to give me a token, send it alone or as `{self.prefix}token set <token>`, "
            "as a new message."
        )

    async def _delete_message(self, ctx: CommandContext, credentials: Credentials) -> bool:
        """Delete the command message as its author; False when Rocket.Chat does not allow it."""
        try:
            await self._rest.delete_message(
                credentials, room_id=ctx.room_id, message_id=ctx.message.original_id
            )
        except ServerError as exc:
            log.info(
                "could not delete the token message of %s (HTTP %s, %s)",
                ctx.sender_id,
                exc.status,
                exc.error_type,
            )
            return False
        return True

    async def status(self, ctx: CommandContext) -> str:
        """Whether a token is stored for the sender and whether Rocket.Chat still accepts it."""
        token: DelegatedToken | None = await self._store.get_token(ctx.sender_id)
        if token is None:
            return "I don't have a token for you yet.\n" + token_howto(self.prefix)
        since = _when(token.stored_at)
        if not token.readable:
            return (
                f"I have a token for you (stored {since}), but I can't read it (the bot's key "
                "was changed or the stored copy is damaged), so I can't use it. Please send it "
                f"to me again: `{self.prefix}token set <token>`."
            )
        if not token.valid:
            return (
                f"I have a token for you (stored {since}), but Rocket.Chat rejected it, so I "
                f"can't use it. Please create a new one and send it with "
                f"`{self.prefix}token set <token>`."
            )
        try:
            me = await self._rest.me(token.credentials)
        except AuthError:
            raise await self.rejected(ctx) from None
        except ServerError:
            return (
                f"I have a token for you (stored {since}), but I could not check it with "
                "Rocket.Chat right now. Please ask again in a moment."
            )
        if me.get("_id") != ctx.sender_id:
            raise await self.rejected(ctx)
        return f"I have a token for you (stored {since}), and Rocket.Chat still accepts it."

    async def forget(self, ctx: CommandContext) -> str:
        """Delete the sender's stored token."""
        if await self._store.forget_token(ctx.sender_id):
            return (
                "Done: I deleted your token. To revoke it in Rocket.Chat as well, remove it under "
                "avatar → Account → Personal Access Tokens."
            )
        return "I had no token stored for you, so there was nothing to forget."
