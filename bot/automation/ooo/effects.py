"""What an absence does to the person's profile, behind one narrow interface: `begin`, `end`.

Nothing else in the out-of-office code knows how the status and the name are changed.

The status is the out-of-office layer of bot.automation.layers (hand > out of office >
calendar > rules): shown until the absence ends unless a status the person set for a while
holds it (then it shows when that one ends), and at the end the layer below comes back (a
meeting under way) or what was there before. The name, if the person opted in, is a temporary
change through ProfileService's public API, the way `/status … for 1h` works. Either way the
revert leaves alone what the person changed meanwhile (by hand or through the bot), so a
status set while away wins. Ending early moves the reverts' due time to now and runs them.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import Final, Protocol

from bot.automation.layers import Layer, StatusLayers
from bot.automation.ooo.model import status_text, with_suffix
from bot.core.clock import Clock
from bot.core.errors import UserError
from bot.core.values import StatusType
from bot.profile.model import Account, Cause
from bot.profile.reverts import STATUS_GROUP, RevertBook
from bot.profile.service import ProfileService
from bot.storage.absences import Absence

log = logging.getLogger(__name__)

GROUPS: Final = ("status", "name")


class AbsenceEffects(Protocol):
    """How an absence shows on the person's profile."""

    async def begin(self, absence: Absence) -> None:
        """The absence starts (or its end moved): show it. UserError when the status cannot
        be set; a refused name suffix is only logged."""
        ...

    async def end(self, absence: Absence) -> None:
        """The absence is over: put back what it replaced, except what the person changed
        meanwhile. Failures are retried by the reverts' own schedule."""
        ...


class TemporaryProfileChange:
    """AbsenceEffects as temporary changes of the status and name groups (ProfileService)."""

    def __init__(
        self,
        profile: ProfileService,
        reverts: RevertBook,
        clock: Clock,
        *,
        presence: StatusType = StatusType.AWAY,
        layers: StatusLayers | None = None,
    ) -> None:
        self._profile = profile
        self._reverts = reverts
        self._clock = clock
        self._presence = presence
        self._layers = layers
        self._cause = Cause("command", f"{profile.prefix}ooo")

    async def begin(self, absence: Absence) -> None:
        left = absence.ends_at - self._clock.now()
        if left.total_seconds() <= 0:
            return
        account = Account(absence.user_id, absence.username)
        status = {"presence": self._presence.value, "status_text": status_text(absence)}
        if self._layers is not None:  # a status set by hand for a while wins until it ends
            await self._layers.show(
                account, Layer.OOO, status, cause=self._cause, until=absence.ends_at
            )
        else:
            await self._profile.apply(account, status, cause=self._cause, duration=left)
        if not absence.name_suffix:
            return
        try:
            current = await self._profile.current(account)
            name = with_suffix(current.name or absence.username, absence)
            await self._profile.apply(account, {"name": name}, cause=self._cause, duration=left)
        except UserError as error:
            log.warning(
                "could not add the out-of-office suffix to the name of %s: %s",
                absence.user_id,
                type(error).__name__,
            )

    async def end(self, absence: Absence) -> None:
        now = self._clock.now()
        for group in GROUPS:
            if group == STATUS_GROUP and self._layers is not None:
                try:  # the layer below (a meeting under way) comes back, or what was there
                    await self._layers.end(absence.user_id, Layer.OOO)
                except Exception as error:  # noqa: BLE001 - the scheduled revert tries again
                    log.warning(
                        "putting back the status of %s after an absence failed (%s)",
                        absence.user_id,
                        type(error).__name__,
                    )
                continue
            pending = await self._reverts.get(absence.user_id, group)
            if pending is None or pending.cause != str(self._cause):
                continue  # changed through the bot since (a lasting change, a new /status …)
            if pending.due_at > now:
                pending = replace(pending, due_at=now)
                await self._reverts.schedule(pending)  # the scheduler retries it if need be
            try:
                await self._profile.revert(pending)
            except Exception as error:  # noqa: BLE001 - the scheduled revert tries again
                log.warning(
                    "putting back the %s of %s after an absence failed (%s); it is retried",
                    group,
                    absence.user_id,
                    type(error).__name__,
                )
