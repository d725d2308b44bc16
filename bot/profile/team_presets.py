"""The team's status presets, from the configuration file:

    [[presets]]
    name = "lunch"                 # people apply it with /status use lunch (or by its number)
    presence = "away"              # online, away, busy or offline
    text = "At lunch"
    for = "1h"                     # optional: then the previous status comes back

    [[presets]]
    name = "focus"
    presence = "busy"
    text = "Focus time, ping me only if urgent"
    until = "17:00"                # optional instead of for: a time of day in the person's zone

`parse_presets` reads the raw list and reports every problem at once in a `PresetProblems` (a
ValueError, so pydantic-settings passes it on), one line per problem, each naming its preset.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from datetime import time, timedelta
from typing import Any, Final

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from bot.core.errors import UserError
from bot.core.fields import check_status_text
from bot.core.values import Duration, StatusType, parse_clock_time
from bot.profile.presets import PRESET_NAME, PRESET_NAME_RULE, Preset, StatusChoice, lasting

MAX_TEAM_PRESETS: Final = 20
FIELDS: Final = ("name", "presence", "text", "for", "until")


class TeamPreset(BaseModel):
    """One `[[presets]]` table as the admin wrote it."""

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    name: str
    presence: StatusType
    text: str
    duration: timedelta | None = Field(default=None, alias="for")
    until: time | None = None

    @field_validator("name")
    @classmethod
    def _check_name(cls, value: str) -> str:
        if not PRESET_NAME.fullmatch(value.strip()):
            raise ValueError(
                f"“{value[:40]}” is not a usable preset name: {PRESET_NAME_RULE} (people type "
                'it in /status use NAME), e.g. "lunch"'
            )
        return value.strip()

    @field_validator("presence", mode="before")
    @classmethod
    def _check_presence(cls, value: Any) -> Any:
        if isinstance(value, str):
            presence = StatusType.parse(value)
            if presence is None:
                raise ValueError(
                    f"“{value[:40]}” is not a presence; use online, away, busy or offline"
                )
            return presence
        return value

    @field_validator("text")
    @classmethod
    def _check_text(cls, value: str) -> str:
        try:
            text = check_status_text(value)
        except UserError as exc:
            raise ValueError(str(exc)) from None
        if not text:
            raise ValueError('is empty; a preset sets a status text, e.g. text = "At lunch"')
        return text

    @field_validator("duration", mode="before")
    @classmethod
    def _check_duration(cls, value: Any) -> Any:
        if isinstance(value, str):
            try:
                return timedelta(seconds=Duration.convert(value).total_seconds())
            except UserError as exc:
                raise ValueError(str(exc)) from None
        if value is None or isinstance(value, timedelta):
            return value
        raise ValueError('write the duration as text, e.g. for = "1h" (30m, 2h, 1d or 1h30m)')

    @field_validator("until", mode="before")
    @classmethod
    def _check_until(cls, value: Any) -> Any:
        if isinstance(value, str):
            try:
                return parse_clock_time(value)
            except UserError as exc:
                raise ValueError(str(exc)) from None
        if isinstance(value, time):  # TOML's own time of day (until = 17:30:00) is fine
            return value.replace(second=0, microsecond=0, tzinfo=None)
        if value is None:
            return value
        raise ValueError('write the time of day as text, e.g. until = "17:30"')

    @model_validator(mode="after")
    def _one_end(self) -> TeamPreset:
        if self.duration is not None and self.until is not None:
            raise ValueError('give for = "1h" or until = "17:30", not both')
        return self

    @property
    def preset(self) -> Preset:
        """The preset as the /status service uses it."""
        choice = StatusChoice(self.presence, self.text, lasting(self.duration, self.until))
        return Preset(self.name, choice, team=True)

    def describe(self) -> str:
        """`lunch: away: At lunch (for 1h)`, for `rcbot check`."""
        return f"{self.name}: {self.preset.choice.describe()}"


class PresetProblems(ValueError):
    """The presets cannot be used as written; one line per problem, each naming its preset."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        count = len(problems)
        head = "1 problem" if count == 1 else f"{count} problems"
        super().__init__(f"{head} in the presets:\n    " + "\n    ".join(problems))


def parse_presets(raw: Any) -> list[TeamPreset]:
    """Read the `presets` setting (a list of tables); PresetProblems lists everything wrong."""
    if raw is None:
        return []
    if isinstance(raw, Mapping):
        raw = [raw]
    if not isinstance(raw, list | tuple):
        raise PresetProblems(
            ["presets must be a list of tables: write each preset as a [[presets]] section"]
        )
    presets: list[TeamPreset] = []
    problems: list[str] = []
    seen: dict[str, int] = {}
    if len(raw) > MAX_TEAM_PRESETS:
        problems.append(
            f"there are {len(raw)} presets; at most {MAX_TEAM_PRESETS} fit in people's lists"
        )
    for index, item in enumerate(raw):
        if isinstance(item, TeamPreset):
            item = item.model_dump(by_alias=True)
        if not isinstance(item, Mapping):
            problems.append(
                f"preset #{index + 1}: is not a table; write it as a [[presets]] section with "
                "name, presence and text"
            )
            continue
        name = item.get("name")
        if isinstance(name, str) and name.strip():
            folded = name.strip().casefold()
            if folded in seen:
                problems.append(
                    f"preset “{name.strip()}” (#{index + 1}): the name is used twice (also by "
                    f"#{seen[folded]}); give each preset its own name"
                )
                continue
            seen[folded] = index + 1
        label = (
            f"preset “{name.strip()}”"
            if isinstance(name, str) and name.strip()
            else f"preset #{index + 1}"
        )
        try:
            presets.append(TeamPreset.model_validate(dict(item)))
        except ValidationError as exc:
            problems.extend(f"{label}: {line}" for line in _explain(exc))
    if problems:
        raise PresetProblems(problems)
    return presets


def _explain(exc: ValidationError) -> list[str]:
    lines = []
    for error in exc.errors(include_url=False):  # the input is never shown, only read
        where = ".".join(str(part) for part in error["loc"] if not isinstance(part, int))
        kind = error["type"]
        if kind == "extra_forbidden":
            close = difflib.get_close_matches(where, FIELDS, n=1)
            guess = f"; did you mean {close[0]}?" if close else ""
            lines.append(f"unknown field “{where}”{guess} (a preset takes {', '.join(FIELDS)})")
        elif kind == "missing":
            lines.append(f"{where} is missing; a preset needs name, presence and text")
        elif kind == "value_error":
            message = str(error["msg"]).removeprefix("Value error, ")
            lines.append(f"{where}: {message}" if where else message)
        else:
            lines.append(f"{where}: {str(error['msg']).lower()}")
    return lines
