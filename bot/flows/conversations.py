"""Conversations: small stored state machines between the bot and one user in their DM.

A conversation belongs to a `ConversationKey` (the user's one-to-one DM with the bot, and the
user): only that user's messages in that room advance it, so an answer from anyone else, or from
the same person in another room, is never taken as the answer. Its record (flow, step, data,
deadline) is stored (bot.storage.conversations) before the question goes out, so a restart or a
reconnect loses nothing; the answer that arrives afterwards continues where it stopped.

A flow (bot.flows.sensitive has three) is a set of steps. Each step is a small async function that
handles the answer to its question, says what comes next, and returns the name of the next step
or `END`. A step marked `secret` expects a password or a code: every message there is taken as
the answer (a password may start with "/"), and the flow deletes it. `cancel`, `/cancel` and
`no` end a conversation at any step. Every answer is handled under one lock per key around
load → handle → save.

Deadlines: each question may be answered for `timeout` seconds (the setting
conversation_timeout). One sweeper task sleeps on the injected clock until the earliest deadline
and ends what has expired, telling the user that nothing was changed; an answer that beats the
sweeper to an expired conversation is treated the same way.

Records never hold a secret, and nothing here logs message text.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Final, Protocol

from bot.core import wording
from bot.core.clock import Clock, sleep_until_woken
from bot.core.context import CommandContext
from bot.core.errors import UserError
from bot.core.message import IncomingMessage, reply_id
from bot.framework.parser import ParsedCommand
from bot.storage.conversations import ConversationKey, ConversationRecord, ConversationStore

if TYPE_CHECKING:
    from bot.storage.store import Store

__all__ = [
    "END",
    "ChatSender",
    "ConversationKey",
    "ConversationRecord",
    "Conversations",
    "Flow",
    "Step",
    "Turn",
]

log = logging.getLogger(__name__)

END: Final = "<end>"
# data[SUBMITTED] = {"at": epoch seconds, "message": the answer's id}: a change went out.
SUBMITTED: Final = "submitted"
CANCEL_WORDS: Final = frozenset({"cancel", "no"})
SWEEP_RETRY_SECONDS: Final = 5.0
SHARED_RECHECK_SECONDS: Final = 30.0  # replicas: look for other replicas' expiries this often


class ChatSender(Protocol):
    """What conversations need from the realtime connection."""

    async def send_message(
        self,
        room_id: str,
        text: str,
        *,
        thread_id: str | None = None,
        message_id: str | None = None,
    ) -> None: ...
    async def direct_room(self, username: str) -> str: ...


@dataclass
class Turn:
    """One answer being handled: the conversation's data (saved afterwards) and the message.

    `message.text` may be a secret: use it, never store or log it.
    """

    key: ConversationKey
    step: str
    data: dict[str, Any]
    message: IncomingMessage
    outbox: list[str] = field(default_factory=list, repr=False)
    saver: Callable[[dict[str, Any]], Awaitable[None]] | None = field(default=None, repr=False)

    @property
    def text(self) -> str:
        """The answer as the user wrote it (trimmed by the server)."""
        return self.message.text

    @property
    def ctx(self) -> CommandContext:
        """The answer as a command context (sender from the server), for token lookups."""
        return CommandContext.from_message(self.message)

    async def say(self, text: str) -> None:
        """Tell the user `text` in the conversation's DM, once the conversation is saved (so an
        answer to a new question always finds the question's step stored)."""
        self.outbox.append(text)

    async def checkpoint(self) -> None:
        """Store `data` now, at this step, before something that must survive a crash (a
        change about to go to Rocket.Chat, marked with SUBMITTED)."""
        if self.saver is not None:
            await self.saver(self.data)


StepHandler = Callable[[Turn], Awaitable[str]]


@dataclass(frozen=True)
class Step:
    """One question of a flow: the function that handles its answer.

    `secret` steps expect a password or a code: commands are not recognised there (the whole
    message is the answer), and an answer that arrives too late is still handed to
    `Flow.discard` so it can be deleted.
    """

    handle: StepHandler
    secret: bool = False


