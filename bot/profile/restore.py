"""Putting values back: `/undo` (what a person's last change through the bot replaced) and the
end of a temporary change (what it replaced, unless the field was changed elsewhere since).

Both go through the one change path (bot.profile.changes), under the person's lock, and only
touch fields that still hold what the bot set: a change made elsewhere (the Rocket.Chat client)
always wins. On Rocket.Chat 8.6+ the server ends a temporary status itself, but to "online"
with no text rather than to what was there before (presenceEngine.ts: a manual claim keeps no
previous state), so the bot still puts that back; what the server's expiry leaves is not a
change made elsewhere (`ended_by_server_expiry`).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import TYPE_CHECKING, Final

from bot.core.clock import Clock
from bot.core.credentials import Credentials
from bot.core.errors import UserError
from bot.profile.changes import ChangePath
from bot.profile.locks import PersonLocks
from bot.profile.model import (
    UNDOABLE_FIELDS,
    Account,
    Actor,
    Cause,
    Profile,
    UndoOutcome,
    custom_with,
    label_of,
    labels,
)
from bot.profile.reader import ProfileReader
from bot.profile.reverts import STATUS_GROUP

if TYPE_CHECKING:
    from bot.storage.automation import PendingRevert

log = logging.getLogger(__name__)

CLAIM_SOURCES: Final = frozenset({"manual", "internal", "external"})  # presenceEngine.ts


def ended_by_server_expiry(pending: PendingRevert, profile: Profile, now: datetime) -> bool:
    """Whether `profile` is what Rocket.Chat 8.6's expiry job leaves when the status the bot
    set with `expiresAt` ends: past the deadline, online with no text and no claim (no
    statusSource, no statusExpiresAt). A person who cleared their status by hand meanwhile
    looks the same, and gets the earlier status back, as they would have without the clear."""
    return (
        pending.group == STATUS_GROUP
        and now >= pending.due_at
        and profile.presence == "online"
        and not profile.status_text
        and profile.status_source not in CLAIM_SOURCES
        and not profile.status_expires_at
    )


@dataclass(frozen=True, slots=True)
class Handover:
    """What to show when a temporary change ends while a lower one is still under way."""

    fields: Mapping[str, str]
    cause: Cause
    until: datetime | None


class Restorer:
    """Undo and expiry: the two ways a change is taken back."""

    def __init__(
        self,
        reader: ProfileReader,
        changes: ChangePath,
        locks: PersonLocks,
        *,
        clock: Clock,
        prefix: str = "/",
    ) -> None:
        self._reader = reader
        self._changes = changes
        self._locks = locks
        self._clock = clock
        self.prefix = prefix

    async def revert(self, pending: PendingRevert, *, then: Handover | None = None) -> bool:
        """Put back a temporary change that fell due; False when the fields no longer hold what
        the bot set (changed elsewhere) or the revert is gone, and nothing was changed.

        `then`: instead of what the change replaced, show these values (a lower status layer
        still under way, bot.automation.layers), and put back what was there before both
        when `then.until` comes (never, for a lasting one)."""
        books = self._changes.books
        if books is None:
            return False
        actor = Account(pending.user_id, pending.username)
        async with self._locks.hold(pending.user_id):
            latest = await books.reverts.get(pending.user_id, pending.group)
            if latest is None or latest.due_at > self._now():
                return False  # cancelled or moved meanwhile
            credentials = await self._reader.credentials(actor)
            profile = await self._reader.read(actor, credentials)
            now = profile.values()
            moved = [key for key, value in latest.expected.items() if now.get(key, "") != value]
            expired = self._changes.server.has_presence_engine and ended_by_server_expiry(
                latest, profile, self._now()
            )
            if moved and not expired:
                log.info(
                    "left the %s of %s alone: changed elsewhere since the bot set it",
                    latest.group,
                    latest.user_id,
                )
                await books.reverts.cancel(latest.user_id, [latest.group])
                return False
            if then is not None:
                await self._hand_over(actor, credentials, profile, latest, then)
                return True
            await self._changes.commit(
                actor,
                credentials,
                profile,
                latest.restore,
                label=label_of(latest.restore),
                cause=Cause("expiry"),
                custom_fields=custom_with(profile, latest.restore),
            )
            return True

    async def _hand_over(
        self,
        actor: Account,
        credentials: Credentials,
        profile: Profile,
        latest: PendingRevert,
        then: Handover,
    ) -> None:
        """Show `then.fields` as a lasting change, then (for a temporary one) keep the original
        values to put back at `then.until`: the revert is written here rather than by the
        change path, which would take what the server's expiry left (8.6) for the original."""
        books = self._changes.books
        assert books is not None
        await self._changes.commit(
            actor,
            credentials,
            profile,
            then.fields,
            label=label_of(then.fields),
            cause=then.cause,
            custom_fields=custom_with(profile, then.fields),
        )
        if then.until is None or then.until <= self._now():
            return
        await books.reverts.schedule(
            replace(latest, due_at=then.until, expected=dict(then.fields), cause=str(then.cause))
        )

    async def undo(self, actor: Actor) -> UndoOutcome:
        """Put back what the sender's last change through the bot replaced (never e-mail,
        username or password: those are not profile changes and leave no undo point)."""
        books = self._changes.books
        if books is None:
            raise UserError("Undo is not available on this bot.")
        credentials = await self._reader.credentials(actor)
        async with self._locks.hold(actor.sender_id):
            again = await self._undone_before(actor, credentials)
            if again is not None:
                return again
            point = await books.store.get_undo_point(actor.sender_id)
            if point is None:
                raise UserError(
                    "There is nothing to undo: I have not changed your profile since your last "
                    f"undo. `{self.prefix}undo` puts back what your last change through me "
                    f"replaced ({UNDOABLE_FIELDS})."
                )
            profile = await self._reader.read(actor, credentials)
            now = profile.values()
            back = {
                key: old for key, (old, new) in point.changes.items() if now.get(key, "") == new
            }
            elsewhere = tuple(
                key
                for key, (old, new) in point.changes.items()
                if now.get(key, "") not in (old, new)
            )
            if not back:
                await books.store.delete_undo_point(actor.sender_id)
                raise UserError(_nothing_to_put_back(point.cause, elsewhere))
            restored = await self._changes.commit(
                actor,
                credentials,
                profile,
                back,
                label=label_of(back),
                cause=Cause("undo"),
                custom_fields=custom_with(profile, back),
                detail={"undone": point.cause, "elsewhere": list(elsewhere)},
            )
        return UndoOutcome(restored=restored, changed_elsewhere=elsewhere, undone=point.cause)

    async def _undone_before(self, actor: Actor, credentials: Credentials) -> UndoOutcome | None:
        """This /undo ran before and got its change to Rocket.Chat, but the process stopped
        before its answer was recorded: settle it and answer as that run would have."""
        books = self._changes.books
        earlier = await books.intended(actor) if books is not None else None
        if earlier is None or "undone" not in earlier.detail:
            return None
        made = {str(i["field"]): (str(i["old"]), str(i["new"])) for i in earlier.changes}
        now = (await self._reader.read(actor, credentials)).values()
        if not all(now.get(key, "") == new for key, (_, new) in made.items()):
            return None  # it never reached Rocket.Chat: undo as if for the first time
        before = {**now, **{key: old for key, (old, _) in made.items()}}
        after = {key: new for key, (_, new) in made.items()}
        await self._changes.record(actor, before, after, made, Cause("undo"), None)
        return UndoOutcome(
            restored=made,
            changed_elsewhere=tuple(earlier.detail.get("elsewhere", ())),
            undone=str(earlier.detail["undone"]),
        )

    def _now(self) -> datetime:
        return self._clock.now()


def _nothing_to_put_back(cause: str, elsewhere: tuple[str, ...]) -> str:
    if elsewhere:
        one = len(elsewhere) == 1
        return (
            f"I can't undo your last change ({cause}): your {labels(elsewhere)} changed "
            f"elsewhere since, so I left {'it' if one else 'them'} as "
            f"{'it is' if one else 'they are'}."
        )
    return f"Your last change ({cause}) is already undone: your profile has the values from before it."
