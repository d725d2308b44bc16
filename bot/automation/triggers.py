"""When a rule acts: the trigger protocol and its kinds.

    trigger = { schedule = "0 18 * * 1-5", timezone = "Europe/Berlin" }
    trigger = { message = "^(lunch|brb)$", rooms = ["general"] }

A trigger is chosen by the one key that names its kind (`schedule`, `message`). The engine
(bot.automation.engine) only speaks the `Trigger` protocol: it asks every rule's trigger when
it next fires (`next_fire`, None for triggers that do not keep time) and whether a message sets
it off (`watches`, then `matches`). A new kind of trigger is one class here that implements
the protocol, named in `KINDS`; the model and the engine stay as they are.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, tzinfo
from typing import TYPE_CHECKING, Annotated, Any, ClassVar, Final, Protocol, Union
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import CroniterBadDateError, croniter
from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    PrivateAttr,
    Tag,
    field_validator,
)

from bot.automation.patterns import BoundedPattern, check_syntax, risky

CRON_ALIASES: Final = frozenset(
    {"@yearly", "@annually", "@monthly", "@weekly", "@daily", "@hourly"}
)
CRON_HOWTO: Final = (
    'write five fields: minute hour day-of-month month day-of-week, e.g. "0 18 * * 1-5" for '
    "18:00 on weekdays"
)
ZONE_HOWTO: Final = "use an IANA time zone name such as Europe/Berlin, America/New_York or UTC"
KIND_HOWTO: Final = (
    'give either schedule (with an optional timezone), e.g. { schedule = "0 18 * * 1-5", '
    'timezone = "Europe/Berlin" }, or message with rooms, e.g. { message = "^lunch$", rooms = '
    '["general"] }'
)


class Trigger(Protocol):
    """What the engine needs of a trigger, whatever its kind."""

    @property
    def kind(self) -> str:
        """The key that names this kind in a rule ("schedule", "message")."""
        ...

    @property
    def rooms(self) -> tuple[str, ...]:
        """The rooms whose messages it reads (none: it never looks at messages)."""
        ...

    def next_fire(self, after: datetime, default_zone: tzinfo) -> datetime | None:
        """The first moment strictly after `after` when it fires (UTC); None: not on a clock."""
        ...

    def watches(self, room_name: str | None) -> bool:
        """Whether a message in this room could set it off (cheap, before `matches`)."""
        ...

    async def matches(self, room_name: str | None, text: str) -> bool:
        """Whether this message sets it off."""
        ...

    def risk(self) -> str | None:
        """Why it may be slow on some input, for `rcbot check` (None: no worry)."""
        ...

    def describe(self) -> str:
        """When it fires, as a phrase: "on the schedule …", "when you write …"."""
        ...


def load_zone(name: str) -> ZoneInfo:
    """The time zone called `name`; ValueError with how to write it when there is none."""
    try:
        return ZoneInfo(name.strip())
    except (ZoneInfoNotFoundError, ValueError, TypeError):
        raise ValueError(f"“{name}” is not a time zone I know; {ZONE_HOWTO}") from None


class _TriggerModel(BaseModel):
    """What every kind shares: strict tables, and no part in what it does not do."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: ClassVar[str]
    fields_help: ClassVar[tuple[str, ...]]  # the keys it takes, for "unknown field" answers

    def next_fire(self, after: datetime, default_zone: tzinfo) -> datetime | None:
        return None

    def watches(self, room_name: str | None) -> bool:
        return False

    async def matches(self, room_name: str | None, text: str) -> bool:
        return False

    def risk(self) -> str | None:
        return None


