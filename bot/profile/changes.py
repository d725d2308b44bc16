"""The one path every change of someone's account takes to Rocket.Chat.

Ordinary fields (status, bio, nickname, display name, custom fields), for a command, a rule, an
expiry or an undo alike (`commit`): the fields that differ from the profile are written ahead
(bot.profile.bookkeeping), sent in one POST users.updateOwnBasicInfo with the person's token,
and settled. A change Rocket.Chat did not answer (a timeout, a connection lost after sending, a
5xx, which may come from a proxy that gave up) may still land later, so it is never sent again
blindly: after `in_doubt_wait` seconds the profile is read back; if it holds the change, the
change is done, if not it is sent again (up to `attempts` in all). A late copy can thus never
land after the person's next change, which waits behind it (the caller holds their lock).

The last step of an e-mail, username or password change (`submit`) takes the same road: written
ahead, sent with the second factor, settled when Rocket.Chat answers. It is never repeated (a
code is spent, a password changed): what to do when its outcome is unknown is the flow's to
decide, from what the account shows (bot.flows.sensitive).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any, Final

from bot.core.clock import Clock
from bot.core.credentials import Credentials, SecondFactor
from bot.core.errors import AuthError, ServerError
from bot.profile.bookkeeping import Bookkeeping
from bot.profile.model import (
    CLEARED,
    CLEARED_WITH_SPACE,
    CUSTOM,
    REQUEST_KEYS,
    Actor,
    Cause,
    Profile,
    explain_rejection,
    message_of,
)
from bot.profile.reader import ProfileReader

if TYPE_CHECKING:
    from bot.rocketchat.rest import RestClient

log = logging.getLogger(__name__)

IN_DOUBT_WAIT_SECONDS: Final = 10.0  # the in_doubt_wait setting's default


class ChangePath:
    """Writes ahead, calls users.updateOwnBasicInfo, and records what it did."""

    def __init__(
        self,
        rest: RestClient,
        reader: ProfileReader,
        bookkeeping: Bookkeeping | None,
        *,
        clock: Clock,
        attempts: int = 4,
        in_doubt_wait: float = IN_DOUBT_WAIT_SECONDS,
    ) -> None:
        self._rest = rest
        self._reader = reader
        self.books = bookkeeping
        self._clock = clock
        self._attempts = attempts
        self._in_doubt_wait = in_doubt_wait

    async def commit(
        self,
        actor: Actor,
        credentials: Credentials,
        profile: Profile,
        after: Mapping[str, str],
        *,
        label: str,
        cause: Cause,
        deadline: datetime | None = None,
        custom_fields: dict[str, Any] | None = None,
        detail: Mapping[str, Any] | None = None,
    ) -> dict[str, tuple[str, str]]:
        """Send the fields of `after` that differ from `profile`, then record the change.

        Returns field → (before, after) for what was sent. `deadline` makes it temporary;
        `detail` is what a re-run of the command needs to answer as this run does.

        A command's audit entry is written ahead, pending, keyed by its message id. If the
        command runs again (its replica or process stopped before it was recorded as handled)
        and finds its change already made, that entry says what it replaced: the change is
        settled and answered as the first run would have, not reported as "already" so.
        """
        before = profile.values()
        changes = {
            key: (before.get(key, ""), value)
            for key, value in after.items()
            if before.get(key, "") != value
        }
        books = self.books
        if books is not None and not changes:  # nothing to send: maybe an earlier run sent it
            earlier = await books.intended(actor)
            made = {
                str(i["field"]): (str(i["old"]), str(i["new"]))
                for i in (earlier.changes if earlier is not None else [])
            }
            if made and all(after.get(key) == new for key, (_, new) in made.items()):
                before = {**before, **{key: old for key, (old, _) in made.items()}}
                await self.record(actor, before, after, made, cause, deadline)
                return made
        elif books is not None:
            await books.intend(actor, changes, cause, at=self._clock.now(), detail=detail)
        if changes:
            sends_custom = any(key.startswith(CUSTOM) for key in changes)
            await self._update(
                actor,
                credentials,
                label,
                _request_data(changes),
                start=profile,
                expected={key: new for key, (_, new) in changes.items()},
                custom_fields=custom_fields if sends_custom else None,
            )
        await self.record(actor, before, after, changes, cause, deadline)
        return changes

    async def record(
        self,
        actor: Actor,
        before: Mapping[str, str],
        after: Mapping[str, str],
        changes: Mapping[str, tuple[str, str]],
        cause: Cause,
        deadline: datetime | None,
    ) -> None:
        """Settle a change in the bookkeeping (nothing without bookkeeping)."""
        if self.books is not None:
            await self.books.record(
                actor, before, after, changes, cause, at=self._clock.now(), deadline=deadline
            )

    async def _update(
        self,
        actor: Actor,
        credentials: Credentials,
        label: str,
        data: dict[str, Any],
        *,
        start: Profile,
        expected: Mapping[str, str],
        custom_fields: dict[str, Any] | None = None,
    ) -> None:
        """One POST users.updateOwnBasicInfo, and what to do when its outcome is unknown.

        `start` is the profile the change started from: what the realtime API announces while
        the change is in flight is judged against it (bot.profile.snapshots)."""
        snapshots = self._reader.snapshots
        for attempt in range(1, self._attempts + 1):
            window = snapshots.opened(actor.sender_id, before=start)
            try:
                user = await self._rest.update_own_basic_info(
                    credentials, data=data, custom_fields=custom_fields
                )
            except AuthError:
                snapshots.drop(actor.sender_id)
                raise await self._reader.rejected(actor) from None
            except ServerError as exc:
                snapshots.drop(actor.sender_id)
                log.info(
                    "updateOwnBasicInfo failed for a %s change of %s (HTTP %s, %s)",
                    label,
                    actor.sender_id,
                    exc.status,
                    exc.error_type,
                )
                if not exc.may_have_applied:
                    raise explain_rejection(exc, label) from None
                if await self._landed(actor, credentials, expected):
                    log.info("the %s change of %s had landed after all", label, actor.sender_id)
                    return
                if attempt == self._attempts:
                    raise explain_rejection(exc, label) from None
                continue
            else:
                log.info("changed the %s of %s", label, actor.sender_id)
                if user.get("_id") == actor.sender_id:
                    snapshots.changed(credentials, Profile.from_user(user), window)
                else:
                    snapshots.drop(actor.sender_id)
                return
            finally:
                snapshots.closed(window)

    async def _landed(
        self, actor: Actor, credentials: Credentials, expected: Mapping[str, str]
    ) -> bool:
        """After a change whose outcome is unknown: wait until a late copy of it can no longer
        arrive, then tell from a fresh read whether the profile holds `expected`."""
        await asyncio.sleep(self._in_doubt_wait)
        now = (await self._reader.read(actor, credentials)).values()
        return all(now.get(key, "") == value for key, value in expected.items())

    # -- e-mail, username, password ---------------------------------------------------------

    async def submit(
        self,
        actor: Actor,
        credentials: Credentials,
        change: Mapping[str, Any],
        *,
        audited: Mapping[str, tuple[Any, Any] | None],
        cause: str,
        second_factor: SecondFactor | None = None,
        before_sending: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        """Send an e-mail, username or password change once, written ahead; raise whatever
        Rocket.Chat answers (TwoFactorRequired, …). When it may have been applied
        (`may_have_applied`), the entry stays pending until `settle` or `abandon` says."""
        message_id = message_of(actor)
        audit = self.books.audit if self.books is not None else None
        if audit is not None and message_id is not None:
            await audit.intend(
                message_id,
                user_id=actor.sender_id,
                username=actor.sender_username,
                changes=audited,
                cause=cause,
            )
        if before_sending is not None:
            await before_sending()
        try:
            await self._rest.update_own_basic_info(
                credentials, data=dict(change), second_factor=second_factor
            )
        except ServerError as exc:
            if not exc.may_have_applied and message_id is not None:
                await self.abandon(message_id)
            raise
        if message_id is not None:
            await self.settle(message_id, cause=cause)

    async def settle(self, message_id: str, *, cause: str) -> None:
        """The change written ahead for `message_id` happened (or may have: `cause` says)."""
        if self.books is not None:
            await self.books.audit.settle(message_id, cause=cause)

    async def abandon(self, message_id: str) -> None:
        """The change written ahead for `message_id` did not happen."""
        if self.books is not None:
            await self.books.audit.abandon(message_id)


def _request_data(changes: Mapping[str, tuple[str, str]]) -> dict[str, Any]:
    """The `data` of users.updateOwnBasicInfo for these changes (custom fields go apart)."""
    data: dict[str, Any] = {}
    for key, (_, value) in changes.items():
        if key in REQUEST_KEYS:
            empty = CLEARED if key in CLEARED_WITH_SPACE else value
            data[REQUEST_KEYS[key]] = value or empty
    return data
