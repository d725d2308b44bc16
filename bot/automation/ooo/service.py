"""Out of office: `/ooo`, the absence's start and end on the scheduler, and following while away.

An absence is stored first (bot.storage.absences), then acted on, so a restart finds it: one
that starts later waits on the scheduler (`AbsenceStarts`); one under way has its end there
(`AbsenceEnds`) and, on the process that runs the scheduler, a Follower reading what reaches
the person. Each step is a conditional state change in the database (scheduled → starting →
active → ending → gone), so on replicas one of them takes it. Start: the profile shows the
absence (effects.py) and the server time from which messages count is taken. End: the
follower stops, the profile comes back, the digest goes to the person's DM with the bot, and
the absence is forgotten.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Final, Protocol

from bot.automation.layers import StatusLayers
from bot.automation.ooo.digest import digest_text
from bot.automation.ooo.effects import AbsenceEffects, TemporaryProfileChange
from bot.automation.ooo.following import Followers, FollowSettings
from bot.automation.ooo.model import since_label, until_label, zone_text
from bot.automation.ooo.request import SetAbsence, resolve
from bot.automation.ooo.responder import BotSenders
from bot.automation.schedule import AbsenceEnds, AbsenceStarts, Job
from bot.core.clock import Clock
from bot.core.errors import BotError, UserError
from bot.core.message import ID_ALPHABET
from bot.core.values import StatusType
from bot.profile.model import Actor
from bot.profile.reverts import RevertBook
from bot.profile.service import ProfileService
from bot.rocketchat.account import BotAccount, BotLogin, LoginSettings
from bot.rocketchat.frames import server_time
from bot.rocketchat.rest import RestClient
from bot.storage.absences import Absence, AbsenceStore

log = logging.getLogger(__name__)

RETRY_DIGEST: Final = timedelta(minutes=1)


class Teller(Protocol):
    """Sends a DM from the bot (bot.rocketchat.replies.Replies.tell); `about` makes it once."""

    async def __call__(self, username: str, text: str, *, about: str | None = None) -> None: ...


class OooSettings(FollowSettings, LoginSettings, Protocol):
    """What out of office reads of the configuration (BotSettings has it)."""

    @property
    def ooo_auto_reply(self) -> bool: ...
    @property
    def ooo_presence(self) -> str: ...


class OutOfOffice:
    """The out-of-office service: commands ask it by the name `ooo`."""

    def __init__(
        self,
        profile: ProfileService,
        reverts: RevertBook,
        store: AbsenceStore,
        rest: RestClient,
        settings: OooSettings,
        clock: Clock,
        *,
        schedule: Callable[[datetime, Job], None],
        tell: Teller | None = None,
        owner: str = "local",
        shared: bool = False,
        lease: float = 15.0,
        effects: AbsenceEffects | None = None,
        layers: StatusLayers | None = None,
    ) -> None:
        self._profile = profile
        self._store = store
        self._rest = rest
        self._settings = settings
        self._clock = clock
        self._schedule = schedule
        self._tell = tell
        self._owner = owner
        self._shared = shared
        self._lease = timedelta(seconds=lease)
        presence = StatusType(settings.ooo_presence)
        self._effects = effects or TemporaryProfileChange(
            profile, reverts, clock, presence=presence, layers=layers
        )
        self._bots = BotSenders(
            rest, BotAccount(BotLogin.from_settings(settings), rest).credentials
        )
        self.followers = Followers(
            store,
            rest,
            settings,
            profile.tokens,
            self._bots,
            clock,
            owner=owner,
            auto_reply=settings.ooo_auto_reply,
        )
        self._following = False
        self._scheduled: dict[str, tuple[str, datetime, datetime]] = {}
        self._site_url: str | None = None

    @property
    def prefix(self) -> str:
        return self._profile.prefix

    # -- commands ---------------------------------------------------------------------------

    async def show(self, actor: Actor) -> str:
        """`/ooo`: the absence as it stands."""
        absence = await self._store.of_user(actor.sender_id)
        suffix_on = await self._store.wants_name_suffix(actor.sender_id)
        name = "on" if suffix_on else "off"
        name_line = f"The “(OOO until …)” suffix on your display name is {name} (`{self.prefix}ooo name on|off`)."
        if absence is None:
            return (
                f"You are not out of office. `{self.prefix}ooo until 2026-12-27 Skiing` sets one "
                f"(also `for 1w`, or `from <date> until <date>`). {name_line}"
            )
        note = f": “{absence.note}”" if absence.note else "."
        now = self._clock.now()
        if absence.state == "scheduled":
            return (
                f"You will be out of office from {since_label(absence, now=now)} until "
                f"{until_label(absence, weekday=True, now=now)}{note} "
                f"`{self.prefix}ooo off` calls it off. {name_line}"
            )
        noted = len(await self._store.noted(absence.absence_id))
        replied = await self._store.replied_to(absence.absence_id)
        return (
            f"You are out of office until {until_label(absence, weekday=True, now=now)}{note} "
            f"So far {noted} message(s) for you; {replied} person(s) got an automatic answer. "
            f"`{self.prefix}ooo off` ends it now. {name_line}"
        )

    async def set(self, actor: Actor, request: SetAbsence) -> str:
        """`/ooo until …`, `for …`, `from … until …`: store the absence and start or schedule it."""
        current = await self._profile.current(actor)  # also: no token, or a rejected one
        zone = self._profile.zone_of(current)
        now = self._clock.now()
        start, end = resolve(request, now, zone)
        existing = await self._store.of_user(actor.sender_id)
        if existing is not None and existing.state != "scheduled":
            return await self._extend(existing, start, end, request.note)
        absence = Absence(
            absence_id=_new_id(),
            user_id=actor.sender_id,
            username=actor.sender_username,
            state="scheduled" if start > now else "starting",
            starts_at=start,
            ends_at=end,
            note=request.note,
            zone=zone_text(zone),
            name_suffix=await self._store.wants_name_suffix(actor.sender_id),
            created_at=now,
        )
        await self._store.replace(absence)
        back = until_label(absence, weekday=True, now=now)
        if absence.state == "scheduled":
            self._plan(absence)
            return (
                f"Noted: you will be out of office from {since_label(absence, now=now)} until "
                f"{back}. `{self.prefix}ooo` shows it, `{self.prefix}ooo off` calls it off."
            )
        try:
            await self._begin(absence)
        except BaseException:
            await self._store.forget(absence.absence_id)
            raise
        return (
            f"You are out of office until {back}. Your status says so; people who write to you "
            "directly or mention you get one automatic answer each, and when you are back I "
            f"send you a list of what came in. `{self.prefix}ooo off` ends it early."
        )

    async def _extend(self, absence: Absence, start: datetime, end: datetime, note: str) -> str:
        if start > self._clock.now():
            raise UserError(
                f"You are out of office already, until {until_label(absence, weekday=True)}. "
                f"`{self.prefix}ooo off` ends it; `{self.prefix}ooo until <date>` changes the "
                "day you are back."
            )
        if not await self._store.change_end(absence.absence_id, ends_at=end, note=note):
            raise UserError("Your out of office is ending right now; try again in a moment.")
        changed = replace(absence, ends_at=end, note=note)
        await self._effects.begin(changed)
        self._plan(changed)
        follower = self.followers.get(absence.absence_id)
        if follower is not None:
            follower.responder.absence = replace(
                changed, anchor_ms=follower.responder.absence.anchor_ms
            )
        return f"You are now out of office until {until_label(changed, weekday=True)}."

    async def off(self, actor: Actor) -> str:
        """`/ooo off`: end the absence now, or call off one that has not started."""
        absence = await self._store.of_user(actor.sender_id)
        if absence is None:
            return f"You are not out of office; nothing to end. `{self.prefix}ooo` shows how to set one."
        if absence.state == "ending":
            return "Your out of office is already ending."
        if absence.state == "scheduled":
            if await self._store.advance(
                absence.absence_id, from_states=["scheduled"], to="ending"
            ):
                await self._store.forget(absence.absence_id)
                return "Called off: your out of office will not start."
            absence = await self._store.get(absence.absence_id) or absence
        if not await self._finish(absence):
            return "Your out of office is already ending."
        return (
            "Your out of office is over: your status is back to what it was (unless you "
            "changed it meanwhile), and the list of what came in is above."
        )

    async def away(self, user_id: str) -> bool:
        """Whether `user_id` has an absence, scheduled or under way."""
        return await self._store.of_user(user_id) is not None

    async def choose_name_suffix(self, actor: Actor, on: bool) -> str:
        """`/ooo name on|off`."""
        await self._store.choose_name_suffix(actor.sender_id, on)
        if on:
            return (
                "From your next out of office on, your display name ends in “(OOO until …)” "
                "while you are away; it is removed when you are back."
            )
        return "Your display name will stay as it is while you are away."

    # -- the scheduler's jobs ---------------------------------------------------------------

    async def run(self, job: AbsenceStarts | AbsenceEnds) -> None:
        """An absence's start or end may be due (the store decides)."""
        absence = await self._store.get(job.absence_id)
        if absence is None:
            return
        now = self._clock.now()
        if isinstance(job, AbsenceStarts):
            if absence.state != "scheduled" or absence.starts_at > now:
                return
            if not await self._store.advance(
                absence.absence_id, from_states=["scheduled"], to="starting"
            ):
                return
            try:
                await self._begin(replace(absence, state="starting"))
            except UserError as error:
                await self._store.forget(absence.absence_id)
                await self._say(absence, f"Your out of office could not start: {error}")
            return
        if absence.state == "ending" or (absence.state == "active" and absence.ends_at <= now):
            await self._finish(absence)

    async def _begin(self, absence: Absence) -> None:
        await self._effects.begin(absence)
        anchor = await self._anchor(absence)
        await self._store.advance(absence.absence_id, from_states=["starting"], to="active")
        started = replace(absence, state="active", anchor_ms=anchor)
        self._plan(started)
        if self._following:
            await self.followers.follow(started)

    async def _anchor(self, absence: Absence) -> float | None:
        """The server's time of the latest change in the person's rooms: what came before is
        not for the absence (their own rooms.get, once)."""
        try:
            credentials = await self._profile.tokens.credentials_for(absence.user_id)
            answer = await self._rest.request("GET", "rooms.get", credentials=credentials)
        except BotError as error:
            log.info(
                "no start time from the server for %s (%s)", absence.user_id, type(error).__name__
            )
            return None
        rooms = answer.get("update")
        times = (
            [server_time(r.get("_updatedAt")) for r in rooms if isinstance(r, dict)]
            if isinstance(rooms, list)
            else []
        )
        latest = max((t for t in times if t is not None), default=None)
        return None if latest is None else await self._store.anchor(absence.absence_id, latest)

    async def _finish(self, absence: Absence) -> bool:
        """End the absence: stop following, put the profile back, send the digest, forget it."""
        if absence.state in ("starting", "active") and not await self._store.advance(
            absence.absence_id, from_states=["starting", "active"], to="ending"
        ):
            return False
        await self.followers.stop(absence.absence_id)
        await self._effects.end(absence)
        messages = await self._store.noted(absence.absence_id)
        replied = await self._store.replied_to(absence.absence_id)
        text = digest_text(absence, messages, await self._site(), replied)
        try:
            if self._tell is not None:
                await self._tell(absence.username, text, about=f"ooo-digest:{absence.absence_id}")
        except Exception as error:  # noqa: BLE001 - kept as ending: tried again shortly
            log.warning(
                "the digest for %s did not go out (%s); trying again",
                absence.user_id,
                type(error).__name__,
            )
            self._schedule(self._clock.now() + RETRY_DIGEST, AbsenceEnds(absence.absence_id))
            return True
        await self._store.forget(absence.absence_id)
        self._scheduled.pop(absence.absence_id, None)
        log.info(
            "out of office of %s ended (%d message(s) in the digest)",
            absence.user_id,
            len(messages),
        )
        return True

    async def _site(self) -> str:
        if self._site_url is None:
            try:
                found = await self._rest.public_settings(["Site_Url"])
            except BotError:
                found = {}
            site = found.get("Site_Url")
            self._site_url = (
                site
                if isinstance(site, str) and site.startswith("http")
                else str(self._settings.server_url)
            )
        return self._site_url

    async def _say(self, absence: Absence, text: str) -> None:
        if self._tell is not None:
            try:
                await self._tell(absence.username, text)
            except Exception:
                log.exception("could not tell %s about their out of office", absence.user_id)

    def _plan(self, absence: Absence) -> None:
        """Put the absence's next step on the scheduler (once per change)."""
        key = (absence.state, absence.starts_at, absence.ends_at)
        if self._scheduled.get(absence.absence_id) == key:
            return
        self._scheduled[absence.absence_id] = key
        if absence.state == "scheduled":
            self._schedule(absence.starts_at, AbsenceStarts(absence.absence_id))
        else:
            self._schedule(absence.ends_at, AbsenceEnds(absence.absence_id))

    # -- following, on the process that runs the scheduler -----------------------------------

    async def resume(self) -> None:
        """This process runs the scheduler now: schedule every stored absence, follow the ones
        under way, and finish what a stopped process left halfway."""
        self._following = True
        await self.tick(recover=True)

    async def tick(self, *, recover: bool = False) -> None:
        """Pick up absences set on other replicas (each heartbeat while leading)."""
        if not self._following:
            return
        now = self._clock.now()
        live = set()
        for absence in await self._store.all():
            live.add(absence.absence_id)
            if absence.state == "scheduled":
                self._plan(absence)
            elif absence.state == "active":
                self._plan(absence)
                await self.followers.follow(absence)
            elif recover and (not self._shared or now - absence.created_at > self._lease):
                if absence.state == "starting":  # stopped between storing and starting it
                    await self._begin(absence)
                else:
                    self._schedule(now, AbsenceEnds(absence.absence_id))
        for absence_id in self.followers.absence_ids():
            if absence_id not in live:
                await self.followers.stop(absence_id)  # ended on another replica

    async def pause(self) -> None:
        """Stop following (the scheduler moved, or the bot stops); nothing stored changes."""
        self._following = False
        self._scheduled.clear()
        await self.followers.stop_all()


def _new_id() -> str:
    return "".join(secrets.choice(ID_ALPHABET) for _ in range(17))