class ScheduleTrigger(_TriggerModel):
    """Fires on a five-field cron `schedule`, in `timezone` or else the default time zone."""

    kind: ClassVar[str] = "schedule"
    fields_help: ClassVar[tuple[str, ...]] = ("schedule", "timezone")
    rooms: ClassVar[tuple[str, ...]] = ()

    schedule: str
    timezone: str | None = None

    _zone: ZoneInfo | None = PrivateAttr(default=None)

    @field_validator("schedule")
    @classmethod
    def _check_schedule(cls, value: str) -> str:
        text = " ".join(value.split())
        if text.casefold() in CRON_ALIASES:
            return text.casefold()
        fields = text.split(" ")
        if len(fields) != 5:
            raise ValueError(f"“{value}” has {len(fields)} fields, not five; {CRON_HOWTO}")
        if not croniter.is_valid(text):
            raise ValueError(f"“{value}” is not a valid cron expression; {CRON_HOWTO}")
        try:
            croniter(text, datetime(2000, 1, 1, tzinfo=UTC)).get_next(datetime)
        except CroniterBadDateError:
            raise ValueError(f"“{value}” never happens (no such date); {CRON_HOWTO}") from None
        return text

    @field_validator("timezone")
    @classmethod
    def _check_timezone(cls, value: str | None) -> str | None:
        if value is None:
            return None
        load_zone(value)
        return value.strip()

    def model_post_init(self, context: Any) -> None:
        if self.timezone is not None:
            self._zone = load_zone(self.timezone)

    def zone(self, default: tzinfo) -> tzinfo:
        """The schedule's time zone: its own, else the configured default."""
        return self._zone or default

    def next_fire(self, after: datetime, default_zone: tzinfo) -> datetime:
        local = after.astimezone(self.zone(default_zone))
        moment: datetime = croniter(self.schedule, local).get_next(datetime)
        return moment.astimezone(UTC)

    def describe(self) -> str:
        return f"on the schedule `{self.schedule}` ({self.timezone or 'default time zone'})"


class MessageTrigger(_TriggerModel):
    """Fires on a message in one of `rooms` in which the regular expression `message` is found
    (the sender is the one the rule acts for)."""

    kind: ClassVar[str] = "message"
    fields_help: ClassVar[tuple[str, ...]] = ("message", "rooms")

    message: str
    rooms: tuple[str, ...] = Field(default=(), validate_default=True)

    _pattern: BoundedPattern = PrivateAttr()

    @field_validator("message")
    @classmethod
    def _check_message(cls, value: str) -> str:
        if not value:
            raise ValueError("the message pattern is empty; write a regular expression")
        try:
            check_syntax(value)
        except ValueError as exc:
            raise ValueError(
                f'“{value}” is not a valid regular expression ({exc}); e.g. "^(lunch|brb)$"'
            ) from None
        return value

    @field_validator("rooms", mode="before")
    @classmethod
    def _one_room_is_a_list(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value

    @field_validator("rooms")
    @classmethod
    def _check_rooms(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        names = tuple(room.strip().removeprefix("#").strip() for room in value)
        if not names:
            raise ValueError('a message trigger needs rooms, e.g. rooms = ["general"]')
        if any(not name for name in names):
            raise ValueError('a room name is empty; write names such as ["general", "team"]')
        return names

    def model_post_init(self, context: Any) -> None:
        self._pattern = BoundedPattern(self.message)

    def watches(self, room_name: str | None) -> bool:
        if not room_name:
            return False
        room = room_name.casefold()
        return any(room == name.casefold() for name in self.rooms)

    async def matches(self, room_name: str | None, text: str) -> bool:
        """True for a message in one of the rooms whose text the pattern finds (within its
        time bound: bot.automation.patterns raises PatternTimeout when the search takes longer)."""
        if not self.watches(room_name):
            return False
        return await self._pattern.search(text)

    def risk(self) -> str | None:
        return risky(self.message)

    def describe(self) -> str:
        rooms = ", ".join(f"#{room}" for room in self.rooms)
        return f"when you write something matching `{self.message}` in {rooms}"


KINDS: Final = (ScheduleTrigger, MessageTrigger)  # a new kind of trigger: its class goes here
TRIGGERS: Final[Mapping[str, type[_TriggerModel]]] = {kind.kind: kind for kind in KINDS}


def _kind_of(raw: Any) -> str | None:
    """The kind a raw trigger table names by its keys (None: none, or more than one)."""
    if isinstance(raw, _TriggerModel):
        return raw.kind
    if not isinstance(raw, Mapping):
        return None
    named = [kind for kind in TRIGGERS if kind in raw]
    return named[0] if len(named) == 1 else None


if TYPE_CHECKING:
    AnyTrigger = Trigger  # what the rest of the bot may rely on: the protocol only
else:
    AnyTrigger = Annotated[
        Union[tuple(Annotated[kind, Tag(kind.kind)] for kind in KINDS)],  # noqa: UP007
        Discriminator(_kind_of, custom_error_type="trigger_kind", custom_error_message=KIND_HOWTO),
    ]
"""A rule's `trigger` field: the kind its keys name, validated by that kind's class."""
