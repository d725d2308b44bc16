"""From a chat message to a command's answer: filter, parse, queue per sender, run, reply.

Each message is looked at once. Before a message runs as a command, the hooks see it in the
sender's queue (a pending conversation takes its answer; a rule trigger watches its rooms); a
hook that returns True has handled it. The bot's own messages, system messages, edits and re-sent
frames (reactions, thread counters) are ignored. Commands of one sender run one at a time in the
order sent; different senders run concurrently, at most `max_concurrent` at once. Every error a
command raises ends up here and becomes a sentence for the sender, never a stack trace.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from bot.context import CommandContext
from bot.errors import BotError, UserError
from bot.message import IncomingMessage
from bot.parser import ParsedCommand, parse_command
from bot.registry import Registry, describe_error
from bot.replies import Replies

log = logging.getLogger(__name__)

SEEN_IDS_KEPT = 10_000


class MessageHook(Protocol):
    """Sees each new user message in its sender's queue, before it can run as a command."""

    async def on_message(self, message: IncomingMessage, parsed: ParsedCommand | None) -> bool:
        """Return True when the message was handled here and must not run as a command."""
        ...


@dataclass
class _Lane:
    """The queue of one sender's messages and the task working through it."""

    queue: asyncio.Queue[tuple[IncomingMessage, ParsedCommand | None]] = field(
        default_factory=asyncio.Queue
    )
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
    ) -> None:
        self._bot_user_id = bot_user_id
        self._registry = registry
        self._services = services
        self._replies = replies
        self._prefixes = prefixes
        self._hooks = tuple(hooks)
        self._slots = asyncio.Semaphore(max_concurrent)
        self._lanes: dict[str, _Lane] = {}
        self._seen: OrderedDict[str, None] = OrderedDict()

    async def handle(self, message: IncomingMessage) -> None:
        """Take one message from the stream; commands are queued behind the sender's others."""
        if not self._is_new_user_text(message):
            return
        parsed = parse_command(
            message.text,
            prefixes=self._prefixes,
            direct=message.is_direct,
            known_names=self._registry.names() if message.is_direct else None,
        )
        if parsed is None and not self._hooks:
            return
        lane = self._lanes.setdefault(message.sender_id, _Lane())
        lane.queue.put_nowait((message, parsed))
        if lane.worker is None or lane.worker.done():
            lane.worker = asyncio.create_task(self._work(message.sender_id, lane))

    def _is_new_user_text(self, message: IncomingMessage) -> bool:
        if message.sender_id == self._bot_user_id or message.system_type or message.edited:
            return False
        if message.id in self._seen:
            return False  # re-sent for a reaction, a thread reply or a preview
        self._seen[message.id] = None
        if len(self._seen) > SEEN_IDS_KEPT:
            self._seen.popitem(last=False)
        return True

    async def _work(self, sender_id: str, lane: _Lane) -> None:
        while not lane.queue.empty():
            message, parsed = lane.queue.get_nowait()
            async with self._slots:
                if not await self._hooked(message, parsed) and parsed is not None:
                    await self._run(message, parsed)
            lane.queue.task_done()
        if self._lanes.get(sender_id) is lane and lane.queue.empty():
            del self._lanes[sender_id]

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
            await self._unknown(message, parsed)
            return
        ctx = CommandContext.from_message(message)
        prefix = parsed.prefix or self._registry.display_prefix
        try:
            text = await spec.invoke(parsed, ctx, self._services)
            ok = True
        except BotError as error:
            text, ok = describe_error(error, spec, prefix=prefix), False
            if not isinstance(error, UserError):
                log.warning("command %s failed: %s", spec.name, type(error).__name__)
        except Exception as error:
            log.exception("command %s crashed", spec.name)
            text, ok = describe_error(error, spec, prefix=prefix), False
        await self._answer(message, text, ok=ok)

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
        """Wait until every queued command has run (used on shutdown)."""
        while self._lanes:
            workers = [lane.worker for lane in self._lanes.values() if lane.worker is not None]
            if not workers:
                return
            await asyncio.gather(*workers, return_exceptions=True)
