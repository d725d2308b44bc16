"""What the profile service works with: a profile as read, the outcome of a change, its cause.

Field keys name the changeable fields everywhere (audit trail, undo points, reverts, rules):
presence, status_text, bio, nickname, name, and custom.<name> for a custom field.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from typing import Any, Final, Literal

from bot.core.context import CommandContext
from bot.core.errors import RateLimited, ServerError, UserError
from bot.core.wording import change_refused
from bot.profile.audit import field_label
from bot.profile.reverts import group_of

CUSTOM: Final = "custom."
# Field key → the key of users.updateOwnBasicInfo's `data` (custom fields go separately).
REQUEST_KEYS: Final[Mapping[str, str]] = {
    "presence": "statusType",
    "status_text": "statusText",
    "bio": "bio",
    "nickname": "nickname",
    "name": "name",
}
# Rocket.Chat ignores an empty nickname (and older servers an empty bio), so a single space is
# sent instead; the server trims it to nothing and removes the field, on every version.
CLEARED: Final = " "
CLEARED_WITH_SPACE: Final = frozenset({"bio", "nickname"})
UNDOABLE_FIELDS: Final = "status, status text, bio, nickname, display name and custom fields"


@dataclass(frozen=True, slots=True)
class Profile:
    """What `/profile` shows of a user, read from `GET me` (never e-mails or tokens)."""

    user_id: str
    username: str
    name: str = ""
    presence: str = "offline"
    status_text: str = ""
    nickname: str = ""
    bio: str = ""
    custom_fields: Mapping[str, Any] = field(default_factory=dict)
    utc_offset: float | None = None
    roles: tuple[str, ...] = ()
    # What others see (`status`): the presence, or offline or away by the connections.
    shown_status: str = ""
    # Rocket.Chat 8.6+: who claimed the status (manual, internal, external; "" for the system)
    # and when the server itself ends it (ISO text, "" for never).
    status_source: str = ""
    status_expires_at: str = ""

    @classmethod
    def from_user(cls, user: Mapping[str, Any]) -> Profile:
        """Read a Rocket.Chat user object; `statusDefault` (the chosen presence) wins."""
        custom = user.get("customFields")
        offset = user.get("utcOffset")
        roles = user.get("roles")
        return cls(
            user_id=str(user.get("_id", "")),
            username=str(user.get("username", "")),
            name=text_of(user.get("name")),
            presence=text_of(user.get("statusDefault") or user.get("status")) or "offline",
            status_text=text_of(user.get("statusText")),
            nickname=text_of(user.get("nickname")),
            bio=text_of(user.get("bio")),
            custom_fields=dict(custom) if isinstance(custom, Mapping) else {},
            utc_offset=(
                float(offset)
                if isinstance(offset, int | float)
                and not isinstance(offset, bool)
                and -14 <= offset <= 14
                else None
            ),
            roles=tuple(str(r) for r in roles) if isinstance(roles, list) else (),
            shown_status=text_of(user.get("status")),
            status_source=text_of(user.get("statusSource")),
            status_expires_at=text_of(user.get("statusExpiresAt")),
        )

    def values(self) -> dict[str, str]:
        """The changeable fields by field key (custom fields as `custom.<name>`)."""
        values = {
            "presence": self.presence,
            "status_text": self.status_text,
            "bio": self.bio,
            "nickname": self.nickname,
            "name": self.name,
        }
        for name, value in self.custom_fields.items():
            values[CUSTOM + str(name)] = value.strip() if isinstance(value, str) else ""
        return values

    @property
    def zone(self) -> tzinfo | None:
        """The time zone of the user's Rocket.Chat client (its UTC offset), if known."""
        if self.utc_offset is None:
            return None
        return timezone(timedelta(hours=self.utc_offset))


def text_of(value: Any) -> str:
    """A text field of a user object, trimmed ("" when absent or not text)."""
    return value.strip() if isinstance(value, str) else ""


@dataclass(frozen=True)
class FieldChange:
    """The outcome of one change: the field (a custom field's name), its value before and after,
    and whether a change was sent."""

    label: str
    before: str
    after: str
    changed: bool


@dataclass(frozen=True)
class StatusChange:
    """The outcome of `/status`: presence and text before and after, and whether it was sent.

    For a temporary change, `until` is when the bot puts back `restores` (presence, text).
    """

    presence: str
    text: str
    previous_presence: str
    previous_text: str
    changed: bool
    until: datetime | None = None
    restores: tuple[str, str] | None = None
    zone: tzinfo = UTC


@dataclass(frozen=True)
class Cause:
    """Why the bot changed a profile, as the audit trail shows it: `command /status`,
    `rule evening-away`, `calendar` (a meeting under way), `expiry` or `undo`."""

    kind: Literal["command", "rule", "calendar", "expiry", "undo"]
    detail: str = ""

    def __str__(self) -> str:
        return f"{self.kind} {self.detail}".strip()


@dataclass(frozen=True)
class Account:
    """Whose profile a change is for when no command was sent (a rule or an expiry).

    It has the two attributes of CommandContext that the profile service reads, so both can be
    passed wherever an `Actor` is expected.
    """

    sender_id: str
    sender_username: str


Actor = CommandContext | Account


def message_of(actor: Actor) -> str | None:
    """The id of the message that asked for a change, if a person's command did."""
    return actor.message_id if isinstance(actor, CommandContext) else None


@dataclass(frozen=True)
class UndoOutcome:
    """What `/undo` did: field → (value it had, value put back), and fields left alone because
    they were changed elsewhere since."""

    restored: Mapping[str, tuple[str, str]]
    changed_elsewhere: tuple[str, ...]
    undone: str


class ProfileRefused(UserError):
    """Rocket.Chat refused or failed a change; `retryable` when trying later may help (server
    trouble, rate limits), with `retry_after` seconds as a hint."""

    def __init__(self, message: str, *, retryable: bool = False, retry_after: float = 0) -> None:
        super().__init__(message)
        self.retryable = retryable
        self.retry_after = retry_after


def explain_rejection(exc: ServerError, label: str) -> ProfileRefused:
    """A sentence about `label` (e.g. "nickname") for an error from users.updateOwnBasicInfo."""
    retryable = isinstance(exc, RateLimited) or exc.status >= 500 or exc.status == 0
    retry_after = float(getattr(exc, "retry_after", 0) or 0)
    return ProfileRefused(change_refused(exc, label), retryable=retryable, retry_after=retry_after)


def custom_with(profile: Profile, values: Mapping[str, str]) -> dict[str, Any] | None:
    """The whole custom-field object with the `custom.*` entries of `values` applied (the
    server replaces the whole object, so the others are sent back unchanged)."""
    custom = {key.removeprefix(CUSTOM): v for key, v in values.items() if key.startswith(CUSTOM)}
    return {**profile.custom_fields, **custom} if custom else None


def labels(keys: tuple[str, ...] | list[str]) -> str:
    """`presence and bio`: how several field keys read in a sentence."""
    names = list(dict.fromkeys(field_label(key) for key in keys))
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def label_of(fields: Mapping[str, str]) -> str:
    """The label errors use for a change of these fields."""
    groups = {group_of(key) for key in fields}
    if len(groups) == 1:
        (group,) = groups
        return {"status": "status", "name": "display name"}.get(
            group, group.replace(CUSTOM, "field ")
        )
    return "profile"
