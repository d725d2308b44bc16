"""From a chat message to a command's answer: filter, parse, queue per sender, run, reply.

Each message is looked at once. Before a message runs as a command, the hooks see it in the
sender's queue (a pending conversation takes its answer; a rule trigger watches its rooms); a
hook that returns True has handled it. The bot's own messages, system messages, edits and re-sent
frames (reactions, thread counters) are ignored: the in-memory seen-set while the process lives,
and the ledger (bot.storage.handled) across restarts and catch-ups, where every message is recorded once
its lane is done with it. Commands of one sender run one at a time in the order sent; different
senders run concurrently, at most `max_concurrent` at once. Every error a command raises ends up
here and becomes a sentence for the sender, never a stack trace.

Flood control (bot.framework.flood) sits at the door: text too long or with unreadable characters is not
read (the sender is told why), and commands over the per-user or global limit do not run (the
sender is told once per window, then hears nothing); notices go out in order with the sender's
other answers.

Before both, the secret guard (bot.flows.leaks) sees every message, edits included: one that may
hold a token or a password is decided on in the sender's queue, so that a secret is taken back
whatever the screen or the flood gate would have said. An edit is an event of its own
(`as_edit`): it never runs as a command, but a secret edited into a message is taken back.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Protocol

from bot.core import metrics
from bot.core.context import CommandContext
from bot.core.errors import BotError, UserError
from bot.core.message import IncomingMessage, as_edit
from bot.framework.flood import FloodGate, readable_head, screen_text
from bot.framework.parser import ParsedCommand, parse_command
from bot.framework.registry import Registry, describe_error
from bot.rocketchat.privacy import OneToOneRooms
from bot.rocketchat.replies import Replies
from bot.storage.handled import Claim

log = logging.getLogger(__name__)

SEEN_IDS_KEPT = 10_000
CLAIM_RETRY_SECONDS = 0.25  # how soon a message waiting behind another replica asks again
CLAIM_RETRY_MAX_SECONDS = 2.0  # ... backing off to this (also while the database is away)


class MessageHook(Protocol):
    """Sees each new user message in its sender's queue, before it can run as a command."""

    async def on_message(self, message: IncomingMessage, parsed: ParsedCommand | None) -> bool:
        """Return True when the message was handled here and must not run as a command."""
        ...


class MessageLedger(Protocol):
    """Remembers the messages handled, across restarts (bot.storage.handled), so none runs twice."""

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


class Verdict(Enum):
    """What the secret guard decided about a message that may hold a secret."""

    RUN = "run"  # deliver it as usual (the command or conversation it is for deletes it)
    DONE = "done"  # the secret was taken back: nothing else reads the message
    PASS = "pass"  # no secret after all: screen, flood gate and command as for any message


@dataclass(frozen=True)
class GuardDecision:
    """A verdict; for RUN, optionally the command to run instead of the parsed text."""

    verdict: Verdict
    parsed: ParsedCommand | None = None

    @classmethod
    def run(cls, parsed: ParsedCommand | None = None) -> GuardDecision:
        return cls(Verdict.RUN, parsed)

    @classmethod
    def done(cls) -> GuardDecision:
        return cls(Verdict.DONE)

    @classmethod
    def passed(cls) -> GuardDecision:
        return cls(Verdict.PASS)


class SecretGuard(Protocol):
    """Looks at every message before the screen and the flood gate (bot.flows.leaks)."""

    async def suspects(self, message: IncomingMessage) -> bool:
        """True when the message may hold a secret (cheap)."""
        ...

    async def decide(self, message: IncomingMessage, *, unreadable: str | None) -> GuardDecision:
        """Run in the sender's queue; `unreadable` is the screen's sentence, if any."""
        ...

    async def refuse(self, message: IncomingMessage, notice: str | None) -> None:
        """A RUN message refused by the flood gate: take its secret back, tell `notice`."""
        ...


class Affinity(Protocol):
    """With replicas: how long to leave a sender's messages to the replica that owns them."""

    def defer_for(self, sender_id: str) -> float:
        """Seconds to wait before claiming; 0 for this replica's own senders."""
        ...


