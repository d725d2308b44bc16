"""Who decides the status: one order, kept in one place.

    hand (a status the person set, through the bot or not)
      > out of office
        > calendar (a meeting under way)
          > rules

The bot shows a layer's status as a temporary change (bot.profile.reverts): the pending revert
of the status group keeps what was there before the first layer and, in its cause, which layer
holds the status now. A layer that starts while a higher one holds the status is only kept
(bot.storage.layers) and shows when that one ends; a layer that ends hands the status to the
highest layer below it still under way, or puts back what was there before them all. What the
person changes meanwhile wins, as for every revert: a status set through the bot cancels or
takes over the pending revert (`/status … for 1h` holds it as "hand" until it ends), and one set
in the Rocket.Chat client is noticed when the revert falls due and left alone
(bot.profile.restore). Only the status group is layered; the rest reverts as before.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime, timedelta
from enum import IntEnum

from bot.core.clock import Clock
from bot.profile.model import Account, Cause
from bot.profile.restore import Handover
from bot.profile.reverts import STATUS_GROUP, RevertBook
from bot.profile.service import ProfileService
from bot.storage.automation import PendingRevert
from bot.storage.layers import LayerStore, StoredLayer

log = logging.getLogger(__name__)


class Layer(IntEnum):
    """The layers, lowest first: a higher one wins over the ones below."""

    RULE = 0
    CALENDAR = 1
    OOO = 2
    HAND = 3


CALENDAR_CAUSE = Cause("calendar")


def layer_of(cause: str) -> Layer:
    """Which layer a recorded cause belongs to (`rule lunch`, `calendar`, `command /ooo`)."""
    if cause.startswith("rule"):
        return Layer.RULE
    if cause == str(CALENDAR_CAUSE):
        return Layer.CALENDAR
    if cause.startswith("command") and cause.endswith("ooo"):
        return Layer.OOO
    return Layer.HAND


def _cause(text: str) -> Cause:
    kind, _, detail = text.partition(" ")
    return Cause(kind, detail)  # type: ignore[arg-type]


class StatusLayers:
    """Shows, keeps and ends the status of each layer, in the order above."""

    def __init__(
        self, profile: ProfileService, reverts: RevertBook, store: LayerStore, clock: Clock
    ) -> None:
        self._profile = profile
        self._reverts = reverts
        self._store = store
        self._clock = clock

    async def holder(self, user_id: str) -> Layer | None:
        """The layer whose temporary status shows now, if any."""
        pending = await self._reverts.get(user_id, STATUS_GROUP)
        if pending is None or pending.due_at <= self._clock.now():
            return None
        return layer_of(pending.cause)

    async def covered(self, user_id: str, layer: Layer) -> bool:
        """Whether a layer above `layer` holds the status now."""
        holder = await self.holder(user_id)
        return holder is not None and holder > layer

    async def overridden(self, account: Account, layer: Layer) -> bool:
        """Whether the status `layer` showed was changed by the person since (by hand, or
        through the bot), so that showing it again would overwrite their choice. A status
        only covered by a higher layer (an absence) is not overridden."""
        pending = await self._reverts.get(account.sender_id, STATUS_GROUP)
        if pending is None:
            return True  # a lasting change through the bot cancelled it, or it was put back
        holder = layer_of(pending.cause)
        if holder != layer:
            return holder == Layer.HAND
        values = (await self._profile.current(account)).values()
        return any(values.get(key, "") != value for key, value in pending.expected.items())

    async def show(
        self,
        account: Account,
        layer: Layer,
        fields: Mapping[str, str],
        *,
        cause: Cause,
        until: datetime | None,
    ) -> bool:
        """Show `fields` for `layer` until `until` (None: until `end`), unless a higher layer
        holds the status: then keep them for when it ends. True when shown now."""
        holder = await self.holder(account.sender_id)
        if holder is not None and holder > layer:
            await self.keep(account, layer, fields, cause=cause, until=until)
            log.info("%s of %s kept under a higher layer", layer.name, account.sender_id)
            return False
        left = until - self._clock.now() if until is not None else None
        if left is not None and left <= timedelta(0):
            return False
        await self._profile.apply(account, fields, cause=cause, duration=left)
        if holder is None:  # nothing below shows any more: what is there now is the base
            await self._drop_below(account.sender_id, layer)
        if until is not None:
            await self.keep(account, layer, fields, cause=cause, until=until)
        return True

    async def keep(
        self,
        account: Account,
        layer: Layer,
        fields: Mapping[str, str],
        *,
        cause: Cause,
        until: datetime | None,
    ) -> None:
        """Remember what `layer` wants shown until `until`, for when the layers above end."""
        await self._store.put(
            StoredLayer(
                account.sender_id,
                account.sender_username,
                layer.name,
                dict(fields),
                until,
                str(cause),
            )
        )

    async def _drop_below(self, user_id: str, layer: Layer) -> None:
        for stored in await self._store.of_user(user_id):
            if Layer[stored.layer] < layer:
                await self._store.drop(user_id, stored.layer)

    async def end(self, user_id: str, layer: Layer) -> None:
        """`layer` is over: forget it, and if it holds the status, hand it down now."""
        await self._store.drop(user_id, layer.name)
        pending = await self._reverts.get(user_id, STATUS_GROUP)
        if pending is None or layer_of(pending.cause) != layer:
            return  # a higher layer holds it (and knows nothing of this one), or nobody
        now = self._clock.now()
        if pending.due_at > now:
            pending = replace(pending, due_at=now)
            await self._reverts.schedule(pending)  # the scheduler retries it if need be
        await self.put_back(pending)

    async def put_back(self, pending: PendingRevert) -> bool:
        """A temporary status fell due: show the highest layer below it still under way, or
        what was there before (bot.profile.restore leaves a status changed meanwhile alone)."""
        below = await self._below(pending.user_id, layer_of(pending.cause))
        if below is None:
            return await self._profile.revert(pending)
        if below.until is None:
            await self._store.drop(pending.user_id, below.layer)  # it becomes what stays
        handover = Handover(below.fields, _cause(below.cause), below.until)
        return await self._profile.revert(pending, then=handover)

    async def _below(self, user_id: str, layer: Layer) -> StoredLayer | None:
        now = self._clock.now()
        kept = []
        for stored in await self._store.of_user(user_id):
            if stored.until is not None and stored.until <= now:
                await self._store.drop(user_id, stored.layer)
            elif Layer[stored.layer] < layer:
                kept.append(stored)
        return max(kept, key=lambda stored: Layer[stored.layer], default=None)
