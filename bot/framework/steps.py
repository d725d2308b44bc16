"""The steps of the dispatch chain (bot.framework.chain), in the order the app puts them:

    Privacy   mark the sender's one-to-one DM with the bot (the only private place)
    Guard     a message that may hold a secret: the secret guard decides first (bot.flows.leaks)
    Parse     read the text once: a command (prefix, name, words), or the screen's refusal
    Flood     per-sender and global limits: over them, one notice per window, then silence
    Unread    text the bot will not read (too long, control characters): the sender is told why
    Hooks     a pending conversation takes its answer, a rule trigger watches its room
    Command   the command itself; its errors become sentences (its own handler first)

Edits become events of their own before the chain (bot.core.message.as_edit): the guard may take
a secret out of one, and nothing after it ever runs an edit.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Any, Protocol

from bot.core import metrics
from bot.core.context import CommandContext
from bot.core.errors import BotError, UserError
from bot.core.message import IncomingMessage
from bot.framework.chain import Answerer, Delivery, Proceed
from bot.framework.flood import FloodGate, readable_head, screen_text
from bot.framework.parser import ParsedCommand, parse_command
from bot.framework.registry import CommandSpec, Registry, describe_error
from bot.rocketchat.privacy import OneToOneRooms

log = logging.getLogger(__name__)


class MessageHook(Protocol):
    """Sees each new user message in its sender's queue, before it can run as a command."""

    async def on_message(self, message: IncomingMessage, parsed: ParsedCommand | None) -> bool:
        """Return True when the message was handled here and must not run as a command."""
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
        """What to do with a suspect message; `unreadable` is the screen's sentence, if any."""
        ...

    async def refuse(self, message: IncomingMessage, notice: str | None) -> None:
        """A RUN message refused by the flood gate: take its secret back, tell `notice`."""
        ...


class CommandParser:
    """Reads a text as a command: prefixed anywhere; unprefixed too in the private DM, when the
    first word is a command."""

    def __init__(self, registry: Registry, prefixes: Sequence[str]) -> None:
        self._registry = registry
        self._prefixes = list(prefixes)

    def parse(self, text: str, message: IncomingMessage) -> ParsedCommand | None:
        return parse_command(
            text,
            prefixes=self._prefixes,
            direct=message.is_direct,
            known_names=self._registry.names() if message.is_direct else None,
        )


def flood_notice(flood: FloodGate | None, message: IncomingMessage) -> str | None:
    """None when the flood gate admits the sender; else the notice to send ("" for none)."""
    if flood is None:
        return None
    admission = flood.admit(message.sender_id)
    if admission.allowed:
        return None
    metrics.MESSAGES_REFUSED.labels(reason=admission.reason).inc()
    return admission.notice or ""


class PrivacyStep:
    """Marks the message when it came from its sender's one-to-one DM with the bot."""

    def __init__(self, rooms: OneToOneRooms) -> None:
        self._rooms = rooms

    async def __call__(self, delivery: Delivery, proceed: Proceed) -> None:
        delivery.message = await self._rooms.mark(delivery.message)
        await proceed(delivery)


class GuardStep:
    """A message that may hold a secret goes to the secret guard before anything else reads it,
    whatever the screen or the flood gate would say of it."""

    def __init__(
        self,
        guard: SecretGuard,
        parser: CommandParser,
        *,
        flood: FloodGate | None,
        max_length: int | None,
    ) -> None:
        self._guard = guard
        self._parser = parser
        self._flood = flood
        self._max_length = max_length

    async def __call__(self, delivery: Delivery, proceed: Proceed) -> None:
        message = delivery.message
        if not await self._guard.suspects(message):
            await proceed(delivery)
            return
        problem = screen_text(message.text, max_length=self._max_length)
        try:
            decision = await self._guard.decide(message, unreadable=problem)
        except Exception:
            log.exception("the secret guard failed on message %s", message.id)
            return
        if decision.verdict is Verdict.RUN:
            refused = None if delivery.replayed else flood_notice(self._flood, message)
            if refused is not None:
                await self._guard.refuse(message, refused or None)
                return
            delivery.parsed = decision.parsed or self._parser.parse(message.text, message)
            delivery.secret = True
        if decision.verdict is not Verdict.DONE:
            await proceed(delivery)


