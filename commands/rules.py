"""`/rules`: the automation rules that apply to you; opt out of one, or back in."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from bot.core.context import CommandContext
from bot.core.errors import UsageError
from bot.framework.registry import command

if TYPE_CHECKING:
    from bot.automation.engine import RuleEngine, RuleView


@command(
    "rules",
    usage=("", "off <rule>", "on <rule>"),
    help="""
    List the automation rules that apply to you, or turn one off or on for yourself.
    Rules are set up by the workspace admin (for example "away every weekday at 18:00"). They
    act only for people who gave me a token. `/rules off NAME` opts you out of a rule;
    `/rules on NAME` opts you back in, or joins a rule that is open to everyone who opts in.
    Examples: `/rules`, `/rules off evening-away`, `/rules on lunch`
    """,
)
async def rules(
    ctx: CommandContext,
    rules: RuleEngine,
    /,
    action: Literal["on", "off"] | None = None,
    name: str | None = None,
) -> str:
    """List the rules, or record the sender's choice about one."""
    prefix = rules.prefix
    if action is not None:
        if not name:
            raise UsageError(
                f"Tell me which rule: `{prefix}rules {action} NAME` (`{prefix}rules` lists them)."
            )
        return await rules.choose(ctx.sender_id, ctx.sender_username, name, on=action == "on")
    if not rules.rules:
        return "There are no automation rules on this workspace."
    views = await rules.view(ctx.sender_id, ctx.sender_username)
    mine = [view for view in views if view.applies]
    joinable = [view for view in views if not view.applies and view.rule.users.opted_in]
    lines: list[str] = []
    if mine:
        lines.append("Rules that apply to you:")
        lines.extend(_line(view, prefix) for view in mine)
    else:
        lines.append("No rule applies to you at the moment.")
    if joinable:
        lines.append("Rules you can join:")
        lines.extend(
            f"• {view.rule.name}: {_what(view)} `{prefix}rules on {view.rule.name}` joins it."
            for view in joinable
        )
    if (mine or joinable) and not await rules.has_valid_token(ctx.sender_id):
        lines.append(
            "Rules act only for people who gave me a working token: send me "
            f"`{prefix}token set <token>` in our direct messages."
        )
    return "\n".join(lines)


def _what(view: RuleView) -> str:
    rule = view.rule
    return f"{rule.change.describe()}, {rule.trigger.describe()}."


def _line(view: RuleView, prefix: str) -> str:
    name = view.rule.name
    if view.opted_out:
        state = f"Off for you; `{prefix}rules on {name}` turns it back on."
    elif view.rule.users.opted_in:
        state = f"On (you joined); `{prefix}rules off {name}` leaves it."
    else:
        state = f"On; `{prefix}rules off {name}` opts you out."
    return f"• {name}: {_what(view)} {state}"
