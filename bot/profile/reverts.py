"""Pending reverts: temporary changes waiting to be put back, stored so they survive a restart.

`/status away At lunch for 1h` (or a rule with `for = "1h"`) stores a `PendingRevert` for the
user's *status* group: the values to put back, the values the bot set, and when. Fields revert
in groups: `status` (presence and status text together), `bio`, `nickname`, `name`, and each
custom field on its own. One revert is pending per user and group:

* a later temporary change of the group keeps the original values to put back and moves the
  deadline (so "lunch for 1h" then "meeting for 30m" ends where the user started);
* a later lasting change of the group through the bot cancels the revert;
* when it falls due, ProfileService reads the profile and puts the values back only if the
  fields still hold what the bot set; a change made elsewhere (the Rocket.Chat client) wins.

The scheduler learns about new and moved reverts through `subscribe`; at start-up it loads
`pending()` and runs whatever fell due while the bot was down.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Final

from bot.storage.automation import AutomationStore, PendingRevert

__all__ = ["PendingRevert", "RevertBook", "group_of"]

STATUS_GROUP: Final = "status"
STATUS_FIELDS: Final = ("presence", "status_text")
Listener = Callable[[str, str, datetime], None]


def group_of(field: str) -> str:
    """The revert group of a field key: presence and status text revert together."""
    return STATUS_GROUP if field in STATUS_FIELDS else field


class RevertBook:
    """The stored pending reverts, announcing each new due time to its listeners."""

    def __init__(self, store: AutomationStore) -> None:
        self._store = store
        self._listeners: list[Listener] = []

    def subscribe(self, listener: Listener) -> None:
        """Call `listener(user_id, group, due_at)` whenever a revert is stored or moved."""
        self._listeners.append(listener)

    async def get(self, user_id: str, group: str) -> PendingRevert | None:
        """The pending revert of `group` for `user_id`, if any."""
        return await self._store.get_revert(user_id, group)

    async def schedule(self, revert: PendingRevert) -> None:
        """Store `revert` (replacing the group's previous one) and announce it."""
        await self._store.put_revert(revert)
        for listener in self._listeners:
            listener(revert.user_id, revert.group, revert.due_at)

    async def cancel(self, user_id: str, groups: Iterable[str]) -> None:
        """Drop the pending reverts of these groups (the scheduler skips stale entries)."""
        await self._store.delete_reverts(user_id, groups)

    async def pending(self) -> list[tuple[str, str, datetime]]:
        """(user id, group, due) of every stored revert."""
        return await self._store.revert_schedule()
