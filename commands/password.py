"""`/password`: change your password in a private conversation, never as an argument in a room."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.core.context import CommandContext
from bot.framework.registry import command

if TYPE_CHECKING:
    from bot.flows.sensitive import SensitiveChanges


@command(
    "password",
    usage="",
    help="""
    Change your password in our direct messages.
    I ask for the new password and once more to confirm it, delete each of those messages right
    away, check the workspace's password policy, and pass on Rocket.Chat's second factor.
    Never write a password in a room: if you do, I delete it and you should pick another one.
    """,
)
async def password(
    ctx: CommandContext, sensitive: SensitiveChanges, /, *, new_password: str | None = None
) -> str:
    """Start the password conversation; a password given here is only accepted in the DM.

    The rest of the line is taken as written (not shell-split), so no quoting mistake can stop
    a password written in a room from being refused and deleted.
    """
    return await sensitive.start_password(ctx, new_password)
