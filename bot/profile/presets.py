"""Statuses to pick again: the person's recent ones, their own presets and the team's.

`/status` alone shows one numbered list: the recent statuses (newest first), the person's
presets, then the team's (`[[presets]]` in the configuration, bot.profile.team_presets).

* **Recent statuses** are the ones the person set through `/status` with a text (typed, picked
  by number or applied as a preset), with the `for`/`until` they had; presence alone, `clear`,
  rules, expiries and undo do not count. One per text, as Mattermost keeps them (a text used
  again moves up, with its newest presence and time); the newest ten are kept and the five
  newest that are not also a listed preset are shown.
* **Numbers** refer to the list the bot showed the person last (by `/status` or `/status
  presets`) for an hour, so picking one (which moves it up the recents) does not renumber the
  list under them; with no list shown in that hour, to the list as it is now. A preset deleted
  or unconfigured since it was shown is refused by name, a number past the end is refused.
* **Personal presets**: at most twenty a person, names of one word (a letter first, at most 32
  characters, letters, digits, - and _), unique ignoring case and distinct from the team's.

The status itself is set by the caller through ProfileService.set_status, so the audit trail,
/undo and timed reverts see it like any other; this service only remembers and looks up.
"""

from __future__ import annotations

import difflib
import logging
import re
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import time, timedelta
from typing import Any, Final, Literal

from bot.core.clock import Clock
from bot.core.errors import DatabaseBusy, UserError
from bot.core.values import Expiry, StatusType
from bot.storage.presets import PresetStore, SavedStatus, name_key

log = logging.getLogger(__name__)

PRESET_NAME: Final = re.compile(r"[^\W\d_][\w-]{0,31}")
PRESET_NAME_RULE: Final = (
    "one word of letters, digits, - and _ that starts with a letter, at most 32 characters"
)
RECENT_SHOWN: Final = 5
RECENT_KEPT: Final = 10
MAX_PERSONAL_PRESETS: Final = 20
MENU_LIFETIME: Final = timedelta(hours=1)

Section = Literal["recent", "mine", "team"]


@dataclass(frozen=True)
class StatusChoice:
    """A status one can set again: a presence, a text, and for how long (or for good)."""

    presence: StatusType
    text: str
    expiry: Expiry | None = None

    def describe(self) -> str:
        """`away: At lunch (for 1h)`."""
        head = f"{self.presence.value}: {self.text}" if self.text else self.presence.value
        return head + (f" ({self.expiry.describe()})" if self.expiry is not None else "")

    def saved(self) -> SavedStatus:
        """The stored form."""
        expiry = self.expiry
        return SavedStatus(
            presence=self.presence.value,
            text=self.text,
            for_seconds=(
                int(expiry.duration.total_seconds())
                if expiry is not None and expiry.duration is not None
                else None
            ),
            until_time=(
                f"{expiry.until:%H:%M}"
                if expiry is not None and expiry.until is not None
                else None
            ),
        )

    @classmethod
    def from_saved(cls, saved: SavedStatus) -> StatusChoice | None:
        """The stored form read back (None for a presence this bot does not know)."""
        presence = StatusType.parse(saved.presence)
        if presence is None:
            return None
        expiry = None
        if saved.for_seconds is not None:
            expiry = Expiry(duration=timedelta(seconds=saved.for_seconds))
        elif saved.until_time is not None:
            expiry = Expiry(until=time.fromisoformat(saved.until_time))
        return cls(presence=presence, text=saved.text, expiry=expiry)


def lasting(duration: timedelta | None = None, until: time | None = None) -> Expiry | None:
    """The Expiry of a `for` or an `until` (plain timedelta, so equal statuses compare equal)."""
    if duration is not None:
        return Expiry(duration=timedelta(seconds=duration.total_seconds()))
    if until is not None:
        return Expiry(until=until)
    return None


@dataclass(frozen=True)
class Preset:
    """A named status: one of the person's own, or one of the team's (`team`)."""

    name: str
    choice: StatusChoice
    team: bool = False

    @property
    def kind(self) -> str:
        return "team preset" if self.team else "preset"


@dataclass(frozen=True)
class MenuEntry:
    """One numbered line of the list: a recent status, or a preset."""

    number: int
    choice: StatusChoice
    preset: Preset | None = None

    def describe(self) -> str:
        """`1. away: At lunch (for 1h)` or `4. `lunch` — away: At lunch (for 1h)`."""
        name = f"`{self.preset.name}` — " if self.preset is not None else ""
        return f"{self.number}. {name}{self.choice.describe()}"