class Flow(Protocol):
    """A kind of conversation. `name` is stored in records; `label` reads "email change"."""

    @property
    def name(self) -> str:
        """Stored in records: never rename a flow that may have pending conversations."""
        ...

    @property
    def label(self) -> str:
        """How sentences call it: "email change"."""
        ...

    @property
    def article(self) -> str:
        """The article before `label` as it is spoken: "an" email change, "a" username change."""
        ...

    @property
    def steps(self) -> Mapping[str, Step]:
        """The steps by name (stored in records, like `name`)."""
        ...

    def restart_hint(self) -> str:
        """How to start this kind of conversation again, e.g. "send `/email <address>`"."""
        ...

    def forget(self, key: ConversationKey) -> None:
        """The conversation under `key` ended: drop whatever the flow held in memory for it."""
        ...

    async def recover(self, record: ConversationRecord) -> str:
        """The conversation's change was submitted (`data[SUBMITTED]`) and then the bot lost
        track of it (a kill, a restart): find out what became of it, record that, and return
        what to tell the person."""
        ...

    async def discard(self, message: IncomingMessage) -> bool:
        """An answer to a secret step that will not be used: delete it if possible (True when
        it was deleted)."""
        ...


def is_cancel(text: str, parsed: ParsedCommand | None) -> bool:
    """`cancel`, `no` or the cancel command with any prefix, and nothing else."""
    if text.strip().rstrip(".!").casefold() in CANCEL_WORDS:
        return True
    return parsed is not None and parsed.key == "cancel" and not parsed.rest


def describe_duration(seconds: float) -> str:
    """300 → "5 minutes", 90 → "90 seconds", 60 → "1 minute"."""
    whole = round(seconds)
    if whole >= 60 and whole % 60 == 0:
        minutes = whole // 60
        return f"{minutes} minute{'s' if minutes != 1 else ''}"
    return f"{whole} second{'s' if whole != 1 else ''}"


class _KeyLocks:
    """One asyncio.Lock per conversation key, dropped when nobody holds or waits for it."""

    def __init__(self) -> None:
        self._locks: dict[ConversationKey, tuple[asyncio.Lock, int]] = {}

    @contextlib.asynccontextmanager
    async def hold(self, key: ConversationKey) -> AsyncIterator[None]:
        lock, users = self._locks.get(key, (asyncio.Lock(), 0))
        self._locks[key] = (lock, users + 1)
        try:
            async with lock:
                yield
        finally:
            lock, users = self._locks[key]
            if users <= 1:
                del self._locks[key]
            else:
                self._locks[key] = (lock, users - 1)


