"""The automation tables (schema version 3), read and written through `Store.transaction()`.

    pending_reverts   one row per (user, field group): what to put back, what the bot set, when
    audit_log         every change the bot made on someone's behalf
    undo_points       per user, what their last change through the bot replaced
    rule_choices      per (user, rule): "in" (joined an opt-in rule) or "out" (opted out)

Times are stored as fixed-width UTC text (`2026-01-05T09:00:00.000000Z`) so they sort as text.
Values are JSON. Nothing secret is ever written here: a secret field is stored by name only.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal

from bot.storage.base import LOCK_WAIT_SECONDS

if TYPE_CHECKING:
    from bot.storage.backends import Connection
    from bot.storage.store import Store

Choice = Literal["in", "out"]
_TIME_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"


def to_text(moment: datetime) -> str:
    """A UTC moment as sortable text: `2026-11-30T01:22:43.000123Z` (as `_TIME_FORMAT` writes it)."""
    utc = moment if moment.tzinfo is UTC else moment.astimezone(UTC)
    return utc.replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"


def from_text(text: str) -> datetime:
    """The inverse of `to_text`."""
    return datetime.strptime(text, _TIME_FORMAT).replace(tzinfo=UTC)


@dataclass(frozen=True)
class PendingRevert:
    """A temporary change waiting to be undone: at `due_at`, if the fields still hold
    `expected` (what the bot set), put `restore` back."""

    user_id: str
    username: str
    group: str
    due_at: datetime
    restore: Mapping[str, str]
    expected: Mapping[str, str]
    cause: str
    attempts: int = 0


@dataclass(frozen=True)
class UndoPoint:
    """What the user's last change through the bot replaced: field → (before, after)."""

    user_id: str
    changes: Mapping[str, tuple[str, str]]
    cause: str
    at: datetime


@dataclass(frozen=True)
class AuditRow:
    """One stored audit entry; `changes` is a list of {field, old, new} or {field, secret}."""

    id: int
    at: datetime
    user_id: str
    username: str
    changes: list[dict[str, Any]]
    cause: str


@dataclass(frozen=True)
class Intended:
    """A write-ahead audit entry: the changes, what a re-run answers with, still pending?"""

    changes: list[dict[str, Any]]
    detail: dict[str, Any]
    pending: bool


@dataclass(frozen=True)
class DelegatedUser:
    """Someone who gave the bot a token (whether Rocket.Chat still accepts it: `valid`)."""

    user_id: str
    username: str
    valid: bool


async def _insert_audit(
    db: Connection,
    at: datetime,
    user_id: str,
    username: str,
    changes: list[dict[str, Any]],
    cause: str,
    *,
    message_id: str | None,
) -> None:
    await db.execute(
        "INSERT INTO audit_log (at, user_id, username, changes, cause, message_id)"
        " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT(message_id) DO NOTHING",
        (to_text(at), user_id, username, json.dumps(changes), cause, message_id),
    )


async def _upsert_undo_point(db: Connection, point: UndoPoint) -> None:
    await db.execute(
        "INSERT INTO undo_points (user_id, changes, cause, at) VALUES (?, ?, ?, ?)"
        " ON CONFLICT(user_id) DO UPDATE SET changes = excluded.changes,"
        " cause = excluded.cause, at = excluded.at",
        (
            point.user_id,
            json.dumps({key: list(pair) for key, pair in point.changes.items()}),
            point.cause,
            to_text(point.at),
        ),
    )


async def _delete_reverts(db: Connection, user_id: str, groups: list[str]) -> None:
    marks = ", ".join("?" for _ in groups)
    await db.execute(
        f"DELETE FROM pending_reverts WHERE user_id = ? AND field_group IN ({marks})",
        (user_id, *groups),
    )


