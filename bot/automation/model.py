"""Rules from the configuration file: a name, a trigger, the users and the change.

    [[rules]]
    name = "evening-away"
    trigger = { schedule = "0 18 * * 1-5", timezone = "Europe/Berlin" }
    users = { room = "team" }
    change = { status = "away", status_text = "Off for the day", for = "14h" }

    [[rules]]
    name = "lunch"
    trigger = { message = "^(lunch|brb)$", rooms = ["general"] }
    users = { opted_in = true }
    change = { status = "away", status_text = "At lunch", for = "1h" }

A trigger is a `schedule` (five-field cron, in `timezone` or else the configured default time
zone) or a `message` (a regular expression searched in each message of the named `rooms`; the
sender is the one the rule acts for): bot.automation.triggers. `users` is one of `usernames = [...]`, `room = "name"`
(its members) or `opted_in = true` (whoever sent `/rules on NAME`). `change` takes the fields
of `/status`, `/bio` and `/nick`, plus an optional `for = "<duration>"`.

`parse_rules` reads the raw list and reports every problem at once in a `RuleProblems` (a
ValueError, so pydantic-settings passes it on), one line per problem, each naming the rule.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping
from datetime import timedelta
from typing import Any, Final

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from bot.automation.triggers import TRIGGERS, AnyTrigger
from bot.core.errors import UserError
from bot.core.fields import check_bio, check_nickname, check_status_text
from bot.core.values import Duration, StatusType, format_duration

RULE_NAME: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")
_FIELDS: Final[Mapping[str, tuple[str, ...]]] = {
    "rule": ("name", "trigger", "users", "change"),
    "users": ("usernames", "room", "opted_in"),
    "change": ("status", "status_text", "bio", "nickname", "for"),
}


def _room_name(raw: str) -> str:
    return raw.strip().removeprefix("#").strip()


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)


class UserSelector(_Model):
    """Whom a rule is for: some `usernames`, the members of a `room`, or whoever `opted_in`."""

    usernames: tuple[str, ...] | None = None
    room: str | None = None
    opted_in: bool = False

    @field_validator("usernames")
    @classmethod
    def _check_usernames(cls, value: tuple[str, ...] | None) -> tuple[str, ...] | None:
        if value is None:
            return None
        names = tuple(name.strip().removeprefix("@") for name in value)
        if not names or any(not name for name in names):
            raise ValueError('the list of usernames is empty; e.g. usernames = ["alice", "bob"]')
        return names

    @field_validator("room")
    @classmethod
    def _check_room(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if not _room_name(value):
            raise ValueError('the room name is empty; e.g. room = "team"')
        return _room_name(value)

    @model_validator(mode="after")
    def _exactly_one(self) -> UserSelector:
        given = [self.usernames is not None, self.room is not None, self.opted_in]
        if sum(given) != 1:
            raise ValueError(
                'give exactly one of usernames = ["alice", "bob"], room = "team" (its members) '
                "or opted_in = true (whoever sends /rules on NAME)"
            )
        return self

    def includes_username(self, username: str) -> bool:
        """True when `username` is in the list (compared ignoring case)."""
        wanted = username.casefold()
        return any(name.casefold() == wanted for name in self.usernames or ())

    def describe(self) -> str:
        if self.usernames is not None:
            return ", ".join(f"@{name}" for name in self.usernames)
        if self.room is not None:
            return f"members of #{self.room}"
        return "everyone who opted in"


class Change(_Model):
    """What a rule sets: fields of `/status`, `/bio` and `/nick`, for a while or for good."""

    status: StatusType | None = None
    status_text: str | None = None
    bio: str | None = None
    nickname: str | None = None
    duration: timedelta | None = Field(default=None, alias="for")

    @field_validator("status", mode="before")
    @classmethod
    def _check_status(cls, value: Any) -> Any:
        if isinstance(value, str) and StatusType.parse(value) is None:
            raise ValueError(f"“{value}” is not a presence; use online, away, busy or offline")
        return StatusType.parse(value) if isinstance(value, str) else value

    @field_validator("status_text")
    @classmethod
    def _check_status_text(cls, value: str | None) -> str | None:
        return _checked(check_status_text, value)

    @field_validator("bio")
    @classmethod
    def _check_bio(cls, value: str | None) -> str | None:
        return _checked(check_bio, value)

    @field_validator("nickname")
    @classmethod
    def _check_nickname(cls, value: str | None) -> str | None:
        return _checked(check_nickname, value)

    @field_validator("duration", mode="before")
    @classmethod
    def _check_duration(cls, value: Any) -> Any:
        if isinstance(value, str):
            try:
                return Duration.convert(value)
            except UserError as exc:
                raise ValueError(str(exc)) from None
        return value

    @model_validator(mode="after")
    def _something(self) -> Change:
        if not self.fields():
            raise ValueError(
                "change nothing? give at least one of status, status_text, bio or nickname, e.g. "
                '{ status = "away", for = "1h" }'
            )
        return self

    def fields(self) -> dict[str, str]:
        """The profile fields to set, by ProfileService field key."""
        values: dict[str, str | None] = {
            "presence": self.status.value if self.status is not None else None,
            "status_text": self.status_text,
            "bio": self.bio,
            "nickname": self.nickname,
        }
        return {key: value for key, value in values.items() if value is not None}

    def describe(self) -> str:
        """`away “Off for the day” for 14h`-style summary."""
        parts = []
        if self.status is not None:
            parts.append(f"status {self.status.value}")
        if self.status_text is not None:
            parts.append(f"status text “{self.status_text}”" if self.status_text else "no text")
        if self.bio is not None:
            parts.append(f"bio “{self.bio}”" if self.bio else "no bio")
        if self.nickname is not None:
            parts.append(f"nickname “{self.nickname}”" if self.nickname else "no nickname")
        text = ", ".join(parts)
        if self.duration is not None:
            text += f" for {format_duration(self.duration)}"
        return text


def _checked(check: Any, value: str | None) -> str | None:
    if value is None:
        return None
    try:
        return str(check(value))
    except UserError as exc:
        raise ValueError(str(exc)) from None


class Rule(_Model):
    """One automation rule as the admin wrote it."""

    name: str
    trigger: AnyTrigger
    users: UserSelector
    change: Change

    @field_validator("name")
    @classmethod
    def _check_name(cls, value: str) -> str:
        if not RULE_NAME.fullmatch(value.strip()):
            raise ValueError(
                f"“{value[:40]}” is not a usable rule name: one word of letters, digits, - and "
                '_ (people type it in /rules off NAME), e.g. "evening-away"'
            )
        return value.strip()

    @field_validator("users", mode="before")
    @classmethod
    def _shorthand_users(cls, value: Any) -> Any:
        if isinstance(value, list | tuple):
            return {"usernames": value}
        if isinstance(value, str):
            if value.strip().casefold().replace("_", "-") == "opted-in":
                return {"opted_in": True}
            return {"room": value}
        return value

    def describe(self) -> str:
        """One line: what the rule does, when, and for whom."""
        return (
            f"{self.name}: {self.change.describe()}, {self.trigger.describe()}, for "
            f"{self.users.describe()}"
        )


class RuleProblems(ValueError):
    """The rules cannot be used as written; one line per problem, each naming its rule."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        count = len(problems)
        head = "1 problem" if count == 1 else f"{count} problems"
        super().__init__(f"{head} in the rules:\n    " + "\n    ".join(problems))


