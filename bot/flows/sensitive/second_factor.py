"""The second factor of a sensitive change: asking for the code Rocket.Chat wants, reading it.

Rocket.Chat asks for one on e-mail and password changes (`requireSecondFactor`, which no token
bypasses), answering `totp-required` with `details.method`. The bot asks for the authenticator
code (`totp`, or an 8-character backup code), the code the server just e-mailed (`email`;
`resend` asks the server for a new one) or the current password (`password`, passed on only as
its SHA-256 hex), and the flow sends the same change again with the code. A wrong code
(`totp-invalid`) is asked for again, three tries in all. Every answer is deleted first.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any, Final

from bot.core.credentials import SecondFactor
from bot.core.errors import RateLimited, ServerError, TwoFactorInvalid, TwoFactorRequired
from bot.core.values import WHITESPACE
from bot.flows.conversations import END, Turn

if TYPE_CHECKING:
    from bot.rocketchat.rest import RestClient

log = logging.getLogger(__name__)

SECOND_FACTOR: Final = "second_factor"  # the step, in stored conversations: never rename
MAX_CODE_TRIES: Final = 3
RESEND: Final = "resend"
METHODS: Final = ("totp", "email", "password")
_SIX_DIGITS: Final = re.compile(r"\d{6}")
_BACKUP_CODE: Final = re.compile(r"[A-Za-z0-9]{8}")

Submit = Callable[[Turn, SecondFactor], Awaitable[str]]


class SecondFactorQuestions:
    """The SECOND_FACTOR step of a sensitive flow: its questions, and reading the answers."""

    def __init__(
        self,
        rest: RestClient,
        *,
        label: str,
        again: Callable[[], str],
        delete_answer: Callable[[Turn], Awaitable[None]],
        submit: Submit,
    ) -> None:
        self._rest = rest
        self._label = label
        self._again = again
        self._delete_answer = delete_answer
        self._submit = submit

    async def ask(self, turn: Turn, exc: TwoFactorRequired) -> str:
        """Rocket.Chat wants a code: ask for the kind it names."""
        method = exc.method
        if method not in METHODS:
            log.warning("Rocket.Chat asked for an unknown second factor %r", method)
            await turn.say(
                f"Rocket.Chat asks for a kind of second factor I don't know ({method}), so I "
                f"stopped your {self._label}; nothing was changed. Please make this change in "
                "Rocket.Chat itself (avatar → My Account)."
            )
            return END
        details = exc.details if isinstance(exc.details, Mapping) else {}
        turn.data["method"] = method
        turn.data["tries"] = 0
        await turn.say(
            f"Rocket.Chat wants a second factor for your {self._label}. "
            + self.prompt(method, details)
        )
        return SECOND_FACTOR

    async def wrong(self, turn: Turn, exc: TwoFactorInvalid) -> str:
        """Rocket.Chat did not accept the code: ask again, or stop after the last try."""
        details = exc.details if isinstance(exc.details, Mapping) else {}
        method = str(details.get("method") or turn.data.get("method") or "password")
        turn.data["method"] = method
        tries = int(turn.data.get("tries", 0)) + 1
        turn.data["tries"] = tries
        what = "password" if method == "password" else "code"
        if exc.error_type == "totp-max-attempts" or tries >= MAX_CODE_TRIES:
            await turn.say(
                f"Rocket.Chat did not accept that {what} either. After {tries} wrong tries I "
                f"stopped your {self._label}: nothing was changed. {self._again()}"
            )
            return END
        await turn.say(
            f"Rocket.Chat did not accept that {what} (try {tries} of {MAX_CODE_TRIES}). "
            + self.prompt(method, details)
        )
        return SECOND_FACTOR

    async def answer(self, turn: Turn) -> str:
        """The answer to "which code?": resend, a code, or the current password."""
        method = str(turn.data.get("method", "password"))
        answer = turn.text.strip(WHITESPACE)
        if answer.casefold() == RESEND:
            return await self._resend(turn, method)
        await self._delete_answer(turn)
        code = read_code(method, answer)
        if code is None:
            tries = int(turn.data.get("tries", 0)) + 1
            turn.data["tries"] = tries
            if tries >= MAX_CODE_TRIES:
                await turn.say(
                    f"That was not a 6-digit code either. After {tries} tries I stopped your "
                    f"{self._label}: nothing was changed. {self._again()}"
                )
                return END
            await turn.say(
                f"That is not a 6-digit code (try {tries} of {MAX_CODE_TRIES}). "
                + self.prompt(method, {})
            )
            return SECOND_FACTOR
        return await self._submit(turn, SecondFactor(method=method, code=code))

    @staticmethod
    def prompt(method: str, details: Mapping[str, Any]) -> str:
        """What to send for `method`."""
        if method == "totp":
            return (
                "Send me the 6-digit code from your authenticator app (or one of your "
                "8-character backup codes). I'll delete your message right away."
            )
        if method == "email":
            fresh = (
                "Rocket.Chat has just e-mailed you a 6-digit code."
                if details.get("codeGenerated")
                else "Rocket.Chat e-mailed you a 6-digit code a little while ago; it is still "
                "valid."
            )
            return (
                f"{fresh} Send it to me here; I'll delete your message right away. No mail? "
                f"Send `{RESEND}` and I'll ask Rocket.Chat for a new code."
            )
        return (
            "Your account has no authenticator app or e-mail codes, so Rocket.Chat asks for "
            "your current password instead. Send it to me here: I'll delete your message right "
            "away and pass on only its SHA-256 hash."
        )

    async def _resend(self, turn: Turn, method: str) -> str:
        if method != "email":
            await turn.say("Only e-mailed codes can be sent again. " + self.prompt(method, {}))
            return SECOND_FACTOR
        try:
            await self._rest.request(
                "POST",
                "users.2fa.sendEmailCode",
                json={"emailOrUsername": str(turn.data.get("username", ""))},
            )
        except RateLimited as exc:
            wait = max(1, round(exc.retry_after))
            await turn.say(
                f"Rocket.Chat asks me to wait {wait} seconds before asking for another code. "
                f"Send `{RESEND}` again then, or send me the code you have."
            )
            return SECOND_FACTOR
        except ServerError as exc:
            log.info("could not ask for a new e-mail code (HTTP %s)", exc.status)
            await turn.say(
                f"I could not ask Rocket.Chat for a new code right now. Send `{RESEND}` again in "
                "a moment, or send me the code you have."
            )
            return SECOND_FACTOR
        await turn.say(
            "I asked Rocket.Chat to e-mail you a new 6-digit code; it replaces the previous one. "
            "Send it to me here when it arrives."
        )
        return SECOND_FACTOR


def read_code(method: str, answer: str) -> str | None:
    """The X-2fa-Code for `answer`, or None when it is not one for `method`."""
    if method == "password":
        return SecondFactor.from_password(answer).code if answer else None
    compact = re.sub(r"[\s-]", "", answer)
    if _SIX_DIGITS.fullmatch(compact):
        return compact
    if method == "totp" and _BACKUP_CODE.fullmatch(compact):
        return compact
    return None
