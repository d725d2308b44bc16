"""`/status`: set your presence, your status text, or both, for good or for a while; or pick a
recent status or a preset again (the grammar: commands/_status_request.py)."""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from bot.core.context import CommandContext
from bot.core.errors import UserError
from bot.core.values import Expiry, StatusType, format_moment
from bot.framework.converters import StatusLine
from bot.framework.registry import command
from bot.profile.model import Cause
from bot.profile.presets import Menu, Preset, StatusChoice, check_preset_name
from commands._status_request import (
    DeletePreset,
    ListPresets,
    PickNumber,
    SavePreset,
    SetStatus,
    StatusRequest,
    UsePreset,
)

if TYPE_CHECKING:
    from bot.profile.model import StatusChange
    from bot.profile.presets import StatusPresets
    from bot.profile.service import ProfileService


@command(
    "status",
    usage=(
        "<online|away|busy|offline> [text] [for <duration> | until <HH:MM>]",
        "<text> [for <duration> | until <HH:MM>]",
        "clear",
        "",
        "<number> [for <duration> | until <HH:MM>]",
        "use <preset> [for <duration> | until <HH:MM>]",
        "save <preset> [for <duration> | until <HH:MM>]",
        "delete <preset>",
        "presets",
    ),
    help="""
    Set your presence, your status text, or both, for good or for a while; or pick one again.
    A presence alone keeps your status text; a text alone keeps your presence; `clear` removes
    the text and keeps the presence. The text may have up to 120 characters. To start a text with
    a presence word, a number, or use, save, delete or presets, put it in quotes:
    `/status "Away from keyboard"`.
    End with `for 30m` (or 2h, 1d, 1h30m) or `until 17:30` (your time zone) and I put your
    previous status back when the time is up, unless you changed it yourself meanwhile.
    `/status` alone lists your last five statuses with a text, your presets and the team's,
    numbered: `/status 2` sets number 2 again (with its `for`/`until`; `/status 2 for 30m`
    changes that). Numbers are those of the list I showed you last, for an hour.
    `/status save lunch` keeps your current status as your preset lunch (with the time it was
    set for, or the `for`/`until` you add); `/status use lunch` applies it, `/status delete lunch`
    forgets it, `/status presets` lists the presets.
    Examples: `/status away At lunch for 1h`, `/status busy until 17:30`, `/status In a meeting`,
    `/status clear`, `/status`, `/status 2`, `/status save lunch`, `/status use lunch`
    """,
)
async def status(
    ctx: CommandContext,
    profile: ProfileService,
    presets: StatusPresets,
    /,
    *,
    request: StatusRequest | None = None,
) -> str:
    """Set, pick, save or list statuses, and say what the status is now."""
    prefix = profile.prefix
    match request:
        case None:
            return _menu(await presets.show(ctx.sender_id), prefix)
        case ListPresets():
            return _preset_list(await presets.show_presets(ctx.sender_id), prefix)
        case PickNumber(number=number, expiry=expiry):
            entry = await presets.pick(ctx.sender_id, number)
            return await _apply(ctx, profile, presets, entry.choice, entry.preset, expiry)
        case UsePreset(name=name, expiry=expiry):
            preset = await presets.find(ctx.sender_id, name)
            return await _apply(ctx, profile, presets, preset.choice, preset, expiry)
        case SavePreset(name=name, expiry=expiry):
            return await _save(ctx, profile, presets, name, expiry)
        case DeletePreset(name=name):
            deleted = await presets.delete(ctx.sender_id, name)
            return f"Deleted your preset `{deleted.name}` ({deleted.choice.describe()})."
        case SetStatus(line=line):
            change = await profile.set_status(
                ctx, presence=line.presence, text=line.text, expiry=line.expiry
            )
            presence = StatusType.parse(change.presence)
            if line.text and presence is not None:
                await presets.used(ctx.sender_id, StatusChoice(presence, change.text, line.expiry))
            return _reply(profile, change, line)
    raise TypeError(f"unexpected /status request {request!r}")


async def _apply(
    ctx: CommandContext,
    profile: ProfileService,
    presets: StatusPresets,
    choice: StatusChoice,
    preset: Preset | None,
    expiry: Expiry | None,
) -> str:
    """Set a recent status or a preset, through the same path as a typed `/status`."""
    if expiry is not None:
        choice = replace(choice, expiry=expiry)
    cause = Cause("command", f"{profile.prefix}status use {preset.name}") if preset else None
    change = await profile.set_status(
        ctx, presence=choice.presence, text=choice.text, expiry=choice.expiry, cause=cause
    )
    await presets.used(ctx.sender_id, choice)
    line = StatusLine(presence=choice.presence, text=choice.text, expiry=choice.expiry)
    reply = _reply(profile, change, line)
    return f"{preset.kind.capitalize()} `{preset.name}`: {reply}" if preset else reply


async def _save(
    ctx: CommandContext,
    profile: ProfileService,
    presets: StatusPresets,
    name: str,
    expiry: Expiry | None,
) -> str:
    """Keep the sender's current status as their preset `name`."""
    prefix = profile.prefix
    check_preset_name(name)
    current = await profile.current(ctx)
    presence = StatusType.parse(current.presence)
    if not current.status_text or presence is None:
        raise UserError(
            "You have no status text, so there is nothing to save. Set one first "
            f"(`{prefix}status away At lunch for 1h`), then `{prefix}status save {name}`."
        )
    if expiry is None:  # the time the current status was set for, if it was set through me
        last = await presets.last_used(ctx.sender_id)
        if last is not None and (last.presence, last.text) == (presence, current.status_text):
            expiry = last.expiry
    saved = await presets.save(
        ctx.sender_id, name, StatusChoice(presence, current.status_text, expiry)
    )
    verb = "Replaced" if saved.replaced else "Saved"
    return (
        f"{verb} your preset `{saved.preset.name}`: {saved.preset.choice.describe()}. "
        f"`{prefix}status use {saved.preset.name}` applies it."
    )


def _menu(menu: Menu, prefix: str) -> str:
    lines: list[str] = []
    if menu.recent:
        lines.append("Your recent statuses:")
        lines.extend(entry.describe() for entry in menu.recent)
    else:
        lines.append(
            "No recent statuses yet: the last five statuses with a text that you set through "
            "me show up here."
        )
    lines.extend(_sections(menu))
    if menu.entries:
        lines.append(f"`{prefix}status <number>` sets one again.")
    lines.append(f"`{prefix}status save NAME` keeps your current status as a preset.")
    return "\n".join(lines)


def _preset_list(menu: Menu, prefix: str) -> str:
    if not menu.entries:
        return (
            "There are no presets: the team has none and you have saved none. "
            f"`{prefix}status save NAME` keeps your current status as one."
        )
    lines = _sections(menu)
    lines.append(
        f"`{prefix}status <number>` or `{prefix}status use NAME` applies one; "
        f"`{prefix}status delete NAME` deletes one of yours."
    )
    return "\n".join(lines)


def _sections(menu: Menu) -> list[str]:
    lines: list[str] = []
    for title, entries in (("Your presets:", menu.mine), ("Team presets:", menu.team)):
        if entries:
            lines.append(title)
            lines.extend(entry.describe() for entry in entries)
    return lines


def _reply(profile: ProfileService, change: StatusChange, line: StatusLine) -> str:
    """What the status is now (and until when), as `/status` answers."""
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
