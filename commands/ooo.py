"""`/ooo`: out of office, with automatic answers while you are away and a digest when back."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.automation.ooo.request import (
    ChooseNameSuffix,
    EndAbsence,
    OooLine,
    OooRequest,
    SetAbsence,
)
from bot.core.context import CommandContext
from bot.framework.registry import command

if TYPE_CHECKING:
    from bot.automation.ooo.service import OutOfOffice


@command(
    "ooo",
    usage=(
        "",
        "until <date> [<time>] [note]",
        "for <duration> [note]",
        "from <date> [<time>] until <date> [<time>] [note]",
        "off",
        "name on|off",
    ),
    help="""
    Be out of office: your status says so until you are back, and I answer for you.
    Dates are in your time zone: 2026-12-27, 27 Dec, Dec 27, friday, today, tomorrow, with an
    optional time (14:00, 5pm); `until 27 Dec` means through the 27th. `for` takes 3d, 1w, 36h.
    A start in the future is kept and begins by itself. While you are away, everyone who
    writes to you directly or mentions you gets one automatic answer, posted as you in the
    same room (never bots, never in rooms you muted), and when you are back I put your status
    and name back (unless you changed them meanwhile) and send you the list of what came in.
    `/ooo` shows it, `/ooo off` ends it now, `/ooo name on` adds "(OOO until 27 Dec)" to your
    display name while away.
    Examples: `/ooo until 2026-12-27 Skiing, back on the 28th`, `/ooo for 1w Conference`,
    `/ooo from 2026-12-20 until 2026-12-27`
    """,
)
async def ooo(ctx: CommandContext, ooo: OutOfOffice, /, *, line: OooLine | None = None) -> str:
    """Show, set, end the sender's absence, or choose the name suffix."""
    request: OooRequest | None = line  # type: ignore[assignment]
    if isinstance(request, SetAbsence):
        return await ooo.set(ctx, request)
    if isinstance(request, EndAbsence):
        return await ooo.off(ctx)
    if isinstance(request, ChooseNameSuffix):
        return await ooo.choose_name_suffix(ctx, request.on)
    return await ooo.show(ctx)
