"""The audit trail: every change the bot makes on someone's behalf, with its cause.

An entry says when, whose account, which fields (old and new values for ordinary fields, only
the name for secrets such as a password) and what caused it: a command (`command /status`), a
rule (`rule evening-away`), an expiry (`expiry`) or an undo (`undo`). ProfileService records
every profile change here; other features (e-mail, username and password changes) call
`AuditLog.record` themselves, passing None as the change of a secret field.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, tzinfo
from typing import Any, Final

from bot.core.clock import Clock
from bot.storage.automation import AuditRow, AutomationStore

log = logging.getLogger(__name__)

DEFAULT_LIMIT: Final = 10
FIELD_LABELS: Final[Mapping[str, str]] = {
    "presence": "presence",
    "status_text": "status text",
    "bio": "bio",
    "nickname": "nickname",
    "name": "display name",
    "email": "e-mail",
    "username": "username",
    "password": "password",
}
CUSTOM_PREFIX: Final = "custom."


def field_label(key: str) -> str:
    """How a field key is shown to people: `status_text` → `status text`, `custom.team` →
    `field team`."""
    if key.startswith(CUSTOM_PREFIX):
        return f"field {key.removeprefix(CUSTOM_PREFIX)}"
    return FIELD_LABELS.get(key, key.replace("_", " "))


def _plain(value: Any) -> Any:
    """A JSON-friendly copy of a value (anything unusual becomes its text)."""
    if value is None or isinstance(value, str | int | float | bool):
        return value
    try:
        json.dumps(value)
    except (TypeError, ValueError):
        return str(value)
    return value


def _shown(value: Any) -> str:
    if value is None or value == "":
        return "(none)"
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return f"“{text if len(text) <= 60 else text[:59] + '…'}”"


@dataclass(frozen=True)
class FieldAudit:
    """One field of an entry; `secret` fields carry no values."""

    field: str
    old: Any = None
    new: Any = None
    secret: bool = False

    def describe(self) -> str:
        label = field_label(self.field)
        if self.secret:
            return f"{label} changed (value not recorded)"
        return f"{label} {_shown(self.old)} → {_shown(self.new)}"


@dataclass(frozen=True)
class AuditEntry:
    """One change the bot made on someone's behalf."""

    at: datetime
    user_id: str
    username: str
    fields: tuple[FieldAudit, ...]
    cause: str

    @classmethod
    def from_row(cls, row: AuditRow) -> AuditEntry:
        fields = tuple(
            FieldAudit(
                field=str(item.get("field", "?")),
                old=item.get("old"),
                new=item.get("new"),
                secret=bool(item.get("secret")),
            )
            for item in row.changes
        )
        return cls(
            at=row.at, user_id=row.user_id, username=row.username, fields=fields, cause=row.cause
        )

    def describe(self, zone: tzinfo) -> str:
        """`2026-01-05 10:00 CET · command /status · presence “online” → “away”`."""
        when = self.at.astimezone(zone).strftime("%Y-%m-%d %H:%M %Z")
        changes = "; ".join(item.describe() for item in self.fields) or "no fields"
        return f"{when} · {self.cause} · {changes}"


class AuditLog:
    """Records and reads the audit trail (stored in the bot's database)."""

    def __init__(self, store: AutomationStore, clock: Clock) -> None:
        self._store = store
        self._clock = clock

    @staticmethod
    def items(changes: Mapping[str, tuple[Any, Any] | None]) -> list[dict[str, Any]]:
        """The stored form of `changes`: {field, old, new}, or {field, secret} for None."""
        items: list[dict[str, Any]] = []
        for key, change in changes.items():
            if change is None:
                items.append({"field": key, "secret": True})
            else:
                old, new = change
                items.append({"field": key, "old": _plain(old), "new": _plain(new)})
        return items

    async def record(
        self,
        *,
        user_id: str,
        username: str,
        changes: Mapping[str, tuple[Any, Any] | None],
        cause: str,
    ) -> None:
        """Record one change of `user_id`'s account; a change of None is a secret field."""
        items = self.items(changes)
        await self._store.add_audit(
            at=self._clock.now(), user_id=user_id, username=username, changes=items, cause=cause
        )
        log.info("audit: %s changed %s of %s", cause, ", ".join(changes), user_id)

    async def intend(
        self,
        message_id: str,
        *,
        user_id: str,
        username: str,
        changes: Mapping[str, tuple[Any, Any] | None],
        cause: str,
    ) -> None:
        """Before a change that cannot be read back later goes out: its entry, pending, keyed
        by the message that sent it (settled or abandoned once its outcome is known)."""
        await self._store.intend(
            message_id,
            at=self._clock.now(),
            user_id=user_id,
            username=username,
            changes=self.items(changes),
            cause=cause,
        )

    async def settle(self, message_id: str, *, cause: str) -> None:
        """The change written ahead for `message_id` happened (or may have: `cause` says)."""
        await self._store.settle_intended(message_id, at=self._clock.now(), cause=cause)
        log.info("audit: %s (written ahead for message %s)", cause, message_id)

    async def abandon(self, message_id: str) -> None:
        """The change written ahead for `message_id` did not happen."""
        await self._store.abandon(message_id)

    async def recent(self, user_id: str, limit: int = DEFAULT_LIMIT) -> list[AuditEntry]:
        """The newest entries of `user_id`, newest first."""
        rows = await self._store.recent_audit(user_id, limit)
        return [AuditEntry.from_row(row) for row in rows]

    async def known_user(self, username: str) -> str | None:
        """The id of the user last audited as `username`, if the trail has one."""
        return await self._store.audit_user_by_name(username.removeprefix("@"))


def describe_entries(entries: Sequence[AuditEntry], zone: tzinfo) -> list[str]:
    """One line per entry, for `/audit`."""
    return [f"• {entry.describe(zone)}" for entry in entries]
