"""Sensitive changes: email, username and password, confirmed in a DM conversation and passed
through Rocket.Chat's own second factor.

Each change is a conversation flow (bot.flows.conversations) that ends in one
POST users.updateOwnBasicInfo with the user's delegated token:

    /email <address>     confirm (yes/no) → [second factor] → done
    /username <name>     confirm (yes/no) → [second factor] → done
    /password            new password → once more → [second factor] → done

An address or name the server refuses (taken, invalid) is asked for again (step `value`); a
password the server refuses (policy, same as now, used before) too (step `new_password`).

The second factor: Rocket.Chat asks for it on email and password changes (`requireSecondFactor`,
which no token bypasses), answering `totp-required` with `details.method`. The bot asks for the
authenticator code (`totp`), the code the server just e-mailed (`email`; `resend` asks the server
for a new one) or the current password (`password`, sent as its SHA-256 hex), and sends the same
change again with `X-2fa-Code`/`X-2fa-Method` headers, which work for every method
(`data.currentPassword` only for users without TOTP or e-mail codes). A wrong code
(`totp-invalid`) is asked for again, three tries in all.

Secrets: every answer that holds a password or a code is deleted with the user's token as soon
as it is read, and no prompt repeats it. Nothing secret is stored or logged. To compare the
confirmation with the first new password, the record keeps only an HMAC under a random key that
lives in this object (so it dies with the process); after a restart the user is asked for the
new password again. The new password itself exists only while the confirmation is handled,
and, when Rocket.Chat then asks for a second factor, in memory (`_held`, never on disk) until
the request with the code: two secrets from two messages have to meet in one request. It is
dropped when the conversation ends in any way (done, refused, cancelled, expired).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import re
import secrets
import time
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any, ClassVar, Final, NoReturn, Self

from bot.core.context import CommandContext
from bot.core.credentials import SecondFactor
from bot.core.errors import (
    AuthError,
    RateLimited,
    ServerError,
    TwoFactorInvalid,
    TwoFactorRequired,
    UsageError,
    UserError,
)
from bot.core.message import IncomingMessage
from bot.core.values import WHITESPACE
from bot.flows.conversations import END, SUBMITTED, ConversationKey, Step, Turn
from bot.profile.service import ALLOW_PROFILE_CHANGE, IN_DOUBT_WAIT_SECONDS, explain_rejection

if TYPE_CHECKING:
    from bot.flows.conversations import Conversations
    from bot.profile.audit import AuditLog
    from bot.profile.tokens import TokenService
    from bot.rocketchat.rest import RestClient
    from bot.storage.conversations import ConversationRecord

log = logging.getLogger(__name__)

CONFIRM: Final = "confirm"
VALUE: Final = "value"
SECOND_FACTOR: Final = "second_factor"
NEW_PASSWORD: Final = "new_password"
CONFIRM_PASSWORD: Final = "confirm_password"
MAX_CODE_TRIES: Final = 3
YES_WORDS: Final = frozenset({"yes", "y", "yep", "yeah", "ok", "okay", "sure", "confirm"})
RESEND: Final = "resend"

ALLOW_USERNAME_CHANGE: Final = "Accounts_AllowUsernameChange"
ALLOW_EMAIL_CHANGE: Final = "Accounts_AllowEmailChange"
ALLOW_PASSWORD_CHANGE: Final = "Accounts_AllowPasswordChange"
USERNAME_PATTERN: Final = "UTF8_User_Names_Validation"
DEFAULT_USERNAME_PATTERN: Final = "[0-9a-zA-Z-_.]+"
_POLICY: Final = "Accounts_Password_Policy_"
POLICY_SETTINGS: Final = tuple(
    _POLICY + name
    for name in (
        "Enabled",
        "MinLength",
        "MaxLength",
        "ForbidRepeatingCharacters",
        "ForbidRepeatingCharactersCount",
        "AtLeastOneLowercase",
        "AtLeastOneUppercase",
        "AtLeastOneNumber",
        "AtLeastOneSpecialCharacter",
    )
)

# Rocket.Chat's validateEmail (packages/tools).
_EMAIL: Final = re.compile(
    r"(([^<>()\[\]\\.,;:\s@\"]+(\.[^<>()\[\]\\.,;:\s@\"]+)*)|(\".+\"))@"
    r"((\[[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}])|(([a-zA-Z\-0-9]+\.)+[a-zA-Z]{2,}))"
)
_SIX_DIGITS: Final = re.compile(r"\d{6}")
_BACKUP_CODE: Final = re.compile(r"[A-Za-z0-9]{8}")


# -- converters for the commands -------------------------------------------------------------


class EmailAddress(str):
    """A new e-mail address, checked the way Rocket.Chat checks it."""

    metavar: ClassVar[str] = "new address"

    @classmethod
    def convert(cls, raw: str) -> Self:
        value = raw.strip(WHITESPACE).strip("<>")
        value = value.removeprefix("mailto:")
        if len(value) > 254 or not _EMAIL.fullmatch(value):
            raise UsageError(
                "That is not an e-mail address I can use: write it like name@example.com."
            )
        return cls(value)


class NewUsername(str):
    """A new username, without the @ people often type in front of it."""

    metavar: ClassVar[str] = "new username"

    @classmethod
    def convert(cls, raw: str) -> Self:
        value = raw.strip(WHITESPACE).removeprefix("@")
        if not value:
            raise UsageError("The new username is missing.")
        return cls(value)


# -- small helpers ---------------------------------------------------------------------------


def mask_email(address: str) -> str:
    """alice@example.com → a…@e….com: enough to recognise it, not to read it."""
    local, _, domain = address.partition("@")
    name, dot, top = domain.rpartition(".")
    if not local or not name:
        return "…"
    return f"{local[:1]}…@{name[:1]}…{dot}{top}"


def sha256_hex(text: str) -> str:
    """The password 2FA method's code: the SHA-256 hex of the UTF-8 password."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _turned_off(value: Any) -> bool:
    """Only an explicit false counts; an unknown setting is left to the server."""
    return value is False or (isinstance(value, str) and value.strip().lower() == "false")


