"""`/status`: set your presence, your status text, or both, for good or for a while."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.core.context import CommandContext
from bot.core.values import format_moment
from bot.framework.converters import StatusLine
from bot.framework.registry import command

if TYPE_CHECKING:
    from bot.profile.model import StatusChange
    from bot.profile.service import ProfileService


@command(
    "status",
    usage=(
        "<online|away|busy|offline> [text] [for <duration> | until <HH:MM>]",
        "<text> [for <duration> | until <HH:MM>]",
        "clear",
    ),
    help="""
    Set your presence, your status text, or both, for good or for a while.
    A presence alone keeps your status text; a text alone keeps your presence; `clear` removes
    the text and keeps the presence. The text may have up to 120 characters. To start a text with
    a presence word, put it in quotes: `/status "Away from keyboard"`.
    End with `for 30m` (or 2h, 1d, 1h30m) or `until 17:30` (your time zone) and I put your
    previous status back when the time is up, unless you changed it yourself meanwhile.
    Examples: `/status away At lunch for 1h`, `/status busy until 17:30`, `/status In a meeting`,
    `/status clear`
    """,
)
async def status(ctx: CommandContext, profile: ProfileService, /, *, line: StatusLine) -> str:
    """Apply the presence and/or text and say what the status is now (and until when)."""
    change = await profile.set_status(
        ctx, presence=line.presence, text=line.text, expiry=line.expiry
    )
    until = _until(profile, change)
    if not change.changed:
        if line.text == "" and line.presence is None and not until:
            presence = change.presence
            return f"You have no status text, so there is nothing to clear (you are {presence})."
        already = "Your status is already " + _describe(change.presence, change.text, until)
        if line.expiry is not None and not until:
            already += " There is nothing to put back later, so I set no timer."
        return already
    if line.text == "" and change.presence == change.previous_presence:
        return f"Status text cleared; you are still {change.presence}{until}."
    return "Status set to " + _describe(change.presence, change.text, until)


def _describe(presence: str, text: str, until: str = "") -> str:
    if text:
        return f"{presence}: {text}{until}" + ("." if until else "")
    return f"{presence}, with no status text{until}."


def _until(profile: ProfileService, change: StatusChange) -> str:
    """` until 13:00 (UTC); then I put back online, with no status text` (or nothing)."""
    if change.until is None or change.restores is None:
        return ""
    when = format_moment(change.until, change.zone, profile.wall_clock.now())
    presence, text = change.restores
    back = f"{presence}: “{text}”" if text else f"{presence}, with no status text"
    return f" until {when}; then I put back {back}"