class ParseStep:
    """Reads the text once: the command it is, or why it will not be read. Edits stop here."""

    def __init__(self, parser: CommandParser, *, max_length: int | None) -> None:
        self._parser = parser
        self._max_length = max_length

    async def __call__(self, delivery: Delivery, proceed: Proceed) -> None:
        message = delivery.message
        if message.edit_of is not None:
            return  # an edit never runs (a secret in it was the guard's)
        if not delivery.secret:
            problem = screen_text(message.text, max_length=self._max_length)
            delivery.unreadable = problem
            text = message.text if problem is None else readable_head(message.text)
            delivery.parsed = self._parser.parse(text, message)
        await proceed(delivery)


class FloodStep:
    """Counts commands per sender and in all; over a limit, one notice, then silence."""

    def __init__(self, flood: FloodGate, answerer: Answerer) -> None:
        self._flood = flood
        self._answerer = answerer

    async def __call__(self, delivery: Delivery, proceed: Proceed) -> None:
        if delivery.secret or delivery.replayed or not delivery.counted:
            await proceed(delivery)
            return
        notice = flood_notice(self._flood, delivery.message)
        if notice is None:
            await proceed(delivery)
        elif notice:
            await self._answerer.answer(delivery.message, notice, ok=False)


class UnreadStep:
    """Text the bot will not read is not read: the sender is told why (if it was for the bot)."""

    def __init__(self, answerer: Answerer) -> None:
        self._answerer = answerer

    async def __call__(self, delivery: Delivery, proceed: Proceed) -> None:
        if delivery.unreadable is None:
            await proceed(delivery)
            return
        metrics.MESSAGES_REFUSED.labels(reason="unreadable").inc()
        if delivery.counted:
            await self._answerer.answer(delivery.message, delivery.unreadable, ok=False)


class HooksStep:
    """The hooks see the message first (the conversations hook goes first: an answer may be a
    secret); one that handles it ends the chain."""

    def __init__(self, hooks: Sequence[MessageHook], answerer: Answerer) -> None:
        self._hooks = tuple(hooks)
        self._answerer = answerer

    async def __call__(self, delivery: Delivery, proceed: Proceed) -> None:
        message = delivery.message
        for hook in self._hooks:
            try:
                if await hook.on_message(message, delivery.parsed):
                    return
            except Exception as error:
                log.exception("message hook %s failed", type(hook).__name__)
                await self._answerer.answer(message, describe_error(error), ok=False)
                return
        await proceed(delivery)


class CommandStep:
    """Runs the command; what it raises becomes a sentence: its own error handler first
    (`@spec.error`), then bot.framework.registry.describe_error, and the log for bugs."""

    def __init__(
        self, registry: Registry, services: Mapping[str, Any], answerer: Answerer
    ) -> None:
        self._registry = registry
        self._services = services
        self._answerer = answerer

    async def __call__(self, delivery: Delivery, proceed: Proceed) -> None:
        message, parsed = delivery.message, delivery.parsed
        if parsed is None:
            return
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
        except Exception as error:
            outcome = _outcome_of(error)
            if outcome == "crashed":
                log.exception("command %s crashed", spec.name)
            elif outcome == "api_error":
                log.warning("command %s failed: %s", spec.name, type(error).__name__)
            own = await self._own_answer(spec, ctx, error)
            text = own if own is not None else describe_error(error, spec, prefix=prefix)
            ok = False
        await self._answerer.answer(message, text, ok=ok)
        metrics.observe_command(spec.name, outcome, time.monotonic() - started)

    @staticmethod
    async def _own_answer(spec: CommandSpec, ctx: CommandContext, error: Exception) -> str | None:
        try:
            return await spec.handle_error(ctx, error)
        except Exception:  # a bug in the handler of a bug: the bot's sentence, never silence
            log.exception("the error handler of command %s failed", spec.name)
            return None

    async def _unknown(self, message: IncomingMessage, parsed: ParsedCommand) -> None:
        if not message.is_direct and self._registry.suggest(parsed.name) is None:
            return  # probably meant for another bot or integration: stay quiet in rooms
        text = self._registry.describe_unknown(parsed.name, parsed.prefix or None)
        await self._answerer.answer(message, text, ok=False)


def _outcome_of(error: Exception) -> str:
    if isinstance(error, UserError):
        return "refused"
    return "api_error" if isinstance(error, BotError) else "crashed"
