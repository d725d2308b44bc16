"""Catch-up: the messages sent while the bot was away, fed to the dispatcher as if live.

After a restart, or once a dropped connection is back, the bot reads each room's history since
its mark (bot.storage.handled) and hands every message to the dispatcher, which turns away what was
handled already. All rooms' messages go in together, oldest first, so one sender's commands run
in the order sent even across rooms; and the live stream is not read meanwhile (its frames wait
in the transport's queue), so a missed command never runs after a newer live one.

History comes over the websocket (DDP `rooms/get` and `loadHistory`: no REST rate limit). A
message too big for a websocket frame would close the socket on every try, so once one has:
rooms are listed by subscription (`subscriptions/get` carries no last message, but no time of
the last change either, so every room is read), and the room that holds it is read over REST
(`channels.history`, `groups.history`, `im.history`), where messages too big for a frame are
skipped, as the live stream never delivers them either.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Final, Protocol, TypeVar

from bot.core.credentials import Credentials
from bot.core.errors import RateLimited, ServerError
from bot.core.message import IncomingMessage
from bot.rocketchat.frames import server_time
from bot.rocketchat.rest import RestClient
from bot.rocketchat.rooms import JoinedRoom, message_from_history
from bot.rocketchat.transport import FRAME_LIMIT, FrameTooBig

log = logging.getLogger(__name__)

RATE_LIMIT_TRIES: Final = 5
REST_PAGE: Final = 100
REST_MAX_PAGES: Final = 50
REST_HISTORY: Final = {"c": "channels.history", "p": "groups.history", "d": "im.history"}
T = TypeVar("T")
Missed = list[tuple[IncomingMessage, float]]


class HistorySource(Protocol):
    """Where history comes from: the realtime connection, or REST."""

    async def history(self, room: JoinedRoom, *, since: float) -> Missed: ...


class RoomSource(HistorySource, Protocol):
    """The realtime connection's rooms (bot.rocketchat.rooms): it also lists them."""

    async def joined_rooms(self) -> list[JoinedRoom]: ...
    async def subscribed_rooms(self) -> list[JoinedRoom]: ...


class Intake(Protocol):
    """Where missed messages go: the dispatcher."""

    async def handle(
        self, message: IncomingMessage, *, ts: float | None = None, replayed: bool = False
    ) -> None: ...


class RestHistory:
    """Room history over REST, as the bot itself (its login token works there too)."""

    def __init__(self, rest: RestClient, credentials: Callable[[], Credentials | None]) -> None:
        self._rest = rest
        self._credentials = credentials

    async def history(self, room: JoinedRoom, *, since: float) -> Missed:
        """The room's messages newer than `since` (epoch ms), oldest first, frame-sized only."""
        credentials = self._credentials()
        endpoint = REST_HISTORY.get(room.type)
        if credentials is None or endpoint is None:
            return []
        moment = datetime.fromtimestamp(since / 1000, UTC)
        oldest = moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
        found: dict[str, tuple[IncomingMessage, float]] = {}
        for page in range(REST_MAX_PAGES):
            answer = await self._rest.request(
                "GET",
                endpoint,
                credentials=credentials,
                params={
                    "roomId": room.id,
                    "oldest": oldest,
                    "count": str(REST_PAGE),
                    "offset": str(page * REST_PAGE),
                },
            )
            raw_messages = answer.get("messages")
            if not isinstance(raw_messages, list):
                break
            for raw in raw_messages:
                ts = server_time(raw.get("ts")) if isinstance(raw, dict) else None
                if ts is None or ts <= since:
                    continue
                if len(json.dumps(raw)) >= FRAME_LIMIT:
                    log.warning("skipping message %s: too big to ever arrive live", raw.get("_id"))
                    continue
                message = message_from_history(raw, room)
                if message is not None:
                    found[message.id] = (message, ts)
            if len(raw_messages) < REST_PAGE:
                break
        return sorted(found.values(), key=lambda pair: pair[1])


class CatchUp:
    """Reads what was missed, room by room; remembers the rooms the websocket cannot carry."""

    def __init__(self, realtime: RoomSource, rest: HistorySource) -> None:
        self._realtime = realtime
        self._rest = rest
        self._too_big: set[str] = set()
        # rooms/get carries each room's last message: one too big for a frame makes it fail.
        self._rooms_too_big = False

    async def run(self, since: Callable[[str], float], intake: Intake) -> int:
        """Feed every room's messages newer than `since(room id)` to `intake`, oldest first.

        Returns how many were read (the dispatcher skips those handled already). A dropped
        connection raises ConnectionLost: the caller connects again and starts over.
        """
        missed: Missed = []
        rooms = await self._rooms()
        read = 0
        for room in rooms:
            start = since(room.id)
            if room.updated_at is not None and room.updated_at <= start:
                continue  # nothing happened in the room since its mark
            read += 1
            missed.extend(await self._history(room, start))
        missed.sort(key=lambda pair: pair[1])
        for message, ts in missed:
            await intake.handle(message, ts=ts, replayed=True)
        log.info(
            "caught up: read %d message(s) in %d of %d room(s)", len(missed), read, len(rooms)
        )
        return len(missed)

    async def _rooms(self) -> list[JoinedRoom]:
        if self._rooms_too_big:
            return await _patiently(self._realtime.subscribed_rooms)
        try:
            return await _patiently(self._realtime.joined_rooms)
        except FrameTooBig:
            self._rooms_too_big = True
            log.warning(
                "a room's last message is too big for the websocket; listing rooms by "
                "subscription from now on"
            )
            raise

    async def _history(self, room: JoinedRoom, start: float) -> Missed:
        if room.id in self._too_big:
            try:
                return await _patiently(functools.partial(self._rest.history, room, since=start))
            except ServerError as error:
                log.warning("cannot read the history of room %s over REST: %s", room.id, error)
                return []
        try:
            return await _patiently(functools.partial(self._realtime.history, room, since=start))
        except FrameTooBig:
            self._too_big.add(room.id)
            log.warning(
                "room %s holds a message too big for the websocket; reading it over REST", room.id
            )
            raise


async def _patiently(call: Callable[[], Awaitable[T]]) -> T:
    """`call()`, waiting out DDP rate limits (timeToReset) a few times."""
    for _ in range(RATE_LIMIT_TRIES - 1):
        try:
            return await call()
        except RateLimited as limited:
            log.warning("catch-up was rate limited; waiting %.1f s", limited.retry_after)
            await asyncio.sleep(limited.retry_after)
    return await call()
