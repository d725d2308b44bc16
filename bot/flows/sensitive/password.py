"""`/password`: the new password twice (the workspace's policy checked), then the second factor.

The password is never stored. To compare the confirmation with the first new password, the
conversation keeps only an HMAC under a random key that lives in this object (so it dies with
the process); after a restart the person is asked for the new password again. The new password
itself exists only while the confirmation is handled and, when Rocket.Chat then asks for a
second factor, in memory (`_held`, never on disk) until the request with the code: two secrets
from two messages have to meet in one request. It is dropped when the conversation ends in any
way (done, refused, cancelled, expired).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Final, NoReturn

from bot.core.context import CommandContext
from bot.core.credentials import SecondFactor
from bot.core.errors import ServerError, UserError
from bot.flows.conversations import ConversationKey, Step, Turn
from bot.flows.sensitive.flow import SensitiveFlow
from bot.flows.sensitive.rules import (
    ALLOW_PASSWORD_CHANGE,
    POLICY_SETTINGS,
    join_words,
    policy_problems,
    policy_summary,
    server_policy_needs,
)
from bot.flows.sensitive.second_factor import SECOND_FACTOR
from bot.profile.changes import IN_DOUBT_WAIT_SECONDS
from bot.profile.policy import ALLOW_PROFILE_CHANGE

if TYPE_CHECKING:
    from bot.flows.conversations import Conversations
    from bot.profile.service import ProfileService
    from bot.rocketchat.rest import RestClient

log = logging.getLogger(__name__)

NEW_PASSWORD: Final = "new_password"  # step names are stored in conversations: never rename
CONFIRM_PASSWORD: Final = "confirm_password"


class PasswordChange(SensitiveFlow):
    """The password change conversation."""

    name = "password"
    label = "password change"
    thing = "password"
    command = "password"

    def __init__(
        self,
        conversations: Conversations,
        profile: ProfileService,
        rest: RestClient,
        *,
        prefix: str = "/",
        in_doubt_wait: float = IN_DOUBT_WAIT_SECONDS,
    ) -> None:
        super().__init__(conversations, profile, rest, prefix=prefix, in_doubt_wait=in_doubt_wait)
        # Dies with this object: after a restart a stored HMAC cannot be checked (by design).
        self._mac_key = secrets.token_bytes(32)
        self._mac_key_id = secrets.token_hex(8)
        self._held: dict[ConversationKey, str] = {}

    def _own_steps(self) -> dict[str, Step]:
        return {
            NEW_PASSWORD: Step(self._new_password, secret=True),
            CONFIRM_PASSWORD: Step(self._confirm_password, secret=True),
        }

    def forget(self, key: ConversationKey) -> None:
        self._held.pop(key, None)

    def _mac(self, key: ConversationKey, password: str) -> str:
        message = key.user_id.encode() + b"\0" + password.encode("utf-8")
        return hmac.new(self._mac_key, message, hashlib.sha256).hexdigest()

    # -- starting ---------------------------------------------------------------------------

    async def start(self, ctx: CommandContext, new_password: str | None) -> str:
        room_id = await self._conversations.direct_room(ctx)
        if not new_password:
            return await self._begin(ctx, room_id, None, note="")
        if not ctx.is_direct:
            await self._refuse_outside_dm(ctx)
        if await self._delete(ctx.message):
            note = "I deleted your message. "
        else:
            try:
                await self._tokens.credentials(ctx)
            except UserError as error:
                raise UserError(
                    "I could not delete your message because I can't use a token of yours: "
                    f"please delete it yourself now, it contains a password.\n{error}"
                ) from None
            note = (
                "I could not delete your message, so please delete it yourself now: it "
                "contains a password. "
            )
        try:
            return await self._begin(ctx, room_id, new_password, note=note)
        except UserError as error:
            raise UserError(note + str(error)) from None

    async def _begin(
        self, ctx: CommandContext, room_id: str, new_password: str | None, *, note: str
    ) -> str:
        settings = await self._settings(
            [ALLOW_PROFILE_CHANGE, ALLOW_PASSWORD_CHANGE, *POLICY_SETTINGS]
        )
        self._require_allowed(settings, ALLOW_PASSWORD_CHANGE)
        me = await self._me(ctx)
        services = me.get("services")
        password_service = services.get("password") if isinstance(services, Mapping) else None
        if isinstance(password_service, Mapping) and password_service.get("exists") is False:
            raise UserError(
                "Your account has no Rocket.Chat password (you sign in through another service), "
                "so there is no password I could change."
            )
        data: dict[str, Any] = {"username": str(me.get("username", ctx.sender_username))}
        if not new_password:
            summary = policy_summary(settings)
            prompt = (
                "Let's change your password. Send me the new password here, in our direct "
                "messages, as a message of its own; I'll delete it right away and never store "
                f"it.{' ' + summary if summary else ''} Send `cancel` to stop."
            )
            return await self._start(ctx, step=NEW_PASSWORD, data=data, prompt=prompt)
        needs = policy_problems(new_password, settings)
        if needs:
            prompt = note + self._policy_sentence(needs) + " Send me another new password."
            return await self._start(ctx, step=NEW_PASSWORD, data=data, prompt=prompt)
        key = ConversationKey(room_id=room_id, user_id=ctx.sender_id)
        data.update(mac=self._mac(key, new_password), mac_key=self._mac_key_id)
        prompt = note + "Send me the new password once more to confirm it."
        return await self._start(ctx, step=CONFIRM_PASSWORD, data=data, prompt=prompt)

    async def _refuse_outside_dm(self, ctx: CommandContext) -> NoReturn:
        raise UserError(await self.take_back(ctx))

    async def take_back(self, ctx: CommandContext) -> str:
        """A password written where I won't take it (a room, a group DM, or a message of the DM
        I can't use): delete the message with the sender's token and say what to do."""
        deleted = await self._delete(ctx.message)
        log.warning("took back a password written by %s", ctx.sender_id)
        if ctx.is_direct:
            cleanup = (
                "so I deleted it"
                if deleted
                else "and I could not delete it, so please delete it yourself now"
            )
            return (
                f"That message looked like `{self.prefix}password` with a password in it, "
                f"{cleanup}. To change your password, send `{self.prefix}password` alone, as a "
                "new message, and I'll ask for the new one."
            )
        cleanup = (
            "I deleted your message"
            if deleted
            else "I could not delete your message, so please delete it yourself right away"
        )
        return (
            "Please never write a password in a room: others can read it there. I did not use "
            f"it, and {cleanup}. Because it may have been seen, don't use that password: pick "
            f"another one, then send me `{self.prefix}password` here, in our direct messages, "
            "and I'll ask for it privately."
        )

    # -- steps ------------------------------------------------------------------------------

    @staticmethod
    def _policy_sentence(needs: list[str]) -> str:
        return (
            "That password does not meet this workspace's password policy: it needs "
            f"{join_words(needs)}."
        )

    @staticmethod
    def _reset(data: dict[str, Any]) -> None:
        for name in ("mac", "mac_key", "method", "tries"):
            data.pop(name, None)

    async def _new_password(self, turn: Turn) -> str:
        await self._delete_answer(turn)
        needs = policy_problems(turn.text, await self._settings(POLICY_SETTINGS))
        if needs:
            await turn.say(self._policy_sentence(needs) + " Send me another new password.")
            return NEW_PASSWORD
        turn.data.update(mac=self._mac(turn.key, turn.text), mac_key=self._mac_key_id)
        await turn.say("Got it. Now send me the new password once more to confirm it.")
        return CONFIRM_PASSWORD

    async def _confirm_password(self, turn: Turn) -> str:
        await self._delete_answer(turn)
        if turn.data.get("mac_key") != self._mac_key_id:
            self._reset(turn.data)
            await turn.say(
                "I was restarted after your first message, and I never keep passwords, so I "
                "can't compare the two. Please send me the new password again."
            )
            return NEW_PASSWORD
        if not hmac.compare_digest(str(turn.data.get("mac", "")), self._mac(turn.key, turn.text)):
            self._reset(turn.data)
            await turn.say(
                "The two passwords are not the same. Please send me the new password again."
            )
            return NEW_PASSWORD
        self._held[turn.key] = turn.text
        return await self._submit(turn)

    async def _submit(self, turn: Turn, second_factor: SecondFactor | None = None) -> str:
        next_step = await super()._submit(turn, second_factor)
        if next_step != SECOND_FACTOR:
            self._held.pop(turn.key, None)
        return next_step

    def _change(self, turn: Turn) -> dict[str, Any] | None:
        password = self._held.get(turn.key)
        return {"newPassword": password} if password else None

    def _audited(
        self, data: Mapping[str, Any], change: Mapping[str, Any]
    ) -> Mapping[str, tuple[Any, Any] | None]:
        return {"password": None}  # a secret: only the field name is kept

    async def _lost(self, turn: Turn) -> str:
        self._reset(turn.data)
        await turn.say(
            "I was restarted while waiting for your code, and I never keep passwords, so I no "
            "longer have your new password. Please send it to me again (I'll then ask for a "
            "code again)."
        )
        return NEW_PASSWORD

    def _done(self, data: Mapping[str, Any]) -> str:
        return (
            "Done: your password is changed. Rocket.Chat may sign you out of your other "
            "sessions; sign in there again with the new password."
        )

    def _landed(self, me: Mapping[str, Any], data: Mapping[str, Any]) -> bool | None:
        return None  # the bot never keeps a password, so it cannot compare one

    def _unknown(self, why: str) -> str:
        return (
            f"{why}, so I can't tell whether your password changed: I never keep passwords, so "
            "I can't check. Sign in to Rocket.Chat with the new "
            "password: if that works, it changed; if your old password still works, it did not, "
            f"and you can send `{self.prefix}password` again."
        )

    async def _refused(self, turn: Turn, exc: ServerError) -> str:
        code = exc.error_type or ""
        if code == "error-password-policy-not-met":
            needs = server_policy_needs(exc.details)
            sentence = (
                self._policy_sentence(needs)
                if needs
                else "That password does not meet this workspace's password policy."
            )
            await turn.say(f"{sentence} Send me another new password.")
        elif code == "error-password-same-as-current":
            await turn.say("That is your current password. Send me a different new password.")
        elif code == "error-password-in-history":
            await turn.say(
                "You have used that password before, and this workspace does not allow reusing "
                "it. Send me a different new password."
            )
        else:
            return await super()._refused(turn, exc)
        self._reset(turn.data)
        return NEW_PASSWORD
