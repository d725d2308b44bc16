"""`/cancel`: stop the change that is waiting for your answer."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.core.context import CommandContext
from bot.framework.registry import command

if TYPE_CHECKING:
    from bot.flows.conversations import Conversations


@command(
    "cancel",
    help="""
    Stop the email, username or password change that is waiting for your answer.
    Nothing is changed. In our direct messages, `cancel` or `no` does the same.
    """,
)
async def cancel(ctx: CommandContext, conversations: Conversations, /) -> str:
    """Cancel the sender's pending conversation, if any."""
    return await conversations.cancel(ctx)