@dataclass(frozen=True)
class Menu:
    """The numbered list: recent statuses, then the person's presets, then the team's."""

    recent: tuple[MenuEntry, ...]
    mine: tuple[MenuEntry, ...]
    team: tuple[MenuEntry, ...]

    @property
    def entries(self) -> tuple[MenuEntry, ...]:
        return (*self.recent, *self.mine, *self.team)


@dataclass(frozen=True)
class Saved:
    """What `/status save` did: the preset, and whether it replaced one of the same name."""

    preset: Preset
    replaced: bool


class StatusPresets:
    """Recent statuses, personal presets and the team's, and the numbered list of them."""

    def __init__(
        self, store: PresetStore, team: Sequence[Preset], clock: Clock, *, prefix: str = "/"
    ) -> None:
        self._store = store
        self.team = tuple(team)
        self._clock = clock
        self._prefix = prefix

    # -- the list -----------------------------------------------------------------------------

    async def show(self, user_id: str) -> Menu:
        """The whole list (recent statuses and presets); numbers now refer to it."""
        menu = await self._build(user_id, with_recent=True)
        await self._remember(user_id, menu)
        return menu

    async def show_presets(self, user_id: str) -> Menu:
        """The presets alone (the person's and the team's); numbers now refer to them."""
        menu = await self._build(user_id, with_recent=False)
        await self._remember(user_id, menu)
        return menu

    async def pick(self, user_id: str, number: int) -> MenuEntry:
        """Entry `number` of the list shown last (within the hour), else of the list as it is."""
        stored = await self._store.menu(user_id)
        now = self._clock.now()
        if stored is not None and now - stored.shown_at <= MENU_LIFETIME and stored.entries:
            if not 1 <= number <= len(stored.entries):
                raise UserError(
                    f"There is no number {number} in the list I showed you (1 to "
                    f"{len(stored.entries)}). `{self._prefix}status` shows it again."
                )
            return await self._resolve(user_id, number, stored.entries[number - 1])
        entries = (await self._build(user_id, with_recent=True)).entries
        if not entries:
            raise UserError(
                "There is nothing to pick yet: you have no recent statuses and there are no "
                f"presets. Set a status with a text (`{self._prefix}status away At lunch for "
                f"1h`) and it shows up in `{self._prefix}status`."
            )
        if not 1 <= number <= len(entries):
            raise UserError(
                f"There is no number {number}: your list has 1 to {len(entries)}. "
                f"`{self._prefix}status` shows it."
            )
        return entries[number - 1]

    async def _build(self, user_id: str, *, with_recent: bool) -> Menu:
        mine = await self.personal(user_id)
        listed = {preset.choice for preset in (*mine, *self.team)}
        recent: list[StatusChoice] = []
        if with_recent:
            for saved in await self._store.recent(user_id, RECENT_KEPT):
                choice = StatusChoice.from_saved(saved)
                if choice is None or choice in listed:
                    continue
                recent.append(choice)
                if len(recent) == RECENT_SHOWN:
                    break
        numbers = iter(range(1, len(recent) + len(mine) + len(self.team) + 1))
        return Menu(
            recent=tuple(MenuEntry(next(numbers), choice) for choice in recent),
            mine=tuple(MenuEntry(next(numbers), p.choice, p) for p in mine),
            team=tuple(MenuEntry(next(numbers), p.choice, p) for p in self.team),
        )

    async def _remember(self, user_id: str, menu: Menu) -> None:
        entries: list[dict[str, Any]] = []
        for entry in menu.entries:
            if entry.preset is None:
                entries.append({"recent": asdict(entry.choice.saved())})
            else:
                entries.append({"team" if entry.preset.team else "mine": entry.preset.name})
        await self._store.put_menu(user_id, entries, at=self._clock.now())

    async def _resolve(self, user_id: str, number: int, entry: Mapping[str, Any]) -> MenuEntry:
        """A remembered line as it stands now: a preset is looked up again by its name."""
        if isinstance(entry.get("recent"), Mapping):
            try:
                choice = StatusChoice.from_saved(SavedStatus(**entry["recent"]))
            except (TypeError, ValueError):  # written by another version of the bot
                choice = None
            if choice is not None:
                return MenuEntry(number, choice)
        for section, presets in (("mine", await self.personal(user_id)), ("team", self.team)):
            name = entry.get(section)
            if not isinstance(name, str):
                continue
            for preset in presets:
                if name_key(preset.name) == name_key(name):
                    return MenuEntry(number, preset.choice, preset)
            gone = (
                f"your preset `{name}`, which you have deleted since"
                if section == "mine"
                else f"the team preset `{name}`, which is no longer configured"
            )
            raise UserError(
                f"Number {number} was {gone}. `{self._prefix}status` shows the list as it is now."
            )
        raise UserError(f"I cannot read number {number} any more; `{self._prefix}status` lists.")

    # -- presets by name ----------------------------------------------------------------------

    async def personal(self, user_id: str) -> list[Preset]:
        """The person's own presets, by name."""
        presets = []
        for stored in await self._store.presets(user_id):
            choice = StatusChoice.from_saved(stored.status)
            if choice is not None:
                presets.append(Preset(stored.name, choice))
        return presets

    async def find(self, user_id: str, name: str) -> Preset:
        """The person's preset `name`, else the team's (ignoring case); a UserError naming the
        presets there are when neither has one."""
        mine = await self.personal(user_id)
        for preset in (*mine, *self.team):
            if name_key(preset.name) == name_key(name):
                return preset
        raise UserError(self._unknown(name, [p.name for p in (*mine, *self.team)]))

    async def save(self, user_id: str, name: str, choice: StatusChoice) -> Saved:
        """Keep `choice` as the person's preset `name` (replacing one of that name)."""
        check_preset_name(name)
        if not choice.text:
            raise UserError("A preset needs a status text.")
        clash = next((p for p in self.team if name_key(p.name) == name_key(name)), None)
        if clash is not None:
            raise UserError(
                f"The team already has a preset called `{clash.name}` "
                f"(`{self._prefix}status use {clash.name}` applies it); choose another name."
            )
        outcome = await self._store.save_preset(
            user_id, name, choice.saved(), at=self._clock.now(), limit=MAX_PERSONAL_PRESETS
        )
        if outcome == "full":
            raise UserError(
                f"You have {MAX_PERSONAL_PRESETS} presets, the most I keep for one person. "
                f"Delete one first (`{self._prefix}status delete NAME`; "
                f"`{self._prefix}status presets` lists them)."
            )
        return Saved(Preset(name, choice), replaced=outcome == "replaced")

    async def delete(self, user_id: str, name: str) -> Preset:
        """Forget the person's preset `name`; the one deleted."""
        mine = await self.personal(user_id)
        found = next((p for p in mine if name_key(p.name) == name_key(name)), None)
        if found is None:
            team = next((p for p in self.team if name_key(p.name) == name_key(name)), None)
            if team is not None:
                raise UserError(
                    f"`{team.name}` is a team preset, set in my configuration: only an admin "
                    "can remove it."
                )
            raise UserError(self._unknown(name, [p.name for p in mine], mine_only=True))
        await self._store.delete_preset(user_id, found.name)
        return found

    def _unknown(self, name: str, names: list[str], *, mine_only: bool = False) -> str:
        shown = f"“{name}”" if PRESET_NAME.fullmatch(name) else "by that name"
        whose = "You have no preset" if mine_only else "There is no preset"
        sentence = f"{whose} {shown}."
        close = difflib.get_close_matches(name, names, n=1)
        if close:
            sentence += f" Did you mean `{close[0]}`?"
        elif names:
            sentence += " " + ("Yours" if mine_only else "The presets") + " are: "
            sentence += ", ".join(f"`{n}`" for n in names) + "."
        return sentence + f" `{self._prefix}status presets` lists them."

    # -- recent statuses ----------------------------------------------------------------------

    async def used(self, user_id: str, choice: StatusChoice) -> None:
        """The person set `choice` through `/status`: it becomes their newest recent status
        (a status without a text is not kept)."""
        if not choice.text:
            return
        try:
            await self._store.record_recent(
                user_id, choice.saved(), at=self._clock.now(), keep=RECENT_KEPT
            )
        except DatabaseBusy as exc:  # the status is set all the same: say so, not this
            log.warning("recent status of %s not recorded: %s", user_id, exc)

    async def last_used(self, user_id: str) -> StatusChoice | None:
        """The status the person set through `/status` last, if any."""
        newest = await self._store.recent(user_id, 1)
        return StatusChoice.from_saved(newest[0]) if newest else None


def check_preset_name(name: str) -> str:
    """`name` if it can name a preset; a UserError saying what a name looks like if not."""
    if not PRESET_NAME.fullmatch(name):
        shown = f"“{name[:40]}”" if len(name) <= 40 and name.isprintable() else "That"
        raise UserError(f"{shown} cannot name a preset: use {PRESET_NAME_RULE}, e.g. lunch.")
    return name
