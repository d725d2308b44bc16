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
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from bot.store import Store

Choice = Literal["in", "out"]
_TIME_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"


def to_text(moment: datetime) -> str:
    """A UTC moment as sortable text."""
    return moment.astimezone(UTC).strftime(_TIME_FORMAT)


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
class DelegatedUser:
    """Someone who gave the bot a token (whether Rocket.Chat still accepts it: `valid`)."""

    user_id: str
    username: str
    valid: bool


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
                " attempts = excluded.attempts",
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
        async with (
            self._store.reading() as db,
            db.execute(
                "SELECT username, due_at, restore, expected, cause, attempts FROM pending_reverts"
                " WHERE user_id = ? AND field_group = ?",
                (user_id, group),
            ) as cursor,
        ):
            row = await cursor.fetchone()
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
        marks = ", ".join("?" for _ in wanted)
        async with self._store.transaction() as db:
            await db.execute(
                f"DELETE FROM pending_reverts WHERE user_id = ? AND field_group IN ({marks})",
                (user_id, *wanted),
            )

    async def revert_schedule(self) -> list[tuple[str, str, datetime]]:
        """(user id, group, due) of every pending revert, for the scheduler at start-up."""
        async with (
            self._store.reading() as db,
            db.execute("SELECT user_id, field_group, due_at FROM pending_reverts") as cursor,
        ):
            rows = await cursor.fetchall()
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
            await db.execute(
                "INSERT INTO audit_log (at, user_id, username, changes, cause)"
                " VALUES (?, ?, ?, ?, ?)",
                (to_text(at), user_id, username, json.dumps(changes), cause),
            )

    async def recent_audit(self, user_id: str, limit: int) -> list[AuditRow]:
        """The newest `limit` entries of `user_id`, newest first."""
        async with (
            self._store.reading() as db,
            db.execute(
                "SELECT id, at, user_id, username, changes, cause FROM audit_log"
                " WHERE user_id = ? ORDER BY id DESC LIMIT ?",
                (user_id, limit),
            ) as cursor,
        ):
            rows = await cursor.fetchall()
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
        async with (
            self._store.reading() as db,
            db.execute(
                "SELECT user_id FROM audit_log WHERE username = ? COLLATE NOCASE"
                " ORDER BY id DESC LIMIT 1",
                (username,),
            ) as cursor,
        ):
            row = await cursor.fetchone()
        return str(row[0]) if row else None

    # -- undo -------------------------------------------------------------------------------

    async def put_undo_point(self, point: UndoPoint) -> None:
        """Remember what the user's latest change replaced (replacing the previous point)."""
        changes = {key: list(pair) for key, pair in point.changes.items()}
        async with self._store.transaction() as db:
            await db.execute(
                "INSERT INTO undo_points (user_id, changes, cause, at) VALUES (?, ?, ?, ?)"
                " ON CONFLICT(user_id) DO UPDATE SET changes = excluded.changes,"
                " cause = excluded.cause, at = excluded.at",
                (point.user_id, json.dumps(changes), point.cause, to_text(point.at)),
            )

    async def get_undo_point(self, user_id: str) -> UndoPoint | None:
        """The user's undo point, if any."""
        async with (
            self._store.reading() as db,
            db.execute(
                "SELECT changes, cause, at FROM undo_points WHERE user_id = ?", (user_id,)
            ) as cursor,
        ):
            row = await cursor.fetchone()
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
        async with (
            self._store.reading() as db,
            db.execute(
                "SELECT rule, choice FROM rule_choices WHERE user_id = ?", (user_id,)
            ) as cursor,
        ):
            rows = await cursor.fetchall()
        return {str(rule): choice for rule, choice in rows}

    async def users_who_chose(self, rule: str, choice: Choice) -> set[str]:
        """The ids of the users whose choice about `rule` is `choice`."""
        async with (
            self._store.reading() as db,
            db.execute(
                "SELECT user_id FROM rule_choices WHERE rule = ? AND choice = ?", (rule, choice)
            ) as cursor,
        ):
            rows = await cursor.fetchall()
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
        async with self._store.reading() as db, db.execute(query, params) as cursor:
            rows = await cursor.fetchall()
        return [DelegatedUser(str(uid), str(name), bool(valid)) for uid, name, valid in rows]

    async def delegated_by_username(self, usernames: Iterable[str]) -> list[DelegatedUser]:
        """The delegated users with these usernames (ignoring case)."""
        wanted = list(dict.fromkeys(name.casefold() for name in usernames))
        if not wanted:
            return []
        marks = ", ".join("?" for _ in wanted)
        async with (
            self._store.reading() as db,
            db.execute(
                "SELECT user_id, username, valid FROM delegated_tokens"
                f" WHERE lower(username) IN ({marks})",
                tuple(wanted),
            ) as cursor,
        ):
            rows = await cursor.fetchall()
        return [DelegatedUser(str(uid), str(name), bool(valid)) for uid, name, valid in rows]
