"""`/name`: change your display name."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.core.context import CommandContext
from bot.framework.converters import DisplayName
from bot.framework.registry import command

if TYPE_CHECKING:
    from bot.profile.service import ProfileService


@command(
    "name",
    aliases=("displayname",),
    help="""
    Change your display name, the name people see next to your messages.
    It can't be empty and can't contain < > \\ or /.
    Example: `/name Alice Liddell`
    """,
)
async def name(
    ctx: CommandContext, profile: ProfileService, /, *, display_name: DisplayName
) -> str:
    """Set the display name and say what changed."""
    change = await profile.set_name(ctx, display_name)
    if not change.changed:
        return f"Your display name is already “{change.after}”."
    return f"Display name set to “{change.after}”."
