"""Following one away person: their own realtime connection, only while they are away.

With the person's delegated token the bot logs in over DDP (`resume` with the personal access
token) and subscribes to `__my_messages__`, which carries every message of the rooms the
person is in, as their own client gets them (bot.rocketchat.transport.RealtimeConnection,
unchanged). Each message goes to the absence's Responder. After a drop the connection comes
back with backoff and catches up on the rooms' history since the last message read (its mark,
kept in the database), through bot.rocketchat.catchup as the bot's own connection does; a
message handled twice is harmless (noted once, answered once).

The person's own notification stream (`<uid>/notification`) is not used: Rocket.Chat sends it
only while they are connected and not busy, and never again for what was missed, so it could
not be caught up after a restart. The preferences it honours are read instead (view.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Awaitable, Callable
from typing import Final, Protocol

from bot.automation.ooo.responder import BotSenders, Responder
from bot.automation.ooo.view import PersonView
from bot.core.clock import Clock
from bot.core.credentials import Credentials
from bot.core.errors import AuthError, BotError, UserError
from bot.core.message import IncomingMessage
from bot.rocketchat.catchup import CatchUp, RestHistory
from bot.rocketchat.rest import RestClient
from bot.rocketchat.transport import ConnectionLost, RealtimeConnection
from bot.storage.absences import Absence, AbsenceStore

log = logging.getLogger(__name__)

MARK_SLACK_MS: Final = 1000.0  # read a little before the mark: messages of the same moment
MARK_EVERY_MS: Final = 60_000.0  # store the mark at most this often while messages flow


class FollowSettings(Protocol):
    """What following reads of the configuration (BotSettings has it)."""

    @property
    def server_url(self) -> str: ...
    @property
    def reconnect_delay_min(self) -> float: ...
    @property
    def reconnect_delay_max(self) -> float: ...
    @property
    def answer_wait(self) -> float: ...


class Tokens(Protocol):
    """The delegated tokens (bot.profile.tokens.TokenService)."""

    async def credentials_for(self, user_id: str) -> Credentials: ...
    async def rejected_for(self, user_id: str) -> UserError: ...


class Follower:
    """One away person's connection, delivering what reaches them to their Responder."""

    def __init__(
        self,
        responder: Responder,
        credentials: Credentials,
        *,
        store: AbsenceStore,
        rest: RestClient,
        settings: FollowSettings,
        rejected: Callable[[str], Awaitable[None]],
    ) -> None:
        self.responder = responder
        self._credentials = credentials
        self._store = store
        self._settings = settings
        self._rejected = rejected
        self.connection = RealtimeConnection(
            str(settings.server_url), self._on_message, retry_wait=settings.answer_wait
        )
        self._view = PersonView(self.connection)
        self._catch_up = CatchUp(self.connection.rooms, RestHistory(rest, lambda: credentials))
        self._mark = responder.absence.mark_ms
        self._stored_mark = self._mark
        self._task: asyncio.Task[None] | None = None
        self.following = asyncio.Event()  # set once connected and caught up
        self._interrupted = False
        self._handling: asyncio.Future[None] | None = None

    def __repr__(self) -> str:
        return f"Follower(user={self.responder.absence.user_id!r})"

    def start(self) -> None:
        """Connect and follow in the background."""
        if self._task is None:
            name = f"rcbot-ooo-{self.responder.absence.user_id}"
            self._task = asyncio.create_task(self._run(), name=name)

    async def stop(self) -> None:
        """Stop following; the mark is kept for the next start."""
        if self._handling is not None:
            self._handling.cancel()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        await self.connection.close()
        self.following.clear()
        await self._store_mark(force=True)

    async def _run(self) -> None:
        user_id = self.responder.absence.user_id
        failures = 0
        while True:
            try:
                await self.connection.connect(
                    username=self.responder.absence.username,
                    resume_token=self._credentials.token,
                )
                failures = 0
                self._interrupted = False
                await self._catch_up_now()
                self.following.set()
                await self.connection.run()
            except AuthError:
                log.warning(
                    "Rocket.Chat refused the token of %s: no longer following them", user_id
                )
                await self._rejected(user_id)
                return
            except (ConnectionLost, BotError) as error:
                log.info("following %s: %s; connecting again", user_id, type(error).__name__)
            except Exception:  # a bug must not end the following for good
                log.exception("following %s failed; connecting again", user_id)
            self.following.clear()
            await self._store_mark(force=True)
            cap, first = self._settings.reconnect_delay_max, self._settings.reconnect_delay_min
            await asyncio.sleep(min(cap, first * 2 ** min(failures, 30)) * random.uniform(0.5, 1))
            failures += 1

    async def _catch_up_now(self) -> None:
        absence = self.responder.absence
        if absence.anchor_ms is None:  # the start could not read it: from now on
            rooms = await self.connection.rooms.joined_rooms()
            latest = max((room.updated_at or 0.0 for room in rooms), default=0.0)
            anchor = await self._store.anchor(absence.absence_id, latest)
            self.responder.anchor(anchor)
            self._mark = max(self._mark or 0.0, anchor)
        since = (self._mark or self.responder.absence.anchor_ms or 0.0) - MARK_SLACK_MS
        await self._catch_up.run(lambda room_id: since, self)

    async def handle(
        self, message: IncomingMessage, *, ts: float | None = None, replayed: bool = False
    ) -> None:
        """A message of the person's rooms (live, or read back by the catch-up)."""
        if self._interrupted and not replayed:
            return  # an earlier message failed: the catch-up after reconnecting reads on
        try:
            await self.responder.consider(message, ts, self._view, self.connection)
        except (ConnectionLost, BotError) as error:
            log.info("a message for %s waits: %s", self.responder.absence.user_id, error)
            self._interrupted = True
            raise ConnectionLost(str(error)) from None  # read again after reconnecting
        if ts is not None and (self._mark is None or ts > self._mark):
            self._mark = ts
            await self._store_mark()

    async def _on_message(self, message: IncomingMessage, ts: float | None) -> None:
        # Its own task, so that stop() can cancel a message waiting on a closing connection.
        self._handling = asyncio.ensure_future(self.handle(message, ts=ts))
        try:
            await self._handling
        except ConnectionLost:
            await self.connection.close()  # run() ends; the catch-up reads it again
        finally:
            self._handling = None

    async def _store_mark(self, *, force: bool = False) -> None:
        mark, stored = self._mark, self._stored_mark
        if mark is None or (stored is not None and mark <= stored):
            return
        if force or stored is None or mark - stored >= MARK_EVERY_MS:
            await self._store.mark(self.responder.absence.absence_id, mark)
            self._stored_mark = mark


