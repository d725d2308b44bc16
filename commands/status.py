"""`/status`: set your presence, your status text, or both."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.context import CommandContext
from bot.converters import StatusLine
from bot.registry import command

if TYPE_CHECKING:
    from bot.profile import ProfileService


@command(
    "status",
    usage=("<online|away|busy|offline> [text]", "<text>", "clear"),
    help="""
    Set your presence, your status text, or both.
    A presence alone keeps your status text; a text alone keeps your presence; `clear` removes
    the text and keeps the presence. The text may have up to 120 characters. To start a text with
    a presence word, put it in quotes: `/status "Away from keyboard"`.
    Examples: `/status away At lunch`, `/status busy`, `/status In a meeting`, `/status clear`
    """,
)
async def status(ctx: CommandContext, profile: ProfileService, /, *, line: StatusLine) -> str:
    """Apply the presence and/or text and say what the status is now."""
    change = await profile.set_status(ctx, presence=line.presence, text=line.text)
    if not change.changed:
        if line.text == "" and line.presence is None:
            presence = change.presence
            return f"You have no status text, so there is nothing to clear (you are {presence})."
        return "Your status is already " + _describe(change.presence, change.text)
    if line.text == "" and change.presence == change.previous_presence:
        return f"Status text cleared; you are still {change.presence}."
    return "Status set to " + _describe(change.presence, change.text)


def _describe(presence: str, text: str) -> str:
    return f"{presence}: {text}" if text else f"{presence}, with no status text."
