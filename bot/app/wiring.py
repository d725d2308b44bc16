"""How the app puts the dispatch chain together: which steps, in which order, with what.

The order matters and is the design (bot.framework.steps says why each step is where it is):
privacy first, since the rest asks whether a message is private; the secret guard before the
screen and the flood gate, so nothing lets a secret slip past; the hooks before the command, so
a pending conversation takes its answer.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from bot.app.config import BotSettings
from bot.core.clock import Clock
from bot.framework.chain import Answerer, Chain, Step
from bot.framework.flood import FloodGate
from bot.framework.registry import Registry
from bot.framework.steps import (
    CommandParser,
    CommandStep,
    FloodStep,
    GuardStep,
    HooksStep,
    MessageHook,
    ParseStep,
    PrivacyStep,
    SecretGuard,
    UnreadStep,
)
from bot.rocketchat.privacy import OneToOneRooms
from bot.rocketchat.replies import Replies


def dispatch_chain(
    settings: BotSettings,
    *,
    registry: Registry,
    services: Mapping[str, Any],
    replies: Replies,
    privacy: OneToOneRooms,
    guard: SecretGuard,
    hooks: Sequence[MessageHook],
    clock: Clock,
) -> Chain:
    """The steps every admitted message goes through, in their sender's queue."""
    answerer = Answerer(replies)
    parser = CommandParser(registry, settings.prefixes)
    flood = FloodGate(
        per_user=settings.rate_limit_per_user,
        global_limit=settings.rate_limit_global,
        window=settings.rate_limit_window,
        clock=clock.monotonic,
    )
    steps: list[Step] = [
        PrivacyStep(privacy),
        GuardStep(guard, parser, flood=flood, max_length=settings.max_message_length),
        ParseStep(parser, max_length=settings.max_message_length),
        FloodStep(flood, answerer),
        UnreadStep(answerer),
        HooksStep(hooks, answerer),
        CommandStep(registry, services, answerer),
    ]
    return Chain(steps)
