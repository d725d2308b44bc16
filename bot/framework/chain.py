"""The chain a message goes through in its sender's queue, one small step after another.

A step looks at the `Delivery` (the message and what earlier steps learned of it) and either
passes it on (`await proceed(delivery)`) or ends it there (answering, or saying nothing). The
app puts the steps together (bot.app.runner); bot.framework.steps has them all. A new step is
one class in that list, not a new argument of the dispatcher: Bolt's middleware, for chat.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from bot.core.message import IncomingMessage
from bot.framework.parser import ParsedCommand
from bot.rocketchat.replies import Replies

log = logging.getLogger(__name__)


@dataclass
class Delivery:
    """One message on its way through the chain, and what the steps learned of it."""

    message: IncomingMessage
    replayed: bool = False  # caught up from history: sent at its own pace, so not counted
    parsed: ParsedCommand | None = None
    unreadable: str | None = None  # the screen's sentence, when the text is not read
    secret: bool = False  # the secret guard let it through to what deletes its secret

    @property
    def counted(self) -> bool:
        """Commands, and anything in the private DM (it may answer a conversation), count
        against the flood limits."""
        return self.parsed is not None or self.message.is_direct


Proceed = Callable[[Delivery], Awaitable[None]]


class Step(Protocol):
    """One link of the chain."""

    async def __call__(self, delivery: Delivery, proceed: Proceed) -> None:
        """Handle `delivery`; `await proceed(delivery)` to let the next steps have it."""
        ...


class Chain:
    """The steps, in order; running it runs the first, which may run the next, and so on."""

    def __init__(self, steps: Sequence[Step]) -> None:
        entry: Proceed = _end
        for step in reversed(steps):
            entry = _linked(step, entry)
        self._entry = entry

    async def run(self, delivery: Delivery) -> None:
        """Take `delivery` through the steps until one ends it (or all have seen it)."""
        await self._entry(delivery)


# Each step's `proceed` is built once and hands back the next step's coroutine itself, rather
# than a coroutine of its own that awaits it: every pause of a command (a REST call, a database
# write) is resumed through all the frames above it, so the chain adds one frame per step.
def _linked(step: Step, after: Proceed) -> Proceed:
    def proceed(delivery: Delivery) -> Awaitable[None]:
        return step(delivery, after)

    return proceed


async def _end(delivery: Delivery) -> None:
    return None


class Answerer:
    """How steps answer a message: through bot.rocketchat.replies, never raising."""

    def __init__(self, replies: Replies) -> None:
        self._replies = replies

    async def answer(self, message: IncomingMessage, text: str, *, ok: bool) -> None:
        """Answer `message` (a reaction in rooms, the details in the private DM)."""
        try:
            await self._replies.answer(message, text, ok=ok)
        except Exception:
            log.exception("could not answer message %s", message.id)