class Followers:
    """This process's followers, one per absence under way (on the scheduler's process)."""

    def __init__(
        self,
        store: AbsenceStore,
        rest: RestClient,
        settings: FollowSettings,
        tokens: Tokens,
        bots: BotSenders,
        clock: Clock,
        *,
        owner: str,
        auto_reply: bool,
    ) -> None:
        self._store = store
        self._rest = rest
        self._settings = settings
        self._tokens = tokens
        self._bots = bots
        self._clock = clock
        self._owner = owner
        self._auto_reply = auto_reply
        self._by_absence: dict[str, Follower] = {}

    def __len__(self) -> int:
        return len(self._by_absence)

    def __contains__(self, absence_id: object) -> bool:
        return absence_id in self._by_absence

    def get(self, absence_id: str) -> Follower | None:
        """The follower of this absence, if this process follows it."""
        return self._by_absence.get(absence_id)

    def values(self) -> list[Follower]:
        return list(self._by_absence.values())

    def absence_ids(self) -> list[str]:
        return list(self._by_absence)

    async def follow(self, absence: Absence) -> None:
        """Start following the person of `absence` (once; not without a usable token)."""
        if absence.absence_id in self._by_absence:
            return
        try:
            credentials = await self._tokens.credentials_for(absence.user_id)
        except UserError:
            log.info("cannot follow %s while away: no usable token", absence.user_id)
            return
        responder = Responder(
            absence,
            self._store,
            self._bots,
            self._clock,
            owner=self._owner,
            auto_reply=self._auto_reply,
        )
        follower = Follower(
            responder,
            credentials,
            store=self._store,
            rest=self._rest,
            settings=self._settings,
            rejected=self._rejected,
        )
        self._by_absence[absence.absence_id] = follower
        follower.start()

    async def _rejected(self, user_id: str) -> None:
        await self._tokens.rejected_for(user_id)

    async def stop(self, absence_id: str) -> None:
        """Stop following this absence (if this process did)."""
        follower = self._by_absence.pop(absence_id, None)
        if follower is not None:
            await follower.stop()

    async def stop_all(self) -> None:
        """Stop every follower of this process."""
        for absence_id in list(self._by_absence):
            await self.stop(absence_id)