def _int(value: Any, default: int) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


def _join(parts: list[str]) -> str:
    if len(parts) <= 1:
        return "".join(parts)
    return ", ".join(parts[:-1]) + " and " + parts[-1]


def policy_problems(password: str, settings: Mapping[str, Any]) -> list[str]:
    """What `password` lacks under the workspace's password policy (Rocket.Chat's rules), as
    phrases that complete "it needs …"; [] when it passes or the policy is unknown or off."""
    if not settings.get(_POLICY + "Enabled"):
        return []
    needs: list[str] = []
    minimum = _int(settings.get(_POLICY + "MinLength"), -1)
    maximum = _int(settings.get(_POLICY + "MaxLength"), -1)
    if minimum >= 1 and len(password) < minimum:
        needs.append(f"at least {minimum} characters")
    if maximum >= 1 and len(password) > maximum:
        needs.append(f"at most {maximum} characters")
    repeat = _int(settings.get(_POLICY + "ForbidRepeatingCharactersCount"), 3)
    if settings.get(_POLICY + "ForbidRepeatingCharacters") and re.search(
        rf"(.)\1{{{repeat},}}", password
    ):
        needs.append(f"no character more than {repeat} times in a row")
    for setting, pattern, phrase in (
        ("AtLeastOneLowercase", "[a-z]", "a lowercase letter"),
        ("AtLeastOneUppercase", "[A-Z]", "an uppercase letter"),
        ("AtLeastOneNumber", "[0-9]", "a digit"),
        ("AtLeastOneSpecialCharacter", "[^A-Za-z0-9 ]", "a special character such as ! or #"),
    ):
        if settings.get(_POLICY + setting) and not re.search(pattern, password):
            needs.append(phrase)
    return needs


def policy_summary(settings: Mapping[str, Any]) -> str:
    """The policy in one sentence (empty when it is off or unknown)."""
    if not settings.get(_POLICY + "Enabled"):
        return ""
    needs = policy_problems("", {**settings, _POLICY + "MaxLength": -1})
    return f"This workspace wants {_join(needs)}." if needs else ""


_SERVER_POLICY_RULES: Final = {
    "minLength": "more characters",
    "maxLength": "fewer characters",
    "repeatingCharacters": "fewer repeated characters in a row",
    "oneLowercase": "a lowercase letter",
    "oneUppercase": "an uppercase letter",
    "oneNumber": "a digit",
    "oneSpecial": "a special character such as ! or #",
}


def _server_policy_needs(details: Any) -> list[str]:
    """The phrases for Rocket.Chat's error-password-policy-not-met details."""
    needs: list[str] = []
    for item in details if isinstance(details, list) else []:
        error = str(item.get("error", "")) if isinstance(item, Mapping) else ""
        rule = error.removeprefix("error-password-policy-not-met-")
        if rule in _SERVER_POLICY_RULES:
            needs.append(_SERVER_POLICY_RULES[rule])
    return needs


