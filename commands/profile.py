"""`/profile`: show your own profile as Rocket.Chat has it now."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from bot.core.context import CommandContext
from bot.core.errors import UserError
from bot.framework.registry import command

if TYPE_CHECKING:
    from bot.core.fields import CustomFieldRule
    from bot.profile.model import Profile
    from bot.profile.service import ProfileService

NOT_SET = "(not set)"


@command(
    "profile",
    aliases=("me",),
    help="""
    Show your profile: display name, username, status, nickname, bio and custom fields.
    Only you see it, and it never includes e-mail addresses or tokens.
    """,
)
async def show_profile(ctx: CommandContext, profile: ProfileService, /) -> str:
    """Read the sender's profile with their token and list it."""
    current = await profile.current(ctx)
    try:
        rules: dict[str, CustomFieldRule] = await profile.custom_field_rules()
    except UserError:
        rules = {}
    return format_profile(current, rules)


def format_profile(current: Profile, rules: dict[str, CustomFieldRule]) -> str:
    """The profile as a short list; custom fields the workspace defines are shown even if empty."""
    status = current.presence + (f" — {current.status_text}" if current.status_text else "")
    lines = [
        f"Your profile (@{current.username}):",
        f"• Display name: {current.name or NOT_SET}",
        f"• Username: @{current.username}",
        f"• Status: {status}",
        f"• Nickname: {current.nickname or NOT_SET}",
        f"• Bio: {current.bio or NOT_SET}",
    ]
    names = [*rules, *(name for name in current.custom_fields if name not in rules)]
    if names:
        lines.append("• Custom fields:")
        lines.extend(f"    {name}: {_shown(current.custom_fields.get(name))}" for name in names)
    return "\n".join(lines)


def _shown(value: Any) -> str:
    if value is None or (isinstance(value, str) and not value.strip()):
        return NOT_SET
    return str(value)
