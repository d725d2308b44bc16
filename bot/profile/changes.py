"""The one path every change of someone's account takes to Rocket.Chat.

Ordinary fields (status, bio, nickname, display name, custom fields), for a command, a rule, an
expiry or an undo alike (`commit`): the fields that differ from the profile are written ahead
(bot.profile.bookkeeping), sent in one POST users.updateOwnBasicInfo with the person's token,
and settled. A change Rocket.Chat did not answer (a timeout, a connection lost after sending, a
5xx, which may come from a proxy that gave up) may still land later, so it is never sent again
blindly: after `in_doubt_wait` seconds the profile is read back; if it holds the change, the
change is done, if not it is sent again (up to `attempts` in all). A late copy can thus never
land after the person's next change, which waits behind it (the caller holds their lock).

On Rocket.Chat 8.6 and newer (bot.rocketchat.server_info) presence and status text go through
POST users.setStatus instead, with `expiresAt` when the change is temporary, so that every
client shows "Until …" and the server ends the status even while the bot is down; the other
fields still go through users.updateOwnBasicInfo, first (one request or two, each settled as
above). While a call holds the status (statusSource `internal`), a person's own choice would
only wait behind it (presenceEngine.ts resolveIntent: internal outranks manual), so nothing is
sent and the person is told why.

The last step of an e-mail, username or password change (`submit`) takes the same road: written
ahead, sent with the second factor, settled when Rocket.Chat answers. It is never repeated (a
code is spent, a password changed): what to do when its outcome is unknown is the flow's to
decide, from what the account shows (bot.flows.sensitive).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import TYPE_CHECKING, Any, Final

from bot.core.clock import Clock
from bot.core.credentials import Credentials, SecondFactor
from bot.core.errors import AuthError, ServerError
from bot.core.wording import in_a_call, partly_changed
from bot.profile.bookkeeping import Bookkeeping
from bot.profile.model import (
    CLEARED,
    CLEARED_WITH_SPACE,
    CUSTOM,
    REQUEST_KEYS,
    Actor,
    Cause,
    Profile,
    ProfileRefused,
    explain_rejection,
    label_of,
    labels,
    message_of,
)
from bot.profile.reader import ProfileReader
from bot.profile.reverts import STATUS_FIELDS
from bot.rocketchat.server_info import ServerInfo

if TYPE_CHECKING:
    from bot.rocketchat.rest import RestClient

log = logging.getLogger(__name__)

IN_DOUBT_WAIT_SECONDS: Final = 10.0  # the in_doubt_wait setting's default
INVALID_DATE: Final = "error-invalid-date"  # 8.6 users.setStatus: expiresAt not in the future
CALL_SOURCE: Final = "internal"  # 8.6: a call or conference claims the status


@dataclass(frozen=True, slots=True)
class _Sent:
    """What a change request left: the profile as it is now, and whether only its status is
    known to be current (users.setStatus answers without the user)."""

    profile: Profile
    status_only: bool = False


class ChangePath:
    """Writes ahead, calls users.updateOwnBasicInfo (and users.setStatus on 8.6+), and records
    what it did. `server` says which Rocket.Chat answers (read at every reconnect)."""

    def __init__(
        self,
        rest: RestClient,
        reader: ProfileReader,
        bookkeeping: Bookkeeping | None,
        *,
        clock: Clock,
        server: ServerInfo | None = None,
        attempts: int = 4,
        in_doubt_wait: float = IN_DOUBT_WAIT_SECONDS,
    ) -> None:
        self._rest = rest
        self._reader = reader
        self.books = bookkeeping
        self._clock = clock
        self.server = server or ServerInfo()
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
        by_status_route = self.server.has_presence_engine and bool(changes.keys() & STATUS_FIELDS)
        if by_status_route and profile.status_source == CALL_SOURCE:
            # A call's claim outranks the person's own, which would only wait behind it.
            raise ProfileRefused(in_a_call(profile.presence, profile.status_text))
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
            custom = custom_fields if sends_custom else None
            if by_status_route:
                await self._send_by_status_route(
                    actor, credentials, profile, before, after, changes, cause, deadline, custom
                )
            else:
                await self._update(
                    actor,
                    credentials,
                    label,
                    _request_data(changes),
                    start=profile,
                    expected={key: new for key, (_, new) in changes.items()},
                    custom_fields=custom,
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
        *,
        partial: bool = False,
    ) -> None:
        """Settle a change in the bookkeeping (nothing without bookkeeping); `partial`: only
        `changes` of it went through."""
        if self.books is not None:
            await self.books.record(
                actor,
                before,
                after,
                changes,
                cause,
                at=self._clock.now(),
                deadline=deadline,
                partial=partial,
            )

    async def _send_by_status_route(
        self,
        actor: Actor,
        credentials: Credentials,
        profile: Profile,
        before: Mapping[str, str],
        after: Mapping[str, str],
        changes: Mapping[str, tuple[str, str]],
        cause: Cause,
        deadline: datetime | None,
        custom_fields: dict[str, Any] | None,
    ) -> None:
        """Rocket.Chat 8.6+: the status through users.setStatus (with the server's own expiry
        for a temporary one), the other fields first through users.updateOwnBasicInfo.

        updateOwnBasicInfo's statusType would be an untimed claim that drops the text with
        `online` (saveUserProfile.ts, PR #40274). The other fields go first because they are
        the ones Rocket.Chat may refuse for their value; if the status then fails, what did
        change is recorded and the person is told exactly that (never "nothing changed")."""
        others = {key: pair for key, pair in changes.items() if key not in STATUS_FIELDS}
        start = profile
        if others:
            # What the server answered is the freshest start for the status (snapshots).
            start = await self._update(
                actor,
                credentials,
                label_of({key: new for key, (_, new) in others.items()}),
                _request_data(others),
                start=profile,
                expected={key: new for key, (_, new) in others.items()},
                custom_fields=custom_fields,
            ) or replace(profile, user_id="")  # read back, not answered: remember nothing
        presence = after.get("presence", profile.presence)
        text = after.get("status_text", profile.status_text)
        try:
            await self._deliver(
                actor,
                credentials,
                "status",
                lambda: self._set_status(credentials, start, presence, text, deadline),
                start=start,
                expected={"presence": presence, "status_text": text},
            )
        except ServerError as exc:
            if not others:
                raise explain_rejection(exc, "status") from None
            landed = {key: value for key, value in after.items() if key in others}
            await self.record(actor, before, landed, others, cause, deadline, partial=True)
            refused = explain_rejection(exc, "status")
            raise ProfileRefused(
                partly_changed(labels(list(others)), exc, "status"),
                retryable=refused.retryable,
                retry_after=refused.retry_after,
            ) from None

    async def _set_status(
        self,
        credentials: Credentials,
        start: Profile,
        presence: str,
        text: str,
        deadline: datetime | None,
    ) -> _Sent:
        """One POST users.setStatus; a deadline becomes the server's `expiresAt`."""
        try:
            answer = await self._rest.set_status(
                credentials, status=presence, message=text, expires_at=deadline
            )
        except ServerError as exc:
            if deadline is None or exc.error_type != INVALID_DATE:
                raise
            # The server's clock is ahead of the bot's: the bot's own revert ends it instead.
            log.warning("Rocket.Chat refused a status expiry as past; is its clock right?")
            answer = await self._rest.set_status(credentials, status=presence, message=text)
        shown = "offline" if start.shown_status in ("", "offline") else presence
        claimed = presence != "online" or bool(text)
        after = replace(
            start,
            presence=presence,
            status_text=text,
            shown_status=shown,
            status_source="manual" if claimed else "",
            status_expires_at=str(answer.get("statusExpiresAt") or ""),
        )
        return _Sent(after, status_only=True)

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
    ) -> Profile | None:
        """One POST users.updateOwnBasicInfo (bot.profile.changes._deliver); the profile it
        answered, or None when it was in doubt and found landed by a read."""

        async def send() -> _Sent:
            user = await self._rest.update_own_basic_info(
                credentials, data=data, custom_fields=custom_fields
            )
            return _Sent(Profile.from_user(user))

        try:
            sent = await self._deliver(
                actor, credentials, label, send, start=start, expected=expected
            )
        except ServerError as exc:
            raise explain_rejection(exc, label) from None
        return sent.profile if sent is not None else None

    async def _deliver(
        self,
        actor: Actor,
        credentials: Credentials,
        label: str,
        send: Callable[[], Awaitable[_Sent]],
        *,
        start: Profile,
        expected: Mapping[str, str],
    ) -> _Sent | None:
        """Send one change request, and decide what to do when its outcome is unknown: wait,
        read back, and send again only if it did not land. Raises the last ServerError;
        returns what the server answered (None: it was in doubt and found landed).

        `start` is the profile the change started from: what the realtime API announces while
        the change is in flight is judged against it (bot.profile.snapshots)."""
        snapshots = self._reader.snapshots
        for attempt in range(1, self._attempts + 1):
            window = snapshots.opened(actor.sender_id, before=start)
            try:
                sent = await send()
            except AuthError:
                snapshots.drop(actor.sender_id)
                raise await self._reader.rejected(actor) from None
            except ServerError as exc:
                snapshots.drop(actor.sender_id)
                log.info(
                    "a %s change of %s failed (HTTP %s, %s)",
                    label,
                    actor.sender_id,
                    exc.status,
                    exc.error_type,
                )
                if not exc.may_have_applied:
                    raise
                if await self._landed(actor, credentials, expected):
                    log.info("the %s change of %s had landed after all", label, actor.sender_id)
                    return None
                if attempt == self._attempts:
                    raise
                continue
            else:
                log.info("changed the %s of %s", label, actor.sender_id)
                if sent.profile.user_id == actor.sender_id:
                    snapshots.changed(
                        credentials, sent.profile, window, status_only=sent.status_only
                    )
                else:
                    snapshots.drop(actor.sender_id)
                return sent
            finally:
                snapshots.closed(window)
        raise AssertionError("unreachable")  # pragma: no cover

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