def parse_rules(raw: Any) -> list[Rule]:
    """Read the `rules` setting (a list of tables); RuleProblems lists everything wrong."""
    if raw is None:
        return []
    if isinstance(raw, Mapping):
        raw = [raw]
    if not isinstance(raw, list | tuple):
        raise RuleProblems(
            ["rules must be a list of tables: write each rule as a [[rules]] section"]
        )
    rules: list[Rule] = []
    problems: list[str] = []
    seen: dict[str, int] = {}
    for index, item in enumerate(raw):
        if isinstance(item, Rule):
            item = item.model_dump(by_alias=True)
        if not isinstance(item, Mapping):
            problems.append(
                f"rule #{index + 1}: is not a table; write it as a [[rules]] section with name, "
                "trigger, users and change"
            )
            continue
        name = item.get("name")
        if isinstance(name, str) and name.strip():
            folded = name.strip().casefold()
            if folded in seen:
                problems.append(
                    f"rule “{name.strip()}” (#{index + 1}): the name is used twice (also by "
                    f"#{seen[folded]}); give each rule its own name"
                )
                continue
            seen[folded] = index + 1
        parsed = _parse_one(item, index)
        if isinstance(parsed, list):
            problems.extend(parsed)
        else:
            rules.append(parsed)
    if problems:
        raise RuleProblems(problems)
    return rules


def _parse_one(item: Mapping[str, Any], index: int) -> Rule | list[str]:
    name = item.get("name")
    label = f"rule “{name}”" if isinstance(name, str) and name.strip() else f"rule #{index + 1}"
    try:
        return Rule.model_validate(dict(item))
    except ValidationError as exc:
        return [f"{label}: {line}" for line in _explain(exc)]


def _explain(exc: ValidationError) -> list[str]:
    lines = []
    for error in exc.errors(include_url=False):  # the input is never shown, only read
        loc = [str(part) for part in error["loc"] if not isinstance(part, int)]
        tag = loc.pop(1) if loc[:1] == ["trigger"] and len(loc) > 1 else None  # its kind
        where = ".".join(loc)
        kind = error["type"]
        if kind == "extra_forbidden":
            section = loc[-2] if len(loc) > 1 else "rule"
            known = TRIGGERS[tag].fields_help if tag else _FIELDS.get(section, ())
            takes = f"a {tag} trigger" if tag else section
            close = difflib.get_close_matches(loc[-1], known, n=1)
            guess = f"; did you mean {close[0]}?" if close else ""
            lines.append(f"unknown field “{where}”{guess} ({takes} takes {', '.join(known)})")
        elif kind == "trigger_kind":
            lines.append(f"{where}: {error['msg']}{_trigger_typo(error.get('input'))}")
        elif kind == "missing":
            lines.append(f"{where} is missing; a rule needs name, trigger, users and change")
        elif kind == "value_error":
            message = str(error["msg"]).removeprefix("Value error, ")
            lines.append(f"{where}: {message}" if where else message)
        elif kind in ("model_type", "model_attributes_type", "dict_type"):
            lines.append(f"{where} must be a table, e.g. {where} = {{ ... }}")
        else:
            lines.append(f"{where}: {str(error['msg']).lower()}")
    return lines


def _trigger_typo(raw: Any) -> str:
    """ "; did you mean schedule?" for a trigger table whose key is a kind's name, misspelt."""
    if not isinstance(raw, Mapping):
        return ""
    for key in raw:
        close = difflib.get_close_matches(str(key), list(TRIGGERS), n=1)
        if close and key not in TRIGGERS:
            return f" (did you mean {close[0]} instead of {key}?)"
    return ""
