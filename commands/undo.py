"""`/undo`: put back what your last change through the bot replaced."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.core.context import CommandContext
from bot.framework.registry import command
from bot.profile.audit import field_label

if TYPE_CHECKING:
    from bot.profile.service import ProfileService


@command(
    "undo",
    usage="",
    help="""
    Put back what your last change through me replaced.
    It covers status, status text, bio, nickname, display name and custom fields, whether the
    change came from one of your commands or from a rule; never your e-mail, username or
    password. A field you have changed elsewhere since is left as it is. Example: `/undo`
    """,
)
async def undo(ctx: CommandContext, profile: ProfileService, /) -> str:
    """Undo the sender's last change and say what came back."""
    outcome = await profile.undo(ctx)
    back = [
        f"{field_label(key)} back to {_shown(old)}" for key, (_, old) in outcome.restored.items()
    ]
    reply = f"Undone ({outcome.undone}): " + "; ".join(back) + "."
    if outcome.changed_elsewhere:
        names = ", ".join(field_label(key) for key in outcome.changed_elsewhere)
        reply += f" I left your {names} as it is: it was changed elsewhere since."
    return reply


def _shown(value: str) -> str:
    return f"“{value}”" if value else "nothing (cleared)"
