"""`/field`: set or clear one of the workspace's custom profile fields."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.core.context import CommandContext
from bot.framework.converters import FieldName, FieldValue
from bot.framework.registry import command

if TYPE_CHECKING:
    from bot.profile.service import ProfileService


@command(
    "field",
    usage=("<name> <value>", "<name> clear"),
    help="""
    Set one of this workspace's custom profile fields, or clear it.
    The other fields keep their values. `/profile` lists the fields and their values; put a
    field name with spaces in quotes.
    Example: `/field team Platform`
    """,
)
async def field(
    ctx: CommandContext, profile: ProfileService, /, name: FieldName, *, value: FieldValue
) -> str:
    """Set the field and say what changed."""
    change = await profile.set_custom_field(ctx, name, value)
    field_name = change.label
    if not change.changed:
        if not change.after:
            return f"Your field {field_name} is already empty."
        return f"Your field {field_name} is already “{change.after}”."
    if not change.after:
        return f"Field {field_name} cleared."
    return f"Field {field_name} set to “{change.after}”."
