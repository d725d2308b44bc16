"""Sensitive changes: e-mail, username and password, confirmed in a DM conversation and passed
through Rocket.Chat's own second factor.

Each change is a conversation flow (bot.flows.conversations) that ends in one
users.updateOwnBasicInfo, through the one change path (bot.profile.changes):

    /email <address>     confirm (yes/no) → [second factor] → done        (email.py)
    /username <name>     confirm (yes/no) → [second factor] → done        (username.py)
    /password            new password → once more → [second factor] → done (password.py)

An address or name the server refuses (taken, invalid) is asked for again; a password the
server refuses (policy, same as now, used before) too. What the three share is in flow.py, the
second factor in second_factor.py, the rules checked before anything is sent in rules.py.

Secrets: every answer that holds a password or a code is deleted with the person's token as
soon as it is read, and no prompt repeats it. Nothing secret is stored or logged.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.core.context import CommandContext
from bot.flows.sensitive.email import EmailChange
from bot.flows.sensitive.password import PasswordChange
from bot.flows.sensitive.rules import EmailAddress, NewUsername
from bot.flows.sensitive.username import UsernameChange
from bot.profile.changes import IN_DOUBT_WAIT_SECONDS

if TYPE_CHECKING:
    from bot.flows.conversations import Conversations
    from bot.profile.service import ProfileService
    from bot.rocketchat.rest import RestClient


class SensitiveChanges:
    """The `/email`, `/username` and `/password` commands' service (injected as `sensitive`)."""

    def __init__(
        self,
        conversations: Conversations,
        profile: ProfileService,
        rest: RestClient,
        *,
        prefix: str = "/",
        in_doubt_wait: float = IN_DOUBT_WAIT_SECONDS,
    ) -> None:
        self.email = EmailChange(
            conversations, profile, rest, prefix=prefix, in_doubt_wait=in_doubt_wait
        )
        self.username = UsernameChange(
            conversations, profile, rest, prefix=prefix, in_doubt_wait=in_doubt_wait
        )
        self.password = PasswordChange(
            conversations, profile, rest, prefix=prefix, in_doubt_wait=in_doubt_wait
        )
        for flow in (self.email, self.username, self.password):
            conversations.add_flow(flow)

    async def start_email(self, ctx: CommandContext, address: str) -> str:
        """Ask the sender to confirm changing their email address to `address` (UsageError
        when it is not an address)."""
        return await self.email.start(ctx, EmailAddress.convert(address))

    async def start_username(self, ctx: CommandContext, username: str) -> str:
        """Ask the sender to confirm changing their username to `username`."""
        return await self.username.start(ctx, NewUsername.convert(username))

    async def start_password(self, ctx: CommandContext, new_password: str | None) -> str:
        """Ask for a new password in the DM (`new_password` is only accepted in the DM)."""
        return await self.password.start(ctx, new_password)
