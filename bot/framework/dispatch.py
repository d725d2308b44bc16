"""From a chat message to a command's answer: filter, admit, queue per sender, run the chain.

Each message is looked at once. The bot's own messages and system messages are ignored, and so
are re-sent frames (reactions, thread counters): the in-memory seen-set while the process lives,
and the ledger (bot.storage.handled) across restarts and catch-ups, where every message is
recorded once its sender's queue is done with it. An edit is an event of its own
(bot.core.message.as_edit): it never runs, but a secret edited into a message is taken back.

Admitted messages (bot.framework.admission: the ledger's claim, replica affinity) go into their
sender's queue: one sender's messages run one at a time in the order sent; different senders
run concurrently, at most `max_concurrent` at once. In the queue each message goes through the
chain of steps (bot.framework.chain, bot.framework.steps): privacy, the secret guard, parsing,
the flood gate, the screen, the hooks, the command; every error ends as a sentence.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Final

from bot.core.message import IncomingMessage, as_edit
from bot.framework.admission import Admission
from bot.framework.chain import Chain, Delivery

log = logging.getLogger(__name__)

SEEN_IDS_KEPT: Final = 10_000


@dataclass
class _Lane:
    """The queue of one sender's messages and the task working through it."""

    queue: asyncio.Queue[Delivery] = field(default_factory=asyncio.Queue)
    worker: asyncio.Task[None] | None = None


class Dispatcher:
    """Turns incoming messages into runs of the chain, per sender, in order."""

    def __init__(
        self,
        *,
        bot_user_id: str,
        chain: Chain,
        admission: Admission | None = None,
        max_concurrent: int,
        edits: bool = True,
    ) -> None:
        self._bot_user_id = bot_user_id
        self._chain = chain
        self._admission = admission or Admission(None, None)
        self._slots = asyncio.Semaphore(max_concurrent)
        self._edits = edits  # whether edits are looked at (for secrets) at all
        self._lanes: dict[str, _Lane] = {}
        self._seen: OrderedDict[str, None] = OrderedDict()

    async def handle(
        self, message: IncomingMessage, *, ts: float | None = None, replayed: bool = False
    ) -> None:
        """Take one message from the stream; it is queued behind the sender's others.

        `ts` is the server's time of the message (epoch ms), for the handled-message record.
        `replayed` marks messages caught up after an outage: they were sent at their own pace,
        so the flood gate, which judges the pace of what arrives now, lets them through.
        """
        if message.sender_id == self._bot_user_id or message.system_type:
            return
        if message.edited:
            if not self._edits:
                return
            message = as_edit(message)
        if not self._is_new(message, replayed=replayed):
            return
        await self._admission.admit(message, ts, replayed, self._enqueue)

    def _is_new(self, message: IncomingMessage, *, replayed: bool = False) -> bool:
        if replayed:
            return True  # read from history on purpose: the ledger decides
        if message.id in self._seen:
            return False  # re-sent for a reaction, a thread reply or a preview
        self._seen[message.id] = None
        if len(self._seen) > SEEN_IDS_KEPT:
            self._seen.popitem(last=False)
        return True

    def _enqueue(self, message: IncomingMessage, replayed: bool) -> None:
        lane = self._lanes.setdefault(message.sender_id, _Lane())
        lane.queue.put_nowait(Delivery(message, replayed=replayed))
        if lane.worker is None or lane.worker.done():
            lane.worker = asyncio.create_task(self._work(message.sender_id, lane))

    async def _work(self, sender_id: str, lane: _Lane) -> None:
        while not lane.queue.empty():
            delivery = lane.queue.get_nowait()
            async with self._slots:
                try:
                    await self._chain.run(delivery)
                except Exception:  # a step's own errors are its own; never stop the lane
                    log.exception("the dispatch chain failed on message %s", delivery.message.id)
            await self._admission.finished(delivery.message)
            lane.queue.task_done()
        if self._lanes.get(sender_id) is lane and lane.queue.empty():
            del self._lanes[sender_id]

    async def drain(self) -> None:
        """Wait until every queued message has run (used on shutdown); messages left to
        other replicas are dropped (whoever owns them handles them)."""
        self._admission.stop()
        while self._lanes:
            workers = [lane.worker for lane in self._lanes.values() if lane.worker is not None]
            if not workers:
                return
            await asyncio.gather(*workers, return_exceptions=True)
