"""`/help`: list the commands, or show one in detail."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.core.errors import UserError
from bot.framework.parser import ParsedCommand
from bot.framework.registry import command

if TYPE_CHECKING:
    from bot.framework.registry import Registry


@command(
    "help",
    aliases=("commands",),
    usage=("", "<command>"),
    help="""
    List what I can do, or show how to use one command.
    Example: `/help status`
    """,
)
async def help(
    parsed: ParsedCommand, registry: Registry, /, command_name: str | None = None
) -> str:
    """One line per command, or the usage, help and aliases of one."""
    prefix = parsed.prefix or registry.display_prefix
    if command_name is None:
        return _overview(registry, prefix)
    wanted = command_name.lstrip("".join(registry.prefixes)) or command_name
    spec = registry.find(wanted)
    if spec is None:
        raise UserError(registry.describe_unknown(wanted, prefix))
    lines = [f"`{line}`" for line in spec.usage_for(prefix).splitlines()]
    lines.append(spec.help)
    aliases = registry.aliases_of(spec)
    if aliases:
        lines.append("Also known as: " + ", ".join(f"`{prefix}{alias}`" for alias in aliases))
    return "\n".join(lines)


def _overview(registry: Registry, prefix: str) -> str:
    lines = [f"Here is what I can do (send `{prefix}help <command>` for details):"]
    lines.extend(f"`{prefix}{spec.name}` — {spec.summary}" for spec in registry.commands())
    others = [p for p in registry.prefixes if p != prefix]
    if others:
        lines.append("Commands can also start with " + " or ".join(f"`{p}`" for p in others) + ".")
    lines.append("In our direct messages you can leave the prefix out.")
    return "\n".join(lines)
