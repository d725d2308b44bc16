"""`/nick`: set or clear your nickname."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.core.context import CommandContext
from bot.framework.converters import Nickname
from bot.framework.registry import command

if TYPE_CHECKING:
    from bot.profile.service import ProfileService


@command(
    "nick",
    aliases=("nickname",),
    usage=("<nickname>", "clear"),
    help="""
    Set your nickname (up to 120 characters), or remove it with `clear`.
    Example: `/nick Ali`
    """,
)
async def nick(ctx: CommandContext, profile: ProfileService, /, *, nickname: Nickname) -> str:
    """Set the nickname and say what changed."""
    change = await profile.set_nickname(ctx, nickname)
    if not change.changed:
        if not change.after:
            return "You have no nickname, so there is nothing to clear."
        return f"Your nickname is already “{change.after}”."
    if not change.after:
        return "Nickname cleared."
    return f"Nickname set to “{change.after}”."
