"""`/bio`: set or clear your bio."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.core.context import CommandContext
from bot.framework.converters import Bio
from bot.framework.registry import command

if TYPE_CHECKING:
    from bot.profile.service import ProfileService


@command(
    "bio",
    usage=("<text>", "clear"),
    help="""
    Set your bio (up to 260 characters), or remove it with `clear`.
    Write it as you want it to appear; quotes around the whole text are removed.
    Example: `/bio Platform engineer. Ask me about deployments.`
    """,
)
async def bio(ctx: CommandContext, profile: ProfileService, /, *, text: Bio) -> str:
    """Set the bio and say what changed."""
    change = await profile.set_bio(ctx, text)
    if not change.changed:
        if not change.after:
            return "You have no bio, so there is nothing to clear."
        return f"Your bio is already “{change.after}”."
    if not change.after:
        return "Bio cleared."
    return f"Bio set to “{change.after}”."
