"""Which process handles a message, and when: the ledger's claim, and replica affinity.

Every message the bot finishes with is recorded (the ledger, bot.storage.handled), so none runs
twice across restarts and catch-ups; with replicas, accepting a message is a claim in the
database that one replica wins. Each sender belongs to one live replica (rendezvous hashing,
bot.storage.replicas): the others wait `defer_for` seconds and claim only what is still
unclaimed. A message never starts while an older one of the same sender is unfinished on
another replica (Claim.WAIT): it asks again, backing off, behind the sender's other waiting
messages, so one person's commands run in the order sent.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Final, Protocol

from bot.core.message import IncomingMessage
from bot.storage.handled import Claim

log = logging.getLogger(__name__)

CLAIM_RETRY_SECONDS: Final = 0.25  # how soon a message waiting behind another replica asks
CLAIM_RETRY_MAX_SECONDS: Final = 2.0  # ... backing off to this (also while the database is away)

Accept = Callable[[IncomingMessage, bool], None]  # (message, replayed): into the sender's queue


class MessageLedger(Protocol):
    """Remembers the messages handled, across restarts (bot.storage.handled), so none runs
    twice."""

    async def claim(
        self, message: IncomingMessage, ts: float | None, *, late: bool = False
    ) -> Claim:
        """MINE when this process is now handling the message; TAKEN when it was handled, is
        being handled (here or by another replica), or is too old; WAIT while an older message
        of the same sender is being handled by another replica. `late`: a second try, or a
        message left to another replica first (it is probably taken)."""
        ...

    async def finished(self, message: IncomingMessage) -> None:
        """The message has been handled (whatever the outcome): record it."""
        ...


class Affinity(Protocol):
    """With replicas: how long to leave a sender's messages to the replica that owns them."""

    def defer_for(self, sender_id: str) -> float:
        """Seconds to wait before claiming; 0 for this replica's own senders."""
        ...


class Admission:
    """Claims each message for this process, now or after the sender's owner had its turn."""

    def __init__(
        self,
        ledger: MessageLedger | None,
        affinity: Affinity | None,
        *,
        retry: float = CLAIM_RETRY_SECONDS,
    ) -> None:
        self.ledger = ledger
        self._affinity = affinity
        self._retry = retry
        self._waiting: dict[str, asyncio.Task[None]] = {}  # sender → their last waiting message

    async def admit(
        self, message: IncomingMessage, ts: float | None, replayed: bool, accept: Accept
    ) -> None:
        """Hand the message to `accept` once this process may handle it (maybe later)."""
        wait = self._affinity.defer_for(message.sender_id) if self._affinity else 0.0
        # A live message queues behind the sender's waiting ones. A replayed one does not: it
        # may be the older message they wait for (taken over from a replica that died).
        if wait > 0 or (message.sender_id in self._waiting and not replayed):
            self._later(message, ts, replayed, wait, accept)
            return
        await self._claim(message, ts, replayed, accept)

    def _later(
        self,
        message: IncomingMessage,
        ts: float | None,
        replayed: bool,
        wait: float,
        accept: Accept,
    ) -> None:
        """Claim the message after `wait` seconds, behind the sender's other waiting ones."""
        sender = message.sender_id
        task = asyncio.create_task(
            self._claim_later(message, ts, replayed, wait, accept, self._waiting.get(sender))
        )
        self._waiting[sender] = task

        def forget(done: asyncio.Task[None]) -> None:
            if self._waiting.get(sender) is done:
                del self._waiting[sender]

        task.add_done_callback(forget)

    async def _claim_later(
        self,
        message: IncomingMessage,
        ts: float | None,
        replayed: bool,
        wait: float,
        accept: Accept,
        before: Awaitable[None] | None,
    ) -> None:
        """Another live replica owns this sender, or has an older message of theirs in hand:
        take this one only once that is settled, and only if nobody else has."""
        await asyncio.sleep(wait)
        if before is not None:
            await asyncio.wait([asyncio.ensure_future(before)])
        retry = self._retry
        try:
            while await self._claim(message, ts, replayed, accept, waiting=True) is Claim.WAIT:
                await asyncio.sleep(retry)
                retry = min(retry * 1.5, CLAIM_RETRY_MAX_SECONDS)
        except Exception:
            log.exception("could not take over message %s", message.id)

    async def _claim(
        self,
        message: IncomingMessage,
        ts: float | None,
        replayed: bool,
        accept: Accept,
        *,
        waiting: bool = False,
    ) -> Claim:
        if self.ledger is not None:
            try:
                verdict = await self.ledger.claim(message, ts, late=waiting)
            except Exception as error:  # noqa: BLE001 - the database is away: keep the message
                log.warning("cannot claim message %s yet (%s); trying again", message.id, error)
                verdict = Claim.WAIT
            if verdict is Claim.WAIT and not waiting:
                self._later(message, ts, replayed, self._retry, accept)
            if verdict is not Claim.MINE:
                return verdict  # handled, running, elsewhere, too old; or later
        accept(message, replayed)
        return Claim.MINE

    def stop(self) -> None:
        """Drop the messages still waiting for their turn (whoever owns them handles them)."""
        for task in list(self._waiting.values()):
            task.cancel()

    async def finished(self, message: IncomingMessage) -> None:
        """Record the message as handled; a failure is logged (the record is a safety net)."""
        if self.ledger is None:
            return
        try:
            await self.ledger.finished(message)
        except Exception:
            log.exception("could not record message %s as handled", message.id)
