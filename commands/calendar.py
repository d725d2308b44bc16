"""`/calendar`: let your calendar set your status during meetings."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.core.context import CommandContext
from bot.core.errors import UsageError
from bot.framework.registry import command

if TYPE_CHECKING:
    from bot.automation.calendar_status import CalendarStatus

SWITCHES = {"on": True, "off": False}


@command(
    "calendar",
    usage=("set <ICS URL>", "status", "off", "titles on|off", "allday on|off"),
    help="""
    Let your calendar set your status: during a meeting you show busy, "In a meeting until
    15:30", and afterwards your status comes back. `set <ICS URL>` takes your calendar's
    secret ICS address (send it in our direct messages only: it is a secret like a token; I
    store it encrypted and delete your message). `status` says how the feed is doing, `off`
    forgets it, `titles on` adds the meeting's title (never a private event's), `allday on`
    lets an all-day event start an out of office. An out of office or a status you set
    yourself wins over a meeting.
    Examples: `/calendar set https://calendar.google.com/calendar/ical/…/basic.ics`,
    `/calendar status`, `/calendar titles on`
    """,
)
async def calendar(
    ctx: CommandContext, calendar: CalendarStatus, /, *, text: str | None = None
) -> str:
    """Dispatch on the action word. The whole line is taken as written (not shell-split), so
    an address posted in a room is always refused and deleted, whatever quoting it has."""
    words = (text or "").split()
    verb = words[0].casefold() if words else ""
    if verb == "set":
        if len(words) != 2:
            if not ctx.is_direct and len(words) > 2:
                return await calendar.set(ctx, words[1])  # refused and deleted all the same
            raise UsageError("`set` takes exactly one address, the calendar's ICS link.")
        return await calendar.set(ctx, words[1].strip("<>`\"'"))
    if verb in ("status", "off") and len(words) == 1:
        return await (calendar.status(ctx) if verb == "status" else calendar.off(ctx))
    if verb in ("titles", "allday") and len(words) == 2 and words[1].casefold() in SWITCHES:
        on = SWITCHES[words[1].casefold()]
        return await (calendar.titles(ctx, on) if verb == "titles" else calendar.all_day(ctx, on))
    if not words:
        raise UsageError("Tell me what to do with your calendar: set, status or off.")
    raise UsageError("The calendar command knows set, status, off, titles and allday.")
