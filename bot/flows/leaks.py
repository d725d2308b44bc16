"""Secrets where they must not stay: found in every message before anything else reads it.

A personal access token, a password or a 2FA code must not stay where others can read it, nor
in the bot's DM once the bot has what it needs. Commands that take a secret delete it
themselves (`/token set`, `/password <new>`, the answers to a conversation's secret step), but
only when the message reaches them; this guard looks at every message first, before the
length and character screen and the flood gate, so that none slips past:

* a word shaped like a token anywhere (in quotes, brackets, a code span or block, a sentence,
  a mistyped command, an edited message): outside the sender's one-to-one DM the message is
  deleted with that word itself as the credential (only a live token of the sender's gets past
  Rocket.Chat) and the sender is told to regenerate it. In the DM, a token alone (or
  `/token set <token>`, wrapped in anything) is handed to `/token set`; anywhere else in a DM
  message it is deleted and the sender told how to give it;
* an answer to a conversation that waits for a password or a code: taken by the conversation
  when it can be read, else deleted and the sender told why it was not used;
* `/password <something>` (or a near miss such as `/pasword`): outside the DM it is deleted and
  the sender told to choose another password; in the DM only a readable `/password` reaches
  the command, anything else is deleted.
* `/calendar set <address>` (or a near miss such as `/calender set`): a calendar's secret ICS
  address reads the whole calendar. Outside the DM it is deleted (with the sender's stored
  token) and the sender told to reset the address; in the DM it reaches the command.

The guard decides in the sender's queue, in order with their other messages. It never logs or
repeats what it found.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Final

from bot.core.context import CommandContext
from bot.core.message import IncomingMessage
from bot.core.values import WHITESPACE, PersonalAccessToken, tokens_in
from bot.framework.flood import readable_head
from bot.framework.parser import ParsedCommand, parse_command
from bot.framework.steps import GuardDecision
from bot.profile.tokens import posted_in_room

if TYPE_CHECKING:
    from bot.flows.conversations import Conversations
    from bot.flows.sensitive.password import PasswordChange
    from bot.framework.registry import Registry
    from bot.profile.tokens import TokenService
    from bot.rocketchat.replies import Replies

log = logging.getLogger(__name__)

PASSWORD_COMMAND: Final = "password"
TOKEN_COMMAND: Final = "token"
CALENDAR_COMMAND: Final = "calendar"
# What people put around a pasted token: quotes, backticks (code spans and fences), brackets,
# the usage line's <>, and the full stop of a sentence.
_AROUND: Final = WHITESPACE + "\"'`<>()[]{}“”„‘’.,;:!?"
EDITED: Final = (
    "You edited a message while I was waiting for your answer, and I take a password or a "
    "code only as a new message. Send it again as a new message, or `cancel` to stop."
)


class LeakGuard:
    """The dispatcher's SecretGuard: finds secrets in messages and takes them back."""

    def __init__(
        self,
        *,
        tokens: TokenService,
        password: PasswordChange,
        conversations: Conversations,
        replies: Replies,
        registry: Registry,
    ) -> None:
        self._tokens = tokens
        self._password = password
        self._conversations = conversations
        self._replies = replies
        self._registry = registry

    async def suspects(self, message: IncomingMessage) -> bool:
        """True when the message may hold a secret (cheap: no call to Rocket.Chat)."""
        return bool(
            tokens_in(message.text)
            or self._password_call(message) is not None
            or self._calendar_call(message) is not None
            or await self._conversations.awaits_secret(message)
        )

    async def decide(self, message: IncomingMessage, *, unreadable: str | None) -> GuardDecision:
        """What to do with a suspect message: RUN it (its command or conversation deletes the
        secret), DONE (the secret was taken back here), or PASS (no secret after all)."""
        deliverable = unreadable is None and message.edit_of is None
        if await self._conversations.awaits_secret(message):
            if deliverable:
                return GuardDecision.run()
            await self._conversations.discard_answer(message, unreadable or EDITED)
            return GuardDecision.done()
        candidates = tokens_in(message.text)
        if candidates:
            if message.is_direct and deliverable:
                token = self._intended_token(message.text)
                if token is not None:
                    return GuardDecision.run(_token_set(token))
            told = await self._tokens.take_back(CommandContext.from_message(message), candidates)
            if told is not None:
                await self._tell(message, told)
                return GuardDecision.done()
        call = self._password_call(message)
        if call is not None:
            exact = call.key == PASSWORD_COMMAND
            if message.is_direct and deliverable and exact:
                return GuardDecision.run()
            await self._tell(message, await self._password.take_back(self._ctx(message)))
            return GuardDecision.done()
        if self._calendar_call(message) is not None:
            if message.is_direct:
                return GuardDecision.passed()  # private: the command (or its usage) answers
            await self._take_back_calendar(message)
            return GuardDecision.done()
        return GuardDecision.passed()

    async def refuse(self, message: IncomingMessage, notice: str | None) -> None:
        """A message the guard let RUN was refused by the flood gate: take its secret back
        anyway, and tell `notice` (once per window, as the gate says)."""
        if await self._conversations.awaits_secret(message):
            await self._conversations.discard_answer(message, notice or "")
            return
        candidates = tokens_in(message.text)
        told = await self._tokens.take_back(self._ctx(message), candidates) if candidates else None
        if told is None and self._password_call(message) is not None:
            told = await self._password.take_back(self._ctx(message))
        if told is None and not message.is_direct and self._calendar_call(message) is not None:
            await self._take_back_calendar(message)
        text = " ".join(part for part in (notice, told) if part)
        if text:
            await self._tell(message, text)

    def _password_call(self, message: IncomingMessage) -> ParsedCommand | None:
        """`/password <something>`, or a near miss of it, with something after the name."""
        parsed = parse_command(
            readable_head(message.text),
            prefixes=self._registry.prefixes,
            direct=message.is_direct,
        )
        if parsed is None or not parsed.rest:
            return None
        if parsed.key == PASSWORD_COMMAND:
            return parsed
        spec = self._registry.find(parsed.name)
        if spec is not None:
            return None  # another command that exists
        return parsed if self._registry.suggest(parsed.name) == PASSWORD_COMMAND else None

    def _calendar_call(self, message: IncomingMessage) -> ParsedCommand | None:
        """`/calendar set <something>`, or a near miss of the command's name."""
        parsed = parse_command(
            readable_head(message.text),
            prefixes=self._registry.prefixes,
            direct=message.is_direct,
        )
        if parsed is None or not parsed.rest.strip(_AROUND).casefold().startswith("set"):
            return None
        if parsed.key == CALENDAR_COMMAND:
            return parsed
        if self._registry.find(parsed.name) is not None:
            return None
        return parsed if self._registry.suggest(parsed.name) == CALENDAR_COMMAND else None

    async def _take_back_calendar(self, message: IncomingMessage) -> None:
        """A calendar address where others read it: delete it, tell the sender it leaked."""
        deleted = await self._tokens.take_back_secret(self._ctx(message))
        log.warning("took back a calendar address of %s from a room", message.sender_id)
        await self._tell(message, calendar_posted_in_room(deleted, self._tokens.prefix))

    def _intended_token(self, text: str) -> str | None:
        """The token of a DM message that gives one: alone or as `/token set <token>`, with
        anything people wrap a pasted token in around it."""
        words = text.strip(_AROUND).split()
        if len(words) == 1:
            word = words[0].strip(_AROUND)
            return word if PersonalAccessToken.looks_like(word) else None
        names = {prefix + TOKEN_COMMAND for prefix in ("", *self._registry.prefixes)}
        if len(words) == 3 and words[0].casefold() in names and words[1].casefold() == "set":
            word = words[2].strip(_AROUND)
            return word if PersonalAccessToken.looks_like(word) else None
        return None

    async def _tell(self, message: IncomingMessage, text: str) -> None:
        try:
            await self._replies.tell(message.sender_username, text, about=message.id)
        except Exception:
            log.exception("could not tell %s about a secret taken back", message.sender_id)

    @staticmethod
    def _ctx(message: IncomingMessage) -> CommandContext:
        return CommandContext.from_message(message)


def calendar_posted_in_room(deleted: bool, prefix: str) -> str:
    """What someone who posted a calendar address outside the DM is told."""
    return posted_in_room(
        deleted,
        what="a calendar address",
        renew="reset the calendar's secret address now (Google Calendar: Settings → your "
        "calendar → Integrate calendar → Reset; Outlook: Settings → Shared calendars → "
        "Reset links)",
        again=f"the new address to me here, in our direct messages: `{prefix}calendar set "
        "<ICS URL>`",
    )


def _token_set(token: str) -> ParsedCommand:
    """The command `/token set <token>`, for a token given without it."""
    return ParsedCommand(prefix="", name=TOKEN_COMMAND, argv=("set", token), rest=f"set {token}")
