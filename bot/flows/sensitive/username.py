"""`/username <name>`: checked against the workspace's rule, confirmed with a warning that
mentions of the old @name stop working."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bot.core.context import CommandContext
from bot.core.errors import ServerError, UserError
from bot.flows.conversations import Step, Turn
from bot.flows.sensitive.flow import CONFIRM, VALUE, SensitiveFlow
from bot.flows.sensitive.rules import (
    ALLOW_USERNAME_CHANGE,
    DEFAULT_USERNAME_PATTERN,
    USERNAME_PATTERN,
    NewUsername,
    username_pattern,
)
from bot.profile.policy import ALLOW_PROFILE_CHANGE


class UsernameChange(SensitiveFlow):
    """The username change conversation."""

    name = "username"
    label = "username change"
    thing = "username"
    command = "username <new username>"

    def _own_steps(self) -> dict[str, Step]:
        return {CONFIRM: Step(self._confirm), VALUE: Step(self._value)}

    async def start(self, ctx: CommandContext, username: str) -> str:
        settings = await self._settings(
            [ALLOW_PROFILE_CHANGE, ALLOW_USERNAME_CHANGE, USERNAME_PATTERN]
        )
        self._require_allowed(settings, ALLOW_USERNAME_CHANGE)
        self._check(settings, username)
        me = await self._me(ctx)
        old = str(me.get("username") or ctx.sender_username)
        if old == username:
            return f"Your username is already @{username}, so there is nothing to change."
        data = {"new": username, "old": old, "username": old}
        return await self._start(ctx, step=CONFIRM, data=data, prompt=self._question(data))

    def _check(self, settings: Mapping[str, Any], username: str) -> None:
        pattern = username_pattern(settings)
        if pattern is not None and not pattern.fullmatch(username):
            allowed = (
                "letters, digits, dots (.), dashes (-) and underscores (_)"
                if not settings.get(USERNAME_PATTERN)
                or settings.get(USERNAME_PATTERN) == DEFAULT_USERNAME_PATTERN
                else "the characters this workspace allows"
            )
            raise UserError(
                f"Usernames on this workspace may only contain {allowed}, with no spaces. "
                "Please choose another one."
            )

    def _question(self, data: Mapping[str, Any]) -> str:
        old, new = data["old"], data["new"]
        return (
            f"Change your username from @{old} to @{new}? (yes/no)\n"
            f"Heads up: mentions of @{old} and links with your old username will stop working; "
            f"people will have to use @{new}."
        )

    async def _value(self, turn: Turn) -> str:
        try:
            username = NewUsername.convert(turn.text)
            if len(username.split()) != 1:
                raise UserError("A username is one word, without spaces.")
            self._check(await self._settings([USERNAME_PATTERN]), username)
        except UserError as error:
            await turn.say(f"{error} Send me another username, or `cancel` to stop.")
            return VALUE
        if username == turn.data["old"]:
            await turn.say(f"@{username} is your username already. Send me another one.")
            return VALUE
        turn.data["new"] = str(username)
        await turn.say(self._question(turn.data))
        return CONFIRM

    def _change(self, turn: Turn) -> dict[str, Any] | None:
        return {"username": str(turn.data["new"])}

    def _done(self, data: Mapping[str, Any]) -> str:
        return (
            f"Done: you are now @{data['new']}. Mentions of @{data['old']} and links with your "
            "old username no longer lead to you."
        )

    def _landed(self, me: Mapping[str, Any], data: Mapping[str, Any]) -> bool | None:
        return str(me.get("username", "")) == str(data["new"])

    async def _refused(self, turn: Turn, exc: ServerError) -> str:
        new = turn.data["new"]
        ask = "Send me another username, or `cancel` to stop."
        if exc.error_type == "error-could-not-save-identity":
            await turn.say(
                f"Rocket.Chat could not give you @{new}: it is taken, reserved, or not allowed on "
                f"this workspace. {ask}"
            )
            return VALUE
        if exc.error_type == "error-blocked-username":
            await turn.say(f"@{new} is blocked on this workspace. {ask}")
            return VALUE
        return await super()._refused(turn, exc)