def username_pattern(settings: Mapping[str, Any]) -> re.Pattern[str] | None:
    """The workspace's username rule (UTF8_User_Names_Validation), or None if unusable here."""
    raw = settings.get(USERNAME_PATTERN)
    pattern = raw if isinstance(raw, str) and raw else DEFAULT_USERNAME_PATTERN
    try:
        return re.compile(f"(?:{pattern})")
    except re.error:
        return None  # a JavaScript-only construct: leave the check to the server


def _current_email(me: Mapping[str, Any]) -> str:
    """The account's (first) e-mail address, or "" when it has none."""
    emails = me.get("emails")
    first = emails[0] if isinstance(emails, list) and emails else None
    return str(first.get("address", "")) if isinstance(first, Mapping) else ""


# -- the flows -------------------------------------------------------------------------------


class SensitiveFlow:
    """What the three flows share: reading the account, confirming, sending the change with the
    second factor, deleting secret answers. Subclasses add their steps and sentences."""

    name: ClassVar[str]
    label: ClassVar[str]  # "email change"
    article: ClassVar[str] = "a"  # as spoken: "an email change", "a username change"
    thing: ClassVar[str]  # "email address", for explain_rejection
    command: ClassVar[str]  # "email <new address>"

    def __init__(
        self,
        conversations: Conversations,
        rest: RestClient,
        tokens: TokenService,
        *,
        prefix: str = "/",
        audit: AuditLog | None = None,
        in_doubt_wait: float = IN_DOUBT_WAIT_SECONDS,
    ) -> None:
        self._conversations = conversations
        self._rest = rest
        self._tokens = tokens
        self._audit = audit
        self._in_doubt_wait = in_doubt_wait
        self.prefix = prefix
        self.steps: dict[str, Step] = {
            **self._own_steps(),
            SECOND_FACTOR: Step(self._second_factor, secret=True),
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

    # -- reading the account and the workspace ----------------------------------------------

    async def _me(self, ctx: CommandContext) -> dict[str, Any]:
        """The sender's own account (GET me) with their token; UserError when unusable."""
        credentials = await self._tokens.credentials(ctx)
        try:
            me = await self._rest.me(credentials)
        except AuthError:
            raise await self._tokens.rejected(ctx) from None
        except ServerError as exc:
            log.info("could not read the account of %s (HTTP %s)", ctx.sender_id, exc.status)
            raise UserError(
                "I could not read your account from Rocket.Chat right now, so nothing was "
                "changed. Please try again in a moment."
            ) from None
        if me.get("_id") != ctx.sender_id:
            raise await self._tokens.rejected(ctx)
        return me

    async def _settings(self, ids: Iterable[str]) -> dict[str, Any]:
        """Public settings by id; {} when they cannot be read (the server still checks)."""
        try:
            return await self._rest.public_settings(list(ids))
        except ServerError as exc:
            log.warning("could not read the public settings (HTTP %s)", exc.status)
            return {}

    def _require_allowed(self, settings: Mapping[str, Any], setting: str) -> None:
        if _turned_off(settings.get(ALLOW_PROFILE_CHANGE)):
            raise UserError(
                "An admin has turned off profile changes on this workspace, so I can't change "
                f"your {self.thing}."
            )
        if _turned_off(settings.get(setting)):
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

    async def _outcome(self, user_id: str, data: Mapping[str, Any]) -> bool | None:
        """Whether the submitted change of `data` is on the account now (None: can't tell)."""
        try:
            credentials = await self._tokens.credentials_for(user_id)
            me = await self._rest.me(credentials)
        except (UserError, ServerError) as exc:
            log.info("could not look at the account of %s: %s", user_id, type(exc).__name__)
            return None
        if me.get("_id") != user_id:
            return None
        return self._landed(me, data)

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
        credentials = await self._tokens.credentials(ctx)
        message_id = turn.message.id
        await self._write_ahead(turn, change)
        try:
            await self._rest.update_own_basic_info(
                credentials, data=change, second_factor=second_factor
            )
        except TwoFactorRequired as exc:
            await self._not_made(turn)
            return await self._ask_second_factor(turn, exc)
        except TwoFactorInvalid as exc:
            await self._not_made(turn)
            return await self._wrong_code(turn, exc)
        except AuthError:
            await self._not_made(turn)
            raise await self._tokens.rejected(ctx) from None
        except ServerError as exc:
            log.info(
                "updateOwnBasicInfo failed on a %s of %s (HTTP %s, %s)",
                self.label,
                ctx.sender_id,
                exc.status,
                exc.error_type,
            )
            if exc.may_have_applied:
                await asyncio.sleep(self._in_doubt_wait)  # a late copy may still land
                landed = await self._outcome(ctx.sender_id, turn.data)
                if landed is not False:
                    turn.data.pop(SUBMITTED, None)
                    await turn.say(
                        await self._settled(
                            message_id,
                            turn.data,
                            landed,
                            why=f"Rocket.Chat did not answer your {self.label} in time",
                        )
                    )
                    return END
            await self._not_made(turn)
            return await self._refused(turn, exc)
        log.info("made a %s for %s", self.label, ctx.sender_id)
        turn.data.pop(SUBMITTED, None)
        if self._audit is not None:
            await self._audit.settle(message_id, cause=self._cause())
        await turn.say(self._done(turn.data))
        return END

    async def _write_ahead(self, turn: Turn, change: Mapping[str, Any]) -> None:
        turn.data[SUBMITTED] = {"at": time.time(), "message": turn.message.id}
        if self._audit is not None:
            await self._audit.intend(
                turn.message.id,
                user_id=turn.key.user_id,
                username=turn.message.sender_username,
                changes=self._audited(turn.data, change),
                cause=self._cause(),
            )
        await turn.checkpoint()

    async def _not_made(self, turn: Turn) -> None:
        """Rocket.Chat answered, and the change was not made."""
        turn.data.pop(SUBMITTED, None)
        if self._audit is not None:
            await self._audit.abandon(turn.message.id)

    async def _settled(
        self, message_id: str, data: Mapping[str, Any], landed: bool | None, *, why: str
    ) -> str:
        """Record what became of a change whose answer never came, and say it."""
        if landed:
            if self._audit is not None:
                await self._audit.settle(message_id, cause=self._cause())
            return self._done(data)
        if landed is False:
            if self._audit is not None:
                await self._audit.abandon(message_id)
            return f"{why}, and it did not go through: nothing was changed. {self._again()}"
        if self._audit is not None:
            await self._audit.settle(message_id, cause=f"{self._cause()} (outcome unknown)")
        return self._unknown(why)

    def _unknown(self, why: str) -> str:
        return (
            f"{why}, and I can't tell whether it went through. Check your account in "
            f"Rocket.Chat (avatar → My Account); {self._again().lower()}"
        )

    def _cause(self) -> str:
        return f"command {self.prefix}{self.name}"

    def _audited(
        self, data: Mapping[str, Any], change: Mapping[str, Any]
    ) -> Mapping[str, tuple[Any, Any] | None]:
        """What the audit trail keeps of a change: old and new values (old as shown to the user)."""
        return {key: (data.get("old") or None, value) for key, value in change.items()}

    # -- the second factor ------------------------------------------------------------------

    def _code_prompt(self, method: str, details: Mapping[str, Any]) -> str:
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

    async def _ask_second_factor(self, turn: Turn, exc: TwoFactorRequired) -> str:
        method = exc.method
        if method not in ("totp", "email", "password"):
            log.warning("Rocket.Chat asked for an unknown second factor %r", method)
            await turn.say(
                f"Rocket.Chat asks for a kind of second factor I don't know ({method}), so I "
                f"stopped your {self.label}; nothing was changed. Please make this change in "
                "Rocket.Chat itself (avatar → My Account)."
            )
            return END
        details = exc.details if isinstance(exc.details, Mapping) else {}
        turn.data["method"] = method
        turn.data["tries"] = 0
        await turn.say(
            f"Rocket.Chat wants a second factor for your {self.label}. "
            + self._code_prompt(method, details)
        )
        return SECOND_FACTOR

    async def _wrong_code(self, turn: Turn, exc: TwoFactorInvalid) -> str:
        details = exc.details if isinstance(exc.details, Mapping) else {}
        method = str(details.get("method") or turn.data.get("method") or "password")
        turn.data["method"] = method
        tries = int(turn.data.get("tries", 0)) + 1
        turn.data["tries"] = tries
        what = "password" if method == "password" else "code"
        if exc.error_type == "totp-max-attempts" or tries >= MAX_CODE_TRIES:
            await turn.say(
                f"Rocket.Chat did not accept that {what} either. After {tries} wrong tries I "
                f"stopped your {self.label}: nothing was changed. {self._again()}"
            )
            return END
        await turn.say(
            f"Rocket.Chat did not accept that {what} (try {tries} of {MAX_CODE_TRIES}). "
            + self._code_prompt(method, details)
        )
        return SECOND_FACTOR

    async def _second_factor(self, turn: Turn) -> str:
        """The answer to "which code?": resend, a code, or the current password."""
        method = str(turn.data.get("method", "password"))
        answer = turn.text.strip(WHITESPACE)
        if answer.casefold() == RESEND:
            return await self._resend(turn, method)
        await self._delete_answer(turn)
        code = self._read_code(method, answer)
        if code is None:
            tries = int(turn.data.get("tries", 0)) + 1
            turn.data["tries"] = tries
            if tries >= MAX_CODE_TRIES:
                await turn.say(
                    f"That was not a 6-digit code either. After {tries} tries I stopped your "
                    f"{self.label}: nothing was changed. {self._again()}"
                )
                return END
            await turn.say(
                "That is not a 6-digit code (try "
                f"{tries} of {MAX_CODE_TRIES}). " + self._code_prompt(method, {})
            )
            return SECOND_FACTOR
        return await self._submit(turn, SecondFactor(method=method, code=code))

    @staticmethod
    def _read_code(method: str, answer: str) -> str | None:
        if method == "password":
            return sha256_hex(answer) if answer else None
        compact = re.sub(r"[\s-]", "", answer)
        if _SIX_DIGITS.fullmatch(compact):
            return compact
        if method == "totp" and _BACKUP_CODE.fullmatch(compact):
            return compact
        return None

    async def _resend(self, turn: Turn, method: str) -> str:
        if method != "email":
            await turn.say(
                "Only e-mailed codes can be sent again. " + self._code_prompt(method, {})
            )
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


class EmailChange(SensitiveFlow):
    """`/email <address>`: confirm, second factor, done (the new address is unverified)."""

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
        current = _current_email(me)
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
        return _current_email(me).casefold() == str(data["email"]).casefold()

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


class UsernameChange(SensitiveFlow):
    """`/username <name>`: checked against the workspace's rule, confirmed with a warning."""

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


class PasswordChange(SensitiveFlow):
    """`/password`: the new password twice (policy checked), then the second factor."""

    name = "password"
    label = "password change"
    thing = "password"
    command = "password"

    def __init__(
        self,
        conversations: Conversations,
        rest: RestClient,
        tokens: TokenService,
        *,
        prefix: str = "/",
        audit: AuditLog | None = None,
        in_doubt_wait: float = IN_DOUBT_WAIT_SECONDS,
    ) -> None:
        super().__init__(
            conversations, rest, tokens, prefix=prefix, audit=audit, in_doubt_wait=in_doubt_wait
        )
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
            f"{_join(needs)}."
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
            needs = _server_policy_needs(exc.details)
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


class SensitiveChanges:
    """The `/email`, `/username` and `/password` commands' service (injected as `sensitive`)."""

    def __init__(
        self,
        conversations: Conversations,
        rest: RestClient,
        tokens: TokenService,
        *,
        prefix: str = "/",
        audit: AuditLog | None = None,
        in_doubt_wait: float = IN_DOUBT_WAIT_SECONDS,
    ) -> None:
        shared: dict[str, Any] = {"prefix": prefix, "audit": audit, "in_doubt_wait": in_doubt_wait}
        self.email = EmailChange(conversations, rest, tokens, **shared)
        self.username = UsernameChange(conversations, rest, tokens, **shared)
        self.password = PasswordChange(conversations, rest, tokens, **shared)
        for flow in (self.email, self.username, self.password):
            conversations.add_flow(flow)

    async def start_email(self, ctx: CommandContext, address: str) -> str:
        """Ask the sender to confirm changing their email address to `address` (UsageError
        when it is not an address)."""
        return await self.email.start(ctx, EmailAddress.convert(address))

    async def start_username(self, ctx: CommandContext, username: str) -> str:
        """Ask the sender to confirm changing their username to `username`."""
        return await self.username.start(ctx, NewUsername.convert(username))

    async def start_password(self, ctx: CommandContext, new_password: str | None) -> str:
        """Ask for a new password in the DM (`new_password` is only accepted in the DM)."""
        return await self.password.start(ctx, new_password)
