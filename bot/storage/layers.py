"""Status layers on disk (schema: the "calendar feeds and status layers" migration).

    status_layers   per (person, layer): the status fields that layer wants shown (JSON), until
                    when (None: until it is ended), and the cause its change is recorded under

bot.automation.layers decides what they mean; this module only keeps them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from bot.storage.automation import from_text, to_text

if TYPE_CHECKING:
    from bot.storage.store import Store


@dataclass(frozen=True)
class StoredLayer:
    """What one layer wants the person's status to be, and until when."""

    user_id: str
    username: str
    layer: str
    fields: dict[str, str]
    until: datetime | None
    cause: str


class LayerStore:
    """The queries on `status_layers`."""

    def __init__(self, store: Store) -> None:
        self._store = store

    async def put(self, layer: StoredLayer) -> None:
        """Keep `layer` (replacing what that layer wanted before)."""
        async with self._store.transaction() as db:
            await db.execute(
                "INSERT INTO status_layers (user_id, layer, username, fields, until_at, cause)"
                " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT(user_id, layer) DO UPDATE SET"
                " username = excluded.username, fields = excluded.fields,"
                " until_at = excluded.until_at, cause = excluded.cause",
                (
                    layer.user_id,
                    layer.layer,
                    layer.username,
                    json.dumps(layer.fields, ensure_ascii=False),
                    to_text(layer.until) if layer.until else None,
                    layer.cause,
                ),
            )

    async def of_user(self, user_id: str) -> list[StoredLayer]:
        """Every layer kept for `user_id`."""
        async with self._store.reading() as db:
            rows = await db.fetchall(
                "SELECT layer, username, fields, until_at, cause FROM status_layers"
                " WHERE user_id = ?",
                (user_id,),
            )
        return [
            StoredLayer(
                user_id=user_id,
                username=str(username),
                layer=str(layer),
                fields={str(k): str(v) for k, v in json.loads(fields).items()},
                until=from_text(until) if until else None,
                cause=str(cause),
            )
            for layer, username, fields, until, cause in rows
        ]

    async def drop(self, user_id: str, layer: str) -> bool:
        """Forget what `layer` wanted for `user_id`; True if it had something."""
        async with self._store.transaction() as db:
            deleted = await db.execute(
                "DELETE FROM status_layers WHERE user_id = ? AND layer = ?", (user_id, layer)
            )
        return deleted > 0
