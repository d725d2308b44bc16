"""What the e-mail, username and password flows share: reading the account, confirming, sending
the change through the one change path (bot.profile.changes) with the second factor, telling
the truth about a change whose answer never came, and deleting secret answers."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar, Final

from bot.core.context import CommandContext
from bot.core.credentials import SecondFactor
from bot.core.errors import AuthError, ServerError, TwoFactorInvalid, TwoFactorRequired, UserError
from bot.core.message import IncomingMessage
from bot.flows.conversations import END, SUBMITTED, ConversationKey, Step, Turn
from bot.flows.sensitive.second_factor import SECOND_FACTOR, SecondFactorQuestions
from bot.profile.changes import IN_DOUBT_WAIT_SECONDS
from bot.profile.model import Account, explain_rejection
from bot.profile.policy import ALLOW_PROFILE_CHANGE, is_off

if TYPE_CHECKING:
    from bot.flows.conversations import Conversations
    from bot.profile.service import ProfileService
    from bot.rocketchat.rest import RestClient
    from bot.storage.conversations import ConversationRecord

log = logging.getLogger(__name__)

CONFIRM: Final = "confirm"  # step names are stored in conversations: never rename them
VALUE: Final = "value"
YES_WORDS: Final = frozenset({"yes", "y", "yep", "yeah", "ok", "okay", "sure", "confirm"})


class SensitiveFlow:
    """The shared part of the three flows; subclasses add their steps and sentences."""

    name: ClassVar[str]
    label: ClassVar[str]  # "email change"
    article: ClassVar[str] = "a"  # as spoken: "an email change", "a username change"
    thing: ClassVar[str]  # "email address", for what Rocket.Chat refused
    command: ClassVar[str]  # "email <new address>"

    def __init__(
        self,
        conversations: Conversations,
        profile: ProfileService,
        rest: RestClient,
        *,
        prefix: str = "/",
        in_doubt_wait: float = IN_DOUBT_WAIT_SECONDS,
    ) -> None:
        self._conversations = conversations
        self._reader = profile.reader
        self._policy = profile.policy
        self._changes = profile.changes
        self._tokens = profile.tokens
        self._rest = rest
        self._in_doubt_wait = in_doubt_wait
        self.prefix = prefix
        self._factor = SecondFactorQuestions(
            rest,
            label=self.label,
            again=self._again,
            delete_answer=self._delete_answer,
            submit=self._submit,
        )
        self.steps: dict[str, Step] = {
            **self._own_steps(),
            SECOND_FACTOR: Step(self._factor.answer, secret=True),
        }

    def _own_steps(self) -> dict[str, Step]:
        raise NotImplementedError

    # -- the Flow protocol ------------------------------------------------------------------

    def restart_hint(self) -> str:
        return f"send `{self.prefix}{self.command}`"

    def forget(self, key: ConversationKey) -> None:
        """Nothing is held in memory by default."""

    async def discard(self, message: IncomingMessage) -> bool:
        return await self._delete(message)

    async def recover(self, record: ConversationRecord) -> str:
        """The change went out and the bot was stopped before it heard back: look."""
        submitted = record.data[SUBMITTED]
        landed = await self._outcome(record.key.user_id, record.data)
        return await self._settled(
            str(submitted["message"]),
            record.data,
            landed,
            why=f"I was restarted while your {self.label} was on its way to Rocket.Chat",
        )

    # -- the account and the workspace ------------------------------------------------------

    async def _me(self, ctx: CommandContext) -> dict[str, Any]:
        """The sender's own account (GET me) with their token; UserError when unusable."""
        credentials = await self._reader.credentials(ctx)
        return await self._reader.account(ctx, credentials, what="account")

    async def _settings(self, ids: list[str] | tuple[str, ...]) -> dict[str, Any]:
        """Public settings by id; {} when they cannot be read (the server still checks)."""
        return await self._policy.read(ids)

    def _require_allowed(self, settings: Mapping[str, Any], setting: str) -> None:
        if is_off(settings.get(ALLOW_PROFILE_CHANGE)):
            raise UserError(
                "An admin has turned off profile changes on this workspace, so I can't change "
                f"your {self.thing}."
            )
        if is_off(settings.get(setting)):
            raise UserError(
                f"An admin has turned off changing the {self.thing} on this workspace, so I "
                "can't change yours. Ask an admin if you need it changed."
            )

    async def _start(
        self, ctx: CommandContext, *, step: str, data: dict[str, Any], prompt: str
    ) -> str:
        return await self._conversations.start(ctx, self, step=step, data=data, prompt=prompt)

    # -- deleting secret answers ------------------------------------------------------------

    async def _delete(self, message: IncomingMessage) -> bool:
        """Delete the user's message with their own token; False when that is not possible."""
        ctx = CommandContext.from_message(message)
        try:
            credentials = await self._tokens.credentials(ctx)
            await self._rest.delete_message(
                credentials, room_id=message.room_id, message_id=message.original_id
            )
        except UserError:
            return False
        except ServerError as exc:
            log.info(
                "could not delete a secret message of %s (HTTP %s, %s)",
                ctx.sender_id,
                exc.status,
                exc.error_type,
            )
            return False
        return True

    async def _delete_answer(self, turn: Turn) -> None:
        if not await self._delete(turn.message):
            await turn.say(
                "I could not delete your last message, so please delete it yourself now: it "
                "contains a secret."
            )

    # -- confirming -------------------------------------------------------------------------

    def _question(self, data: Mapping[str, Any]) -> str:
        raise NotImplementedError

    async def _confirm(self, turn: Turn) -> str:
        """The yes/no step; `no` and `cancel` are handled by the engine."""
        if turn.text.strip().rstrip(".!").casefold() in YES_WORDS:
            return await self._submit(turn)
        await turn.say("Please answer yes or no. " + self._question(turn.data))
        return CONFIRM

    # -- sending the change -----------------------------------------------------------------

    def _change(self, turn: Turn) -> dict[str, Any] | None:
        """The `data` of users.updateOwnBasicInfo; None when it can no longer be built."""
        raise NotImplementedError

    def _done(self, data: Mapping[str, Any]) -> str:
        raise NotImplementedError

    def _landed(self, me: Mapping[str, Any], data: Mapping[str, Any]) -> bool | None:
        """Whether the account `me` shows the change of `data`; None when it cannot tell."""
        raise NotImplementedError

    async def _submit(self, turn: Turn, second_factor: SecondFactor | None = None) -> str:
        """Send the change (with the second factor, if given) and handle the answer.

        Before it goes out, the conversation is stored with SUBMITTED and the audit entry is
        written ahead, so that if the bot dies before it hears back, the next start can look
        at the account and tell the person the truth (`recover`).
        """
        change = self._change(turn)
        if change is None:
            return await self._lost(turn)
        ctx = turn.ctx
        credentials = await self._reader.credentials(ctx)
        try:
            await self._changes.submit(
                ctx,
                credentials,
                change,
                audited=self._audited(turn.data, change),
                cause=self._cause(),
                second_factor=second_factor,
                before_sending=lambda: self._checkpoint(turn),
            )
        except TwoFactorRequired as exc:
            turn.data.pop(SUBMITTED, None)
            return await self._factor.ask(turn, exc)
        except TwoFactorInvalid as exc:
            turn.data.pop(SUBMITTED, None)
            return await self._factor.wrong(turn, exc)
        except AuthError:
            turn.data.pop(SUBMITTED, None)
            raise await self._reader.rejected(ctx) from None
        except ServerError as exc:
            log.info(
                "updateOwnBasicInfo failed on a %s of %s (HTTP %s, %s)",
                self.label,
                ctx.sender_id,
                exc.status,
                exc.error_type,
            )
            turn.data.pop(SUBMITTED, None)
            if exc.may_have_applied:
                return await self._answered_late(turn, exc)
            return await self._refused(turn, exc)
        log.info("made a %s for %s", self.label, ctx.sender_id)
        turn.data.pop(SUBMITTED, None)
        await turn.say(self._done(turn.data))
        return END

    async def _checkpoint(self, turn: Turn) -> None:
        turn.data[SUBMITTED] = {"at": time.time(), "message": turn.message.id}
        await turn.checkpoint()

    async def _answered_late(self, turn: Turn, exc: ServerError) -> str:
        """Rocket.Chat did not answer: once a late copy can no longer land, look and say."""
        await asyncio.sleep(self._in_doubt_wait)
        landed = await self._outcome(turn.key.user_id, turn.data)
        if landed is False:
            await self._changes.abandon(turn.message.id)
            return await self._refused(turn, exc)
        why = f"Rocket.Chat did not answer your {self.label} in time"
        await turn.say(await self._settled(turn.message.id, turn.data, landed, why=why))
        return END

    async def _outcome(self, user_id: str, data: Mapping[str, Any]) -> bool | None:
        """Whether the submitted change of `data` is on the account now (None: can't tell)."""
        account = Account(user_id, str(data.get("username", "")))
        try:
            credentials = await self._reader.credentials(account)
            me = await self._reader.account(account, credentials, what="account")
        except UserError as exc:
            log.info("could not look at the account of %s: %s", user_id, type(exc).__name__)
            return None
        return self._landed(me, data)

    async def _settled(
        self, message_id: str, data: Mapping[str, Any], landed: bool | None, *, why: str
    ) -> str:
        """Record what became of a change whose answer never came, and say it."""
        if landed:
            await self._changes.settle(message_id, cause=self._cause())
            return self._done(data)
        if landed is False:
            await self._changes.abandon(message_id)
            return f"{why}, and it did not go through: nothing was changed. {self._again()}"
        await self._changes.settle(message_id, cause=f"{self._cause()} (outcome unknown)")
        return self._unknown(why)

    def _unknown(self, why: str) -> str:
        return (
            f"{why}, and I can't tell whether it went through. Check your account in "
            f"Rocket.Chat (avatar → My Account); {self._again().lower()}"
        )

    async def _refused(self, turn: Turn, exc: ServerError) -> str:
        """Say why Rocket.Chat refused and return the next step (ask again) or END."""
        await turn.say(f"{explain_rejection(exc, self.thing)} {self._again()}")
        return END

    async def _lost(self, turn: Turn) -> str:
        """`_change` could not be built (something the bot never stores is gone)."""
        await turn.say(
            f"I lost track of your {self.label}, so nothing was changed. {self._again()}"
        )
        return END

    def _again(self) -> str:
        return f"To try again, {self.restart_hint()}."

    def _cause(self) -> str:
        return f"command {self.prefix}{self.name}"

    def _audited(
        self, data: Mapping[str, Any], change: Mapping[str, Any]
    ) -> Mapping[str, tuple[Any, Any] | None]:
        """What the audit trail keeps of a change: old and new values (old as shown to the user)."""
        return {key: (data.get("old") or None, value) for key, value in change.items()}
