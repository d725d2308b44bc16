"""`/username`: change your username, confirmed in a DM."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.core.context import CommandContext
from bot.framework.registry import command

if TYPE_CHECKING:
    from bot.flows.sensitive import SensitiveChanges


@command(
    "username",
    help="""
    Change your username (the name after @).
    I check it against this workspace's rules and ask you to confirm in our direct messages:
    mentions of your old @name and links with it stop working.
    Example: `/username alice.liddell`
    """,
)
async def username(ctx: CommandContext, sensitive: SensitiveChanges, /, new_username: str) -> str:
    """Start the confirmation conversation (the service checks the name)."""
    return await sensitive.start_username(ctx, new_username)