class AutomationStore:
    """Small async methods over the automation tables; every write is one transaction."""

    def __init__(self, store: Store) -> None:
        self._store = store

    # -- pending reverts --------------------------------------------------------------------

    async def put_revert(self, revert: PendingRevert) -> None:
        """Store (or replace) the pending revert of one user's field group."""
        async with self._store.transaction() as db:
            await db.execute(
                "INSERT INTO pending_reverts (user_id, field_group, username, due_at, restore,"
                " expected, cause, attempts) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT(user_id, field_group) DO UPDATE SET username = excluded.username,"
                " due_at = excluded.due_at, restore = excluded.restore,"
                " expected = excluded.expected, cause = excluded.cause,"
                " attempts = excluded.attempts, claimed_by = NULL, claim_until = NULL",
                (
                    revert.user_id,
                    revert.group,
                    revert.username,
                    to_text(revert.due_at),
                    json.dumps(dict(revert.restore)),
                    json.dumps(dict(revert.expected)),
                    revert.cause,
                    revert.attempts,
                ),
            )

    async def get_revert(self, user_id: str, group: str) -> PendingRevert | None:
        """The pending revert of `group` for `user_id`, if any."""
        async with self._store.reading() as db:
            row = await db.fetchone(
                "SELECT username, due_at, restore, expected, cause, attempts FROM pending_reverts"
                " WHERE user_id = ? AND field_group = ?",
                (user_id, group),
            )
        if row is None:
            return None
        username, due_at, restore, expected, cause, attempts = row
        return PendingRevert(
            user_id=user_id,
            username=username,
            group=group,
            due_at=from_text(due_at),
            restore=json.loads(restore),
            expected=json.loads(expected),
            cause=cause,
            attempts=int(attempts),
        )

    async def delete_reverts(self, user_id: str, groups: Iterable[str]) -> None:
        """Forget the pending reverts of these field groups (a later change replaced them)."""
        wanted = list(dict.fromkeys(groups))
        if not wanted:
            return
        async with self._store.transaction() as db:
            await _delete_reverts(db, user_id, wanted)

    async def revert_schedule(self) -> list[tuple[str, str, datetime]]:
        """(user id, group, due) of every pending revert, for the scheduler at start-up."""
        async with self._store.reading() as db:
            rows = await db.fetchall("SELECT user_id, field_group, due_at FROM pending_reverts")
        return [(user_id, group, from_text(due)) for user_id, group, due in rows]

    # -- audit ------------------------------------------------------------------------------

    async def add_audit(
        self,
        *,
        at: datetime,
        user_id: str,
        username: str,
        changes: list[dict[str, Any]],
        cause: str,
    ) -> None:
        """Append one audit entry."""
        async with self._store.transaction() as db:
            await _insert_audit(db, at, user_id, username, changes, cause, message_id=None)

    async def recent_audit(self, user_id: str, limit: int) -> list[AuditRow]:
        """The newest `limit` entries of `user_id`, newest first."""
        async with self._store.reading() as db:
            rows = await db.fetchall(
                "SELECT id, at, user_id, username, changes, cause FROM audit_log"
                " WHERE user_id = ? AND pending = 0 ORDER BY id DESC LIMIT ?",
                (user_id, limit),
            )
        return [
            AuditRow(
                id=int(row_id),
                at=from_text(at),
                user_id=uid,
                username=username,
                changes=json.loads(changes),
                cause=cause,
            )
            for row_id, at, uid, username, changes, cause in rows
        ]

    async def audit_user_by_name(self, username: str) -> str | None:
        """The user id most recently audited under `username` (ignoring case), if any."""
        async with self._store.reading() as db:
            row = await db.fetchone(
                "SELECT user_id FROM audit_log WHERE lower(username) = lower(?) AND pending = 0"
                " ORDER BY id DESC LIMIT 1",
                (username,),
            )
        return str(row[0]) if row else None

    # -- one change through the bot, written ahead and settled ---------------------------------

    async def intend(
        self,
        message_id: str,
        *,
        at: datetime,
        user_id: str,
        username: str,
        changes: list[dict[str, Any]],
        cause: str,
        detail: Mapping[str, Any] | None = None,
    ) -> None:
        """Before a command's change goes out: its audit entry, pending (replaced if the
        command runs again and finds its change not made yet), with the `detail` a re-run needs
        to answer as this run would. Committed together with other commands' bookkeeping of
        the moment (a group commit)."""
        note = json.dumps(dict(detail)) if detail is not None else None
        row = (to_text(at), user_id, username, json.dumps(changes), cause, message_id, note)

        async def write(db: Connection) -> None:
            await db.execute(
                "INSERT INTO audit_log (at, user_id, username, changes, cause, message_id,"
                " detail, pending) VALUES (?, ?, ?, ?, ?, ?, ?, 1)"
                " ON CONFLICT(message_id) DO UPDATE SET at = excluded.at,"
                " changes = excluded.changes, detail = excluded.detail"
                " WHERE audit_log.pending = 1",
                row,
            )

        # Nothing may go out before its entry is written: give up rather than wait forever.
        await self._store.write_together(write, give_up_after=LOCK_WAIT_SECONDS)

    async def intended(self, message_id: str) -> list[dict[str, Any]] | None:
        """The changes a command set out to make, if it ran before: pending (it stopped before
        recording the change) or settled (it stopped before noting the message as handled)."""
        entry = await self.intended_entry(message_id)
        return entry.changes if entry is not None else None

    async def intended_entry(self, message_id: str) -> Intended | None:
        """The write-ahead entry of `message_id`, if the command ran before."""
        async with self._store.reading() as db:
            row = await db.fetchone(
                "SELECT changes, detail, pending FROM audit_log WHERE message_id = ?",
                (message_id,),
            )
        if row is None:
            return None
        changes, detail, pending = row
        return Intended(
            changes=list(json.loads(changes)),
            detail=dict(json.loads(detail)) if detail else {},
            pending=bool(pending),
        )

    async def settle_intended(self, message_id: str, *, at: datetime, cause: str) -> None:
        """A change written ahead went through (or may have): its entry counts from now on,
        with `cause` (which may say that its outcome is unknown)."""
        async with self._store.transaction() as db:
            await db.execute(
                "UPDATE audit_log SET pending = 0, at = ?, cause = ?"
                " WHERE message_id = ? AND pending = 1",
                (to_text(at), cause, message_id),
            )

    async def abandon(self, message_id: str) -> None:
        """A change written ahead did not happen: its pending entry goes."""
        async with self._store.transaction() as db:
            await db.execute(
                "DELETE FROM audit_log WHERE message_id = ? AND pending = 1", (message_id,)
            )

    async def settle(
        self,
        *,
        user_id: str,
        username: str,
        at: datetime,
        changes: list[dict[str, Any]] | None,
        cause: str,
        message_id: str | None,
        undo: UndoPoint | None,
        drop_undo: bool,
        cancel_reverts: Iterable[str],
    ) -> None:
        """The bookkeeping of one change, in one transaction: its audit entry (settling the
        pending one of `message_id`), the undo point, and the pending reverts it replaces.
        Committed together with other commands' bookkeeping of the moment (a group commit)."""
        groups = list(dict.fromkeys(cancel_reverts))

        async def write(db: Connection) -> None:
            if changes is not None:
                settled = 0
                if message_id is not None:
                    settled = await db.execute(
                        "UPDATE audit_log SET pending = 0, at = ?, changes = ?"
                        " WHERE message_id = ? AND pending = 1",
                        (to_text(at), json.dumps(changes), message_id),
                    )
                if not settled:
                    await _insert_audit(
                        db, at, user_id, username, changes, cause, message_id=message_id
                    )
            if drop_undo:
                await db.execute("DELETE FROM undo_points WHERE user_id = ?", (user_id,))
            elif undo is not None:
                await _upsert_undo_point(db, undo)
            if groups:
                await _delete_reverts(db, user_id, groups)

        await self._store.write_together(write)

    # -- undo -------------------------------------------------------------------------------

    async def put_undo_point(self, point: UndoPoint) -> None:
        """Remember what the user's latest change replaced (replacing the previous point)."""
        async with self._store.transaction() as db:
            await _upsert_undo_point(db, point)

    async def get_undo_point(self, user_id: str) -> UndoPoint | None:
        """The user's undo point, if any."""
        async with self._store.reading() as db:
            row = await db.fetchone(
                "SELECT changes, cause, at FROM undo_points WHERE user_id = ?", (user_id,)
            )
        if row is None:
            return None
        changes, cause, at = row
        pairs = {key: (str(pair[0]), str(pair[1])) for key, pair in json.loads(changes).items()}
        return UndoPoint(user_id=user_id, changes=pairs, cause=cause, at=from_text(at))

    async def delete_undo_point(self, user_id: str) -> None:
        """Forget the user's undo point."""
        async with self._store.transaction() as db:
            await db.execute("DELETE FROM undo_points WHERE user_id = ?", (user_id,))

    # -- rule choices -----------------------------------------------------------------------

    async def set_choice(
        self, user_id: str, rule: str, choice: Choice | None, at: datetime
    ) -> None:
        """Record that `user_id` joined ("in") or left ("out") `rule`; None forgets the choice."""
        async with self._store.transaction() as db:
            if choice is None:
                await db.execute(
                    "DELETE FROM rule_choices WHERE user_id = ? AND rule = ?", (user_id, rule)
                )
                return
            await db.execute(
                "INSERT INTO rule_choices (user_id, rule, choice, at) VALUES (?, ?, ?, ?)"
                " ON CONFLICT(user_id, rule) DO UPDATE SET choice = excluded.choice,"
                " at = excluded.at",
                (user_id, rule, choice, to_text(at)),
            )

    async def choices_of(self, user_id: str) -> dict[str, Choice]:
        """rule name → the user's choice, for the rules they chose anything about."""
        async with self._store.reading() as db:
            rows = await db.fetchall(
                "SELECT rule, choice FROM rule_choices WHERE user_id = ?", (user_id,)
            )
        return {str(rule): choice for rule, choice in rows}

    async def users_who_chose(self, rule: str, choice: Choice) -> set[str]:
        """The ids of the users whose choice about `rule` is `choice`."""
        async with self._store.reading() as db:
            rows = await db.fetchall(
                "SELECT user_id FROM rule_choices WHERE rule = ? AND choice = ?", (rule, choice)
            )
        return {str(row[0]) for row in rows}

    # -- delegated users (read-only view of the token table) --------------------------------

    async def delegated_users(self, user_ids: Iterable[str] | None = None) -> list[DelegatedUser]:
        """Everyone with a stored token, or only those of `user_ids`."""
        query = "SELECT user_id, username, valid FROM delegated_tokens"
        params: tuple[str, ...] = ()
        if user_ids is not None:
            wanted = list(dict.fromkeys(user_ids))
            if not wanted:
                return []
            query += f" WHERE user_id IN ({', '.join('?' for _ in wanted)})"
            params = tuple(wanted)
        async with self._store.reading() as db:
            rows = await db.fetchall(query, params)
        return [DelegatedUser(str(uid), str(name), bool(valid)) for uid, name, valid in rows]

    async def delegated_by_username(self, usernames: Iterable[str]) -> list[DelegatedUser]:
        """The delegated users with these usernames (ignoring case)."""
        wanted = list(dict.fromkeys(name.casefold() for name in usernames))
        if not wanted:
            return []
        marks = ", ".join("?" for _ in wanted)
        async with self._store.reading() as db:
            rows = await db.fetchall(
                "SELECT user_id, username, valid FROM delegated_tokens"
                f" WHERE lower(username) IN ({marks})",
                tuple(wanted),
            )
        return [DelegatedUser(str(uid), str(name), bool(valid)) for uid, name, valid in rows]