@dataclass(frozen=True)
class _Item:
    """One queued message; with a `notice`, that is sent instead of running anything;
    `guarded` ones go to the secret guard first."""

    message: IncomingMessage
    parsed: ParsedCommand | None
    notice: str | None = None
    guarded: bool = False
    replayed: bool = False


@dataclass
class _Lane:
    """The queue of one sender's messages and the task working through it."""

    queue: asyncio.Queue[_Item] = field(default_factory=asyncio.Queue)
    worker: asyncio.Task[None] | None = None


class Dispatcher:
    """Turns incoming messages into command runs and their answers."""

    def __init__(
        self,
        *,
        bot_user_id: str,
        registry: Registry,
        services: Mapping[str, Any],
        replies: Replies,
        prefixes: list[str],
        max_concurrent: int,
        hooks: Sequence[MessageHook] = (),
        flood: FloodGate | None = None,
        max_message_length: int | None = None,
        ledger: MessageLedger | None = None,
        affinity: Affinity | None = None,
        privacy: OneToOneRooms | None = None,
        guard: SecretGuard | None = None,
    ) -> None:
        self._bot_user_id = bot_user_id
        self._privacy = privacy
        self._guard = guard
        self._registry = registry
        self._services = services
        self._replies = replies
        self._prefixes = prefixes
        self._hooks = tuple(hooks)
        self._slots = asyncio.Semaphore(max_concurrent)
        self._lanes: dict[str, _Lane] = {}
        self._seen: OrderedDict[str, None] = OrderedDict()
        self._flood = flood
        self._max_length = max_message_length
        self._ledger = ledger
        self._affinity = affinity
        self._waiting: dict[str, asyncio.Task[None]] = {}  # sender → their last waiting message
        self._claim_retry = CLAIM_RETRY_SECONDS
        self._enqueued = 0  # items queued so far: tells `handle` whether `_take` queued one

    async def handle(
        self, message: IncomingMessage, *, ts: float | None = None, replayed: bool = False
    ) -> None:
        """Take one message from the stream; commands are queued behind the sender's others.

        `ts` is the server's time of the message (epoch ms), for the handled-message record.
        `replayed` marks messages caught up after an outage: they were sent at their own pace,
        so the flood gate, which judges the pace of what arrives now, lets them through.
        """
        if message.sender_id == self._bot_user_id or message.system_type:
            return
        if message.edited:
            if self._guard is None:
                return
            message = as_edit(message)
        if not self._is_new(message, replayed=replayed):
            return
        if self._privacy is not None:
            message = await self._privacy.mark(message)
        wait = self._affinity.defer_for(message.sender_id) if self._affinity else 0.0
        # A live message queues behind the sender's waiting ones. A replayed one does not: it
        # may be the older message they wait for (taken over from a replica that died).
        if wait > 0 or (message.sender_id in self._waiting and not replayed):
            self._later(message, ts, replayed, wait)
            return
        await self._admit(message, ts, replayed)

    def _later(
        self, message: IncomingMessage, ts: float | None, replayed: bool, wait: float
    ) -> None:
        """Admit the message after `wait` seconds, behind the sender's other waiting ones."""
        sender = message.sender_id
        task = asyncio.create_task(
            self._admit_later(message, ts, replayed, wait, self._waiting.get(sender))
        )
        self._waiting[sender] = task

        def forget(done: asyncio.Task[None]) -> None:
            if self._waiting.get(sender) is done:
                del self._waiting[sender]

        task.add_done_callback(forget)

    async def _admit_later(
        self,
        message: IncomingMessage,
        ts: float | None,
        replayed: bool,
        wait: float,
        before: asyncio.Task[None] | None,
    ) -> None:
        """Another live replica owns this sender, or has an older message of theirs in hand:
        take this one only once that is settled, and only if nobody else has."""
        await asyncio.sleep(wait)
        if before is not None:
            await asyncio.wait([before])
        retry = self._claim_retry
        try:
            while await self._admit(message, ts, replayed, waiting=True) is Claim.WAIT:
                await asyncio.sleep(retry)
                retry = min(retry * 1.5, CLAIM_RETRY_MAX_SECONDS)
        except Exception:
            log.exception("could not take over message %s", message.id)

    async def _admit(
        self, message: IncomingMessage, ts: float | None, replayed: bool, *, waiting: bool = False
    ) -> Claim:
        if self._ledger is not None:
            try:
                verdict = await self._ledger.claim(message, ts, late=waiting)
            except Exception as error:  # noqa: BLE001 - the database is away: keep the message
                log.warning("cannot claim message %s yet (%s); trying again", message.id, error)
                verdict = Claim.WAIT
            if verdict is Claim.WAIT and not waiting:
                self._later(message, ts, replayed, self._claim_retry)
            if verdict is not Claim.MINE:
                return verdict  # handled, running, elsewhere, too old; or later
        queued = self._enqueued
        try:
            await self._take(message, replayed=replayed)
        finally:
            if self._ledger is not None and self._enqueued == queued:
                await self._finished(message)  # nothing to run (chatter, flood): handled anyway
        return Claim.MINE

    async def _take(self, message: IncomingMessage, *, replayed: bool = False) -> None:
        """Queue a new message for the secret guard, or screen, parse and queue it (or a notice
        about it), or nothing."""
        if self._guard is not None and await self._guard.suspects(message):
            self._enqueue(_Item(message, None, guarded=True, replayed=replayed))
            return
        if message.edit_of is not None:
            return  # an edit never runs
        item = self._admission(message, replayed=replayed)
        if item is not None:
            self._enqueue(item)

    def _admission(self, message: IncomingMessage, *, replayed: bool) -> _Item | None:
        """Screen, parse and count a message: what to queue for it, if anything."""
        problem = screen_text(message.text, max_length=self._max_length)
        parsed = self._parse(
            message.text if problem is None else readable_head(message.text), message
        )
        if problem is None and parsed is None and not self._hooks:
            return None
        # Commands, and anything in a DM (it may answer a conversation), count as commands.
        counted = parsed is not None or message.is_direct
        if counted and not replayed:
            refused = self._flood_notice(message)
            if refused is not None:
                return _Item(message, None, refused) if refused else None
        if problem is not None:
            metrics.MESSAGES_REFUSED.labels(reason="unreadable").inc()
            return _Item(message, None, problem) if counted else None
        return _Item(message, parsed)

    def _flood_notice(self, message: IncomingMessage) -> str | None:
        """None when the flood gate admits the sender; else the notice to send ("" for none)."""
        if self._flood is None:
            return None
        admission = self._flood.admit(message.sender_id)
        if admission.allowed:
            return None
        metrics.MESSAGES_REFUSED.labels(reason=admission.reason).inc()
        return admission.notice or ""

    def _parse(self, text: str, message: IncomingMessage) -> ParsedCommand | None:
        return parse_command(
            text,
            prefixes=self._prefixes,
            direct=message.is_direct,
            known_names=self._registry.names() if message.is_direct else None,
        )

    def _enqueue(self, item: _Item) -> None:
        lane = self._lanes.setdefault(item.message.sender_id, _Lane())
        lane.queue.put_nowait(item)
        self._enqueued += 1
        if lane.worker is None or lane.worker.done():
            lane.worker = asyncio.create_task(self._work(item.message.sender_id, lane))

    def _is_new(self, message: IncomingMessage, *, replayed: bool = False) -> bool:
        if replayed:
            return True  # read from history on purpose: the ledger decides
        if message.id in self._seen:
            return False  # re-sent for a reaction, a thread reply or a preview
        self._seen[message.id] = None
        if len(self._seen) > SEEN_IDS_KEPT:
            self._seen.popitem(last=False)
        return True

    async def _work(self, sender_id: str, lane: _Lane) -> None:
        while not lane.queue.empty():
            item = lane.queue.get_nowait()
            message = item.message
            async with self._slots:
                if item.guarded:
                    await self._guarded(item)
                else:
                    await self._deliver(item)
            await self._finished(message)
            lane.queue.task_done()
        if self._lanes.get(sender_id) is lane and lane.queue.empty():
            del self._lanes[sender_id]

    async def _deliver(self, item: _Item) -> None:
        """Send the item's notice, or let the hooks and then its command have the message."""
        if item.notice is not None:
            await self._answer(item.message, item.notice, ok=False)
        elif not await self._hooked(item.message, item.parsed) and item.parsed is not None:
            await self._run(item.message, item.parsed)

    async def _guarded(self, item: _Item) -> None:
        """A message that may hold a secret: the guard decides first."""
        assert self._guard is not None
        message = item.message
        problem = screen_text(message.text, max_length=self._max_length)
        try:
            decision = await self._guard.decide(message, unreadable=problem)
        except Exception:
            log.exception("the secret guard failed on message %s", message.id)
            return
        if decision.verdict is Verdict.DONE:
            return
        if decision.verdict is Verdict.RUN:
            refused = None if item.replayed else self._flood_notice(message)
            if refused is not None:
                await self._guard.refuse(message, refused or None)
                return
            parsed = decision.parsed or self._parse(message.text, message)
            await self._deliver(_Item(message, parsed))
            return
        if message.edit_of is None:
            follow = self._admission(message, replayed=item.replayed)
            if follow is not None:
                await self._deliver(follow)

    async def _finished(self, message: IncomingMessage) -> None:
        if self._ledger is None:
            return
        try:
            await self._ledger.finished(message)
        except Exception:  # the record is a safety net: a failure must not stop the lane
            log.exception("could not record message %s as handled", message.id)

    async def _hooked(self, message: IncomingMessage, parsed: ParsedCommand | None) -> bool:
        for hook in self._hooks:
            try:
                if await hook.on_message(message, parsed):
                    return True
            except Exception as error:
                log.exception("message hook %s failed", type(hook).__name__)
                await self._answer(message, describe_error(error), ok=False)
                return True
        return False

    async def _run(self, message: IncomingMessage, parsed: ParsedCommand) -> None:
        spec = self._registry.find(parsed.name)
        if spec is None:
            metrics.COMMANDS.labels(command=metrics.UNKNOWN_COMMAND, outcome="unknown").inc()
            await self._unknown(message, parsed)
            return
        started = time.monotonic()
        ctx = CommandContext.from_message(message)
        prefix = parsed.prefix or self._registry.display_prefix
        try:
            text = await spec.invoke(parsed, ctx, self._services)
            ok, outcome = True, "ok"
        except BotError as error:
            text, ok = describe_error(error, spec, prefix=prefix), False
            outcome = "refused" if isinstance(error, UserError) else "api_error"
            if not isinstance(error, UserError):
                log.warning("command %s failed: %s", spec.name, type(error).__name__)
        except Exception as error:
            log.exception("command %s crashed", spec.name)
            text, ok, outcome = describe_error(error, spec, prefix=prefix), False, "crashed"
        await self._answer(message, text, ok=ok)
        metrics.observe_command(spec.name, outcome, time.monotonic() - started)

    async def _unknown(self, message: IncomingMessage, parsed: ParsedCommand) -> None:
        if not message.is_direct and self._registry.suggest(parsed.name) is None:
            return  # probably meant for another bot or integration: stay quiet in rooms
        text = self._registry.describe_unknown(parsed.name, parsed.prefix or None)
        await self._answer(message, text, ok=False)

    async def _answer(self, message: IncomingMessage, text: str, *, ok: bool) -> None:
        try:
            await self._replies.answer(message, text, ok=ok)
        except Exception:
            log.exception("could not answer message %s", message.id)

    async def drain(self) -> None:
        """Wait until every queued command has run (used on shutdown); messages left to
        other replicas are dropped (whoever owns them handles them)."""
        for task in list(self._waiting.values()):
            task.cancel()
        while self._lanes:
            workers = [lane.worker for lane in self._lanes.values() if lane.worker is not None]
            if not workers:
                return
            await asyncio.gather(*workers, return_exceptions=True)
