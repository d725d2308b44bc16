"""`/token`: give the bot your personal access token, check it, or make it forget it."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.core.context import CommandContext
from bot.core.errors import UsageError
from bot.core.values import PersonalAccessToken
from bot.framework.registry import command

if TYPE_CHECKING:
    from bot.profile.tokens import TokenService

# What people wrap a pasted token in: quotes (straight and curly), backticks, the usage's <>.
WRAPPERS = "\"'\u201c\u201d\u201e\u2018\u2019`<>"


@command(
    "token",
    usage=("set <token>", "status", "forget"),
    help="""
    Give me your Rocket.Chat personal access token, so I can change your profile for you.
    `set <token>` checks and stores it (send it in our direct messages only; I delete the message
    right after), `status` says whether I have one and whether it still works, and `forget`
    deletes it. Create a token under avatar → Account → Personal Access Tokens.
    """,
)
async def token(ctx: CommandContext, tokens: TokenService, /, *, text: str | None = None) -> str:
    """Dispatch on the action word; the token itself is never repeated in any answer.

    The whole line is taken as written (not shell-split) so that no quoting mistake or extra
    word can stop a token posted in a room from being refused and deleted.
    """
    words = (text or "").split()
    verb = words[0].casefold() if words else ""
    # A token pasted in quotes, backticks or the usage line's <> is still that token.
    secret = next(
        (
            bare
            for bare in (w.strip(WRAPPERS) for w in words)
            if PersonalAccessToken.looks_like(bare)
        ),
        None,
    )
    if verb == "set" and len(words) == 2:
        return await tokens.set(ctx, PersonalAccessToken.convert(secret or words[1]))
    if verb in ("status", "forget") and len(words) == 1:
        return await (tokens.status(ctx) if verb == "status" else tokens.forget(ctx))
    if secret is not None and (not ctx.is_direct or len(words) == 1):
        # A token in a call we can't read (or `/token <token>` without "set"): go through `set`,
        # which refuses and deletes it in a room, and stores it in a DM.
        return await tokens.set(ctx, PersonalAccessToken(secret))
    if not words:
        raise UsageError("Tell me what to do with your token: set, status or forget.")
    if verb == "set":
        if len(words) == 1:
            raise UsageError("Missing the token.")
        raise UsageError("`set` takes exactly one token, with nothing after it.")
    if verb in ("status", "forget"):
        raise UsageError(f"`{verb}` takes nothing after it.")
    raise UsageError("The token command knows set, status and forget.")