class Claims:
    """Who runs a pending revert or a rule firing: claimed in the database first, so that
    only one replica runs each, and another takes it over if that one stops (its lease, in
    wall-clock seconds, runs out). With one process it costs one small write per job."""

    def __init__(
        self,
        store: Store,
        *,
        owner: str,
        lease: float,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._store = store
        self.owner = owner
        self.lease = lease
        self._clock = clock

    async def revert(self, user_id: str, group: str, due_at: datetime) -> bool:
        """Claim the pending revert of `group` due at `due_at`; False when it is gone, moved,
        or claimed by another replica whose lease still runs."""
        now = self._clock()
        async with self._store.transaction() as db:
            changed = await db.execute(
                "UPDATE pending_reverts SET claimed_by = ?, claim_until = ?"
                " WHERE user_id = ? AND field_group = ? AND due_at = ?"
                " AND (claimed_by IS NULL OR claimed_by = ? OR claim_until < ?)",
                (self.owner, now + self.lease, user_id, group, to_text(due_at), self.owner, now),
            )
        return changed > 0

    async def firing(self, rule: str, due_at: datetime) -> bool:
        """Claim the firing of `rule` due at `due_at`; False when it ran, or runs elsewhere."""
        now = self._clock()
        async with self._store.transaction() as db:
            won = await db.fetchone(
                "INSERT INTO rule_firings (rule, due_at, claimed_by, lease_until, done)"
                " VALUES (?, ?, ?, ?, 0)"
                " ON CONFLICT(rule, due_at) DO UPDATE SET claimed_by = excluded.claimed_by,"
                " lease_until = excluded.lease_until"
                " WHERE rule_firings.done = 0 AND (rule_firings.claimed_by = excluded.claimed_by"
                " OR rule_firings.lease_until < ?)"
                " RETURNING rule",
                (rule, to_text(due_at), self.owner, now + self.lease, now),
            )
        return won is not None

    async def fired(self, rule: str, due_at: datetime) -> None:
        """The firing is done; forget firings older than a week."""
        week_ago = datetime.fromtimestamp(self._clock() - 7 * 86400, UTC)
        async with self._store.transaction() as db:
            await db.execute(
                "UPDATE rule_firings SET done = 1, claimed_by = NULL, lease_until = NULL"
                " WHERE rule = ? AND due_at = ?",
                (rule, to_text(due_at)),
            )
            await db.execute(
                "DELETE FROM rule_firings WHERE done = 1 AND due_at < ?", (to_text(week_ago),)
            )

    async def renew(self) -> None:
        """Extend the leases of the firings and reverts this replica is running."""
        until = self._clock() + self.lease
        async with self._store.transaction() as db:
            await db.execute(
                "UPDATE rule_firings SET lease_until = ? WHERE claimed_by = ? AND done = 0",
                (until, self.owner),
            )
            await db.execute(
                "UPDATE pending_reverts SET claim_until = ? WHERE claimed_by = ?",
                (until, self.owner),
            )

    async def abandoned_firings(self) -> list[tuple[str, datetime]]:
        """(rule, due) of firings a stopped replica left unfinished."""
        async with self._store.reading() as db:
            rows = await db.fetchall(
                "SELECT rule, due_at FROM rule_firings WHERE done = 0 AND lease_until < ?",
                (self._clock(),),
            )
        return [(str(rule), from_text(due)) for rule, due in rows]

    async def reverts_due_by(self, moment: datetime) -> list[tuple[str, str, datetime]]:
        """(user id, group, due) of the pending reverts due at or before `moment`."""
        async with self._store.reading() as db:
            rows = await db.fetchall(
                "SELECT user_id, field_group, due_at FROM pending_reverts WHERE due_at <= ?",
                (to_text(moment),),
            )
        return [(str(user), str(group), from_text(due)) for user, group, due in rows]
