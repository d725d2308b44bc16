"""`/email`: change your e-mail address, confirmed in a DM and with Rocket.Chat's second factor."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.core.context import CommandContext
from bot.framework.registry import command

if TYPE_CHECKING:
    from bot.flows.sensitive import SensitiveChanges


@command(
    "email",
    help="""
    Change your e-mail address.
    I ask you to confirm in our direct messages, then Rocket.Chat asks for your second factor
    (a code from your authenticator app or your e-mail, or your current password). The new
    address stays unverified until you click the link Rocket.Chat sends to it.
    Example: `/email alice@example.org`
    """,
)
async def email(ctx: CommandContext, sensitive: SensitiveChanges, /, new_address: str) -> str:
    """Start the confirmation conversation (the service checks the address)."""
    return await sensitive.start_email(ctx, new_address)
