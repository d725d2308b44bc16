"""`/email <address>`: confirm, second factor, done (the new address stays unverified until its
owner clicks the link Rocket.Chat sends to it)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bot.core.context import CommandContext
from bot.core.errors import ServerError, UsageError
from bot.flows.conversations import Step, Turn
from bot.flows.sensitive.flow import CONFIRM, VALUE, SensitiveFlow
from bot.flows.sensitive.rules import ALLOW_EMAIL_CHANGE, EmailAddress, current_email, mask_email
from bot.profile.policy import ALLOW_PROFILE_CHANGE


class EmailChange(SensitiveFlow):
    """The e-mail change conversation."""

    name = "email"
    label = "email change"
    article = "an"
    thing = "email address"
    command = "email <new address>"

    def _own_steps(self) -> dict[str, Step]:
        return {CONFIRM: Step(self._confirm), VALUE: Step(self._value)}

    async def start(self, ctx: CommandContext, address: str) -> str:
        settings = await self._settings([ALLOW_PROFILE_CHANGE, ALLOW_EMAIL_CHANGE])
        self._require_allowed(settings, ALLOW_EMAIL_CHANGE)
        me = await self._me(ctx)
        current = current_email(me)
        if current and current.casefold() == address.casefold():
            return f"{address} is already your email address, so there is nothing to change."
        data = {
            "email": address,
            "old": mask_email(current) if current else "",
            "username": str(me.get("username", ctx.sender_username)),
        }
        return await self._start(ctx, step=CONFIRM, data=data, prompt=self._question(data))

    def _question(self, data: Mapping[str, Any]) -> str:
        old = f"from {data['old']} " if data.get("old") else ""
        return (
            f"Change your email address {old}to {data['email']}? (yes/no)\n"
            "Rocket.Chat will then ask you for a second factor, and the new address stays "
            "unverified until you click the link Rocket.Chat sends to it."
        )

    async def _value(self, turn: Turn) -> str:
        try:
            address = EmailAddress.convert(turn.text)
        except UsageError as error:
            await turn.say(f"{error} Or send `cancel` to stop.")
            return VALUE
        turn.data["email"] = str(address)
        await turn.say(self._question(turn.data))
        return CONFIRM

    def _change(self, turn: Turn) -> dict[str, Any] | None:
        return {"email": str(turn.data["email"])}

    def _done(self, data: Mapping[str, Any]) -> str:
        return (
            f"Done: your email address is now {data['email']}. Rocket.Chat sent a link to "
            "it: click it to verify the address. Until then it counts as unverified, so "
            "e-mailed login codes can't go there."
        )

    def _landed(self, me: Mapping[str, Any], data: Mapping[str, Any]) -> bool | None:
        return current_email(me).casefold() == str(data["email"]).casefold()

    async def _refused(self, turn: Turn, exc: ServerError) -> str:
        address = turn.data["email"]
        ask = "Send me another address, or `cancel` to stop."
        code = exc.error_type or ""
        if code == "error-field-unavailable":
            await turn.say(f"Rocket.Chat says {address} is already used by another account. {ask}")
            return VALUE
        if code == "error-invalid-email":
            await turn.say(f"Rocket.Chat does not accept {address} as an e-mail address. {ask}")
            return VALUE
        if code in ("error-invalid-domain", "error-email-domain-blacklisted"):
            await turn.say(
                f"Rocket.Chat does not accept addresses at that domain on this workspace. {ask}"
            )
            return VALUE
        return await super()._refused(turn, exc)