class Conversations:
    """The conversation engine: start, route answers (it is a MessageHook), cancel, expire."""

    def __init__(
        self,
        store: Store,
        chat: ChatSender,
        clock: Clock,
        *,
        timeout: float,
        prefix: str = "/",
        interrupted_after: float = 30.0,
    ) -> None:
        self._records = ConversationStore(store)
        # A submitted change not settled this long after it went out was interrupted: no
        # request of it can still be answered (request_timeout + in_doubt_wait).
        self.interrupted_after = interrupted_after
        # With replicas, conversations started elsewhere only show up in the database.
        self._recheck = SHARED_RECHECK_SECONDS if store.shared else None
        self._chat = chat
        self._clock = clock
        self.timeout = timeout
        self.prefix = prefix
        self._flows: dict[str, Flow] = {}
        self._locks = _KeyLocks()
        self._wake = asyncio.Event()
        self._sweeper: asyncio.Task[None] | None = None

    def add_flow(self, flow: Flow) -> None:
        """Make `flow` known, so that its stored conversations can go on."""
        if flow.name in self._flows:
            raise ValueError(f"a conversation flow called {flow.name!r} is already registered")
        self._flows[flow.name] = flow

    # -- lifecycle --------------------------------------------------------------------------

    def open(self) -> None:
        """Start the sweeper (once the bot can send messages: it may have expiries to tell)."""
        if self._sweeper is None or self._sweeper.done():
            self._sweeper = asyncio.create_task(self._sweep_forever(), name="conversation-sweeper")

    async def close(self) -> None:
        """Stop the sweeper; pending conversations stay stored for the next start."""
        if self._sweeper is not None:
            self._sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sweeper
            self._sweeper = None

    # -- starting, asking about, cancelling -------------------------------------------------

    async def direct_room(self, ctx: CommandContext) -> str:
        """The id of the sender's one-to-one DM with the bot, where conversations happen."""
        return await self._chat.direct_room(ctx.sender_username)

    async def start(
        self,
        ctx: CommandContext,
        flow: Flow,
        *,
        step: str,
        data: Mapping[str, Any],
        prompt: str,
    ) -> str:
        """Store a new conversation of `flow` waiting at `step`, and return the reply to send.

        A second conversation while one is pending is refused with a UserError that says
        which one is pending and how to cancel it. The conversation happens in the sender's
        one-to-one DM, where the dispatcher sends the reply wherever the command came from.
        """
        if flow.name not in self._flows or step not in flow.steps:
            raise ValueError(f"unknown flow or step: {flow.name}/{step}")
        room_id = await self.direct_room(ctx)
        key = ConversationKey(room_id=room_id, user_id=ctx.sender_id)
        async with self._locks.hold(key):
            for pending in await self._records.of_user(ctx.sender_id):
                other = self._flows.get(pending.flow)
                if other is not None and pending.expires_at > self._clock.now():
                    raise UserError(self._busy(other, flow))
                await self._end_expired(pending, other)
            record = ConversationRecord(
                key=key,
                flow=flow.name,
                step=step,
                expires_at=self._deadline(),
                data=dict(data),
            )
            await self._records.put(record)
        self._wake.set()
        log.info("started a %s conversation with %s", flow.name, ctx.sender_id)
        return prompt

    def _busy(self, pending: Flow, wanted: Flow) -> str:
        again = "start it again" if pending.name == wanted.name else "then send your command again"
        return (
            f"You already have {pending.article} {pending.label} waiting for your answer in our "
            "direct messages, and I handle one such change at a time. Answer my last question there, "
            f"or send `{self.prefix}cancel` to drop the {pending.label}; {again}."
        )

    async def pending(self, user_id: str) -> ConversationRecord | None:
        """The user's pending (not yet expired) conversation, if any."""
        now = self._clock.now()
        return next((r for r in await self._records.of_user(user_id) if r.expires_at > now), None)

    async def cancel(self, ctx: CommandContext) -> str:
        """`/cancel` from anywhere: end the sender's pending conversation, if there is one."""
        records = await self._records.of_user(ctx.sender_id)
        cancelled: list[str] = []
        for record in records:
            async with self._locks.hold(record.key):
                current = await self._records.get(record.key)
                if current is None:
                    continue
                flow = self._flows.get(current.flow)
                await self._finish(current, flow)
                cancelled.append(flow.label if flow is not None else "change")
        if not cancelled:
            return "You have no change waiting for an answer, so there is nothing to cancel."
        log.info("cancelled the conversation of %s on request", ctx.sender_id)
        return f"Cancelled your {cancelled[0]}. Nothing was changed."

    # -- answers ----------------------------------------------------------------------------

    async def awaits_secret(self, message: IncomingMessage) -> bool:
        """True when the sender's conversation in this DM waits for a password or a code, so
        the message is a secret whatever it says."""
        step = await self._step_for(message)
        return step is not None and step.secret

    async def discard_answer(self, message: IncomingMessage, note: str) -> None:
        """An answer to a secret step that will not be used (edited, unreadable, too many):
        delete it, and tell the sender `note` and what became of it; the conversation stays
        where it was."""
        key = ConversationKey(room_id=message.room_id, user_id=message.sender_id)
        record = await self._records.get(key)
        flow = self._flows.get(record.flow) if record is not None else None
        deleted = flow is not None and await flow.discard(message)
        cleanup = (
            "I deleted it, since it may hold your secret."
            if deleted
            else "It may hold your secret and I could not delete it: please delete it yourself."
        )
        await self._say(key, message, f"{note} {cleanup}")

    async def _step_for(self, message: IncomingMessage) -> Step | None:
        if not message.is_direct:
            return None
        key = ConversationKey(room_id=message.room_id, user_id=message.sender_id)
        if not await self._records.may_have(key):
            return None
        record = await self._records.get(key)
        flow = self._flows.get(record.flow) if record is not None else None
        return flow.steps.get(record.step) if flow is not None and record is not None else None

    async def on_message(self, message: IncomingMessage, parsed: ParsedCommand | None) -> bool:
        """The MessageHook: take the sender's answer in their DM; True when it was taken."""
        if not message.is_direct:
            return False
        key = ConversationKey(room_id=message.room_id, user_id=message.sender_id)
        if not await self._records.may_have(key):
            return False  # the usual case, settled without taking the conversation's lock
        async with self._locks.hold(key):
            record = await self._records.get(key)
            if record is None:
                return False
            flow = self._flows.get(record.flow)
            step = flow.steps.get(record.step) if flow is not None else None
            if flow is None or step is None:
                log.warning(
                    "dropping a conversation with unknown step %s/%s", record.flow, record.step
                )
                await self._finish(record, flow)
                await self._say(
                    key,
                    message,
                    "I lost track of our conversation, so I stopped "
                    "it; nothing was changed. Please send your command again.",
                )
                return parsed is None
            if SUBMITTED in record.data:
                await self._recover(record, flow, wait=True)
                return True
            if self._clock.now() >= record.expires_at:
                await self._end_expired(record, flow)
                if step.secret:
                    await flow.discard(message)
                    return True
                return False
            if is_cancel(message.text, parsed):
                await self._finish(record, flow)
                await self._say(key, message, f"Cancelled your {flow.label}. Nothing was changed.")
                log.info("%s cancelled a %s conversation", key.user_id, flow.name)
                return True
            if not step.secret and parsed is not None and parsed.prefix:
                return False  # a command while a yes/no is pending (/help, /status) runs as usual
            await self._advance(record, flow, step, message)
        return True

    async def _advance(
        self, record: ConversationRecord, flow: Flow, step: Step, message: IncomingMessage
    ) -> None:
        """Run the step for `message`, save (or end) the conversation, then send what the step
        said. The key is locked."""
        key = record.key

        async def save(data: dict[str, Any]) -> None:
            await self._records.put(replace(record, data=dict(data)))

        turn = Turn(key=key, step=record.step, data=dict(record.data), message=message, saver=save)
        try:
            next_step = await step.handle(turn)
            if next_step != END and next_step not in flow.steps:
                raise ValueError(f"step {flow.name}/{record.step} returned {next_step!r}")
        except UserError as error:
            # e.g. the token was revoked meanwhile: the sentence says what to do; the change stops.
            await self._finish(record, flow)
            turn.outbox.append(str(error))
        except Exception:
            log.exception("step %s/%s failed for %s", flow.name, record.step, key.user_id)
            await self._finish(record, flow)
            turn.outbox.append(
                wording.conversation_stopped(
                    flow.label, prefix=self.prefix, restart_hint=flow.restart_hint()
                )
            )
        else:
            if next_step == END:
                await self._finish(record, flow)
                log.info("a %s conversation of %s ended", flow.name, key.user_id)
            else:
                updated = replace(
                    record, step=next_step, data=turn.data, expires_at=self._deadline()
                )
                await self._records.put(updated)
                self._wake.set()
        for text in turn.outbox:
            await self._say(key, message, text)

    async def _say(
        self,
        key: ConversationKey,
        message: IncomingMessage | None,
        text: str,
        *,
        about: str | None = None,
    ) -> None:
        """Send `text` in the conversation's DM, as the answer to `message` (or to the message
        with id `about`): the same answer to the same message is saved only once."""
        thread_id = message.thread_id if message is not None else None
        about = message.id if message is not None else about
        answer_id = reply_id(about, text) if about is not None else None
        try:
            await self._chat.send_message(
                key.room_id, text, thread_id=thread_id, message_id=answer_id
            )
        except Exception:
            log.warning("could not send a conversation message to %s", key.user_id, exc_info=True)

    async def _finish(self, record: ConversationRecord, flow: Flow | None) -> bool:
        """Delete the record; False when it was gone already (another replica ended it)."""
        deleted = await self._records.delete(record.key)
        if flow is not None:
            flow.forget(record.key)
        return deleted

    def _deadline(self) -> datetime:
        return self._clock.now() + timedelta(seconds=self.timeout)

    # -- expiry -----------------------------------------------------------------------------

    async def _end_expired(self, record: ConversationRecord, flow: Flow | None) -> None:
        """End an expired conversation and tell its user that nothing was changed (or, if its
        change was submitted, what became of it)."""
        if SUBMITTED in record.data and flow is not None:
            await self._recover(record, flow, wait=False)
            return
        if not await self._finish(record, flow):
            return  # with replicas, whoever deleted the record tells the user
        log.info("a %s conversation of %s expired", record.flow, record.key.user_id)
        if flow is None:
            return
        await self._say(
            record.key,
            None,
            f"I waited {describe_duration(self.timeout)} for your answer, so I stopped your "
            f"{flow.label}: nothing was changed. When you are ready, {flow.restart_hint()}.",
        )

    async def _recover(self, record: ConversationRecord, flow: Flow | None, *, wait: bool) -> None:
        """Settle an interrupted change (the key is locked): wait until no request of it can
        still be answered (`wait`), ask the flow what became of it, end the conversation and
        tell the person, as an answer to the message that sent the change."""
        submitted = record.data.get(SUBMITTED) or {}
        if wait:
            remaining = float(submitted.get("at", 0)) + self.interrupted_after - time.time()
            if remaining > 0:
                await asyncio.sleep(remaining)
        if flow is None:
            await self._finish(record, flow)
            return
        text = await flow.recover(record)
        if not await self._finish(record, flow):
            return  # another replica settled it
        log.info("settled an interrupted %s of %s", flow.name, record.key.user_id)
        await self._say(record.key, None, text, about=submitted.get("message"))

    async def recover_due(self) -> float | None:
        """Settle every interrupted change old enough; seconds until the next one is, if any."""
        soonest: float | None = None
        for pending in await self._records.submitted():
            age = time.time() - float(pending.data[SUBMITTED].get("at", 0))
            if age < self.interrupted_after:
                left = self.interrupted_after - age
                soonest = left if soonest is None else min(soonest, left)
                continue
            async with self._locks.hold(pending.key):
                current = await self._records.get(pending.key)
                if current is not None and SUBMITTED in current.data:
                    await self._recover(current, self._flows.get(current.flow), wait=False)
        return soonest

    async def expire_due(self) -> int:
        """End every conversation whose deadline has passed; returns how many ended."""
        ended = 0
        for due in await self._records.due(self._clock.now()):
            async with self._locks.hold(due.key):
                current = await self._records.get(due.key)
                if current is None or current.expires_at > self._clock.now():
                    continue  # answered (or cancelled) while we waited for the lock
                await self._end_expired(current, self._flows.get(current.flow))
                ended += 1
        return ended

    async def _sweep_forever(self) -> None:
        """The one sweeper: sleep on the clock until the earliest deadline, then expire."""
        while True:
            self._wake.clear()
            try:
                interrupted = await self.recover_due()
                await self.expire_due()
                deadline = await self._records.next_deadline()
            except Exception:
                log.exception("the conversation sweeper failed; trying again shortly")
                await asyncio.sleep(SWEEP_RETRY_SECONDS)
                continue
            # `interrupted` is real time: it is about requests in flight.
            await sleep_until_woken(
                self._wake, self._clock, until=deadline, seconds=(interrupted, self._recheck)
            )
