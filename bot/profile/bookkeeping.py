"""What the bot remembers of every change it makes: the audit entry, the undo point, the reverts.

A change is written ahead before it goes to Rocket.Chat (its audit entry, pending, keyed by the
message that asked for it), then settled once it went through: the entry, the undo point (what
the change replaced) and the pending reverts of the field groups it touched, in one transaction
(a temporary change stores or moves a revert, a lasting change cancels it; bot.profile.reverts).
An undo leaves no undo point of its own (a second /undo does not redo), an expiry neither.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bot.profile.audit import AuditLog
from bot.profile.model import Actor, Cause, message_of
from bot.profile.reverts import RevertBook, group_of
from bot.storage.automation import AutomationStore, Intended, PendingRevert, UndoPoint

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Bookkeeping:
    """Where every change is recorded: audit trail, undo points, pending reverts."""

    audit: AuditLog
    store: AutomationStore
    reverts: RevertBook

    async def intend(
        self,
        actor: Actor,
        changes: Mapping[str, tuple[str, str]],
        cause: Cause,
        *,
        at: datetime,
        detail: Mapping[str, Any] | None = None,
    ) -> None:
        """Before a command's change goes out: its audit entry, pending (nothing for rules and
        expiries, which have no message to run again)."""
        message_id = message_of(actor)
        if message_id is None:
            return
        await self.store.intend(
            message_id,
            at=at,
            user_id=actor.sender_id,
            username=actor.sender_username,
            changes=self.audit.items(changes),
            cause=str(cause),
            detail=detail,
        )

    async def intended(self, actor: Actor) -> Intended | None:
        """The entry this command wrote ahead in an earlier run, if it ran before."""
        message_id = message_of(actor)
        return await self.store.intended_entry(message_id) if message_id else None

    async def record(
        self,
        actor: Actor,
        before: Mapping[str, str],
        after: Mapping[str, str],
        changes: Mapping[str, tuple[str, str]],
        cause: Cause,
        *,
        at: datetime,
        deadline: datetime | None,
        partial: bool = False,
    ) -> None:
        """Settle a change that went through (`changes` may be empty: nothing to send).
        `partial`: only `changes` of a larger change went through; an undo then keeps its
        undo point, so that `/undo` again puts back the rest."""
        user_id = actor.sender_id
        groups = sorted({group_of(key) for key in after})
        undo = None
        if changes and cause.kind not in ("undo", "expiry"):
            undo = UndoPoint(user_id, dict(changes), str(cause), at)
        # Audit entry, undo point and cancelled reverts: one transaction.
        await self.store.settle(
            user_id=user_id,
            username=actor.sender_username,
            at=at,
            changes=self.audit.items(changes) if changes else None,
            cause=str(cause),
            message_id=message_of(actor),
            undo=undo,
            drop_undo=bool(changes) and cause.kind == "undo" and not partial,
            cancel_reverts=groups if deadline is None else (),
        )
        if changes:
            log.info("audit: %s changed %s of %s", cause, ", ".join(changes), user_id)
        if deadline is None:
            return
        for group in groups:
            await self._schedule_revert(actor, group, before, after, changes, cause, deadline)

    async def pending(self, user_id: str, group: str) -> PendingRevert | None:
        """The revert waiting for `group` of `user_id`, if any."""
        return await self.reverts.get(user_id, group)

    async def _schedule_revert(
        self,
        actor: Actor,
        group: str,
        before: Mapping[str, str],
        after: Mapping[str, str],
        changes: Mapping[str, tuple[str, str]],
        cause: Cause,
        deadline: datetime,
    ) -> None:
        reverts = self.reverts
        changed = {key: old for key, (old, _) in changes.items() if group_of(key) == group}
        touched = {key: value for key, value in after.items() if group_of(key) == group}
        existing = await reverts.get(actor.sender_id, group)
        still_ours = existing is not None and all(
            before.get(key, "") == value for key, value in existing.expected.items()
        )
        if existing is not None and still_ours:
            # Keep the values from before the first temporary change (see bot.profile.reverts).
            restore = {**changed, **existing.restore}
            expected = {**existing.expected, **touched}
        elif changed:
            restore, expected = changed, touched
        else:
            await reverts.cancel(actor.sender_id, [group])
            return
        if all(expected.get(key, before.get(key, "")) == value for key, value in restore.items()):
            await reverts.cancel(actor.sender_id, [group])  # back where it started: nothing to do
            return
        await reverts.schedule(
            PendingRevert(
                user_id=actor.sender_id,
                username=actor.sender_username,
                group=group,
                due_at=deadline,
                restore=restore,
                expected=expected,
                cause=str(cause),
            )
        )
