"""`/audit`: the changes the bot made on your account (admins: on anyone's)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from bot.core.context import CommandContext
from bot.core.errors import UserError
from bot.framework.registry import command
from bot.profile.audit import describe_entries

if TYPE_CHECKING:
    from bot.profile.audit import AuditLog
    from bot.profile.service import ProfileService


class AuditSettings(Protocol):
    """What /audit reads of the configuration (the `settings` service)."""

    @property
    def admin_role(self) -> str: ...


@command(
    "audit",
    usage=("", "@user"),
    help="""
    Show the last changes I made on your account: when, which fields, old and new values
    (secrets such as passwords only by name), and why (a command, a rule, an expiry, an undo).
    Workspace admins can see anyone's: `/audit @alice`.
    Examples: `/audit`, `/audit @alice`
    """,
)
async def audit(
    ctx: CommandContext,
    audit: AuditLog,
    profile: ProfileService,
    settings: AuditSettings,
    /,
    user: str | None = None,
) -> str:
    """The sender's own entries, or (for admins) another user's."""
    zone = profile.default_zone
    wanted = (user or "").strip().removeprefix("@")
    if not wanted or wanted.casefold() == ctx.sender_username.casefold():
        entries = await audit.recent(ctx.sender_id)
        if not entries:
            return "I have not changed anything on your account yet."
        lines = describe_entries(entries, zone)
        return "My last changes on your account, newest first:\n" + "\n".join(lines)
    role = settings.admin_role
    refusal = (
        f"Only members of the “{role}” role can see someone else's audit trail; "
        f"`{profile.prefix}audit` shows your own."
    )
    try:
        roles = (await profile.current(ctx)).roles
    except UserError:
        raise UserError(
            f"{refusal} To check your roles I need your token: send me "
            f"`{profile.prefix}token set <token>` in our direct messages."
        ) from None
    if role not in roles:
        raise UserError(refusal)
    found = await profile.find_user(ctx, wanted)
    user_id = found[0] if found else await audit.known_user(wanted)
    if user_id is None:
        raise UserError(
            f"There is no user called @{wanted[:40]}. Check the spelling: "
            f"`{profile.prefix}audit @username`."
        )
    entries = await audit.recent(user_id)
    if not entries:
        return f"I have not changed anything on @{wanted}'s account."
    lines = describe_entries(entries, zone)
    return f"My last changes on @{wanted}'s account, newest first:\n" + "\n".join(lines)
