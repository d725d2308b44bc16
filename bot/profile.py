"""The sender's profile: read it with their token, change it through users.updateOwnBasicInfo.

Each change runs with the sender's delegated token and goes through the same steps: the
workspace settings that could forbid it (public settings, cached for a short while), the
field's own rules (bot.fields), the current value (a change to the value the field already has
is answered without a call), then one POST users.updateOwnBasicInfo. Whatever the server still
rejects becomes a sentence about that field (`explain_rejection`); a 401 marks the token invalid.

Clearing: Rocket.Chat ignores an empty nickname (and older servers an empty bio), so a single
space is sent instead; the server trims it to nothing and removes the field, on every version.
Custom fields: the server replaces the whole object, so the current fields are sent back with
only the named one changed.
"""

from __future__ import annotations

import difflib
import logging
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final

from bot.context import CommandContext
from bot.converters import StatusType
from bot.errors import AuthError, RateLimited, ServerError, TwoFactorRequired, UserError
from bot.fields import (
    CustomFieldRule,
    check_custom_field,
    find_field,
    other_field_problems,
    parse_custom_field_rules,
)
from bot.rest import Credentials
from bot.tokens import TokenService

if TYPE_CHECKING:
    from bot.config import BotSettings
    from bot.rest import RestClient
    from bot.store import Store

log = logging.getLogger(__name__)

ALLOW_PROFILE_CHANGE: Final = "Accounts_AllowUserProfileChange"
ALLOW_NAME_CHANGE: Final = "Accounts_AllowRealNameChange"
ALLOW_STATUS_MESSAGE_CHANGE: Final = "Accounts_AllowUserStatusMessageChange"
ALLOW_INVISIBLE: Final = "Accounts_AllowInvisibleStatusOption"
CUSTOM_FIELDS: Final = "Accounts_CustomFields"
PROFILE_SETTINGS: Final = (
    ALLOW_PROFILE_CHANGE,
    ALLOW_NAME_CHANGE,
    ALLOW_STATUS_MESSAGE_CHANGE,
    ALLOW_INVISIBLE,
    CUSTOM_FIELDS,
)
SETTINGS_TTL_SECONDS: Final = 30.0
CLEARED: Final = " "  # see the module docstring


@dataclass(frozen=True)
class Profile:
    """What `/profile` shows of a user, read from `GET me` (never e-mails or tokens)."""

    user_id: str
    username: str
    name: str = ""
    presence: str = "offline"
    status_text: str = ""
    nickname: str = ""
    bio: str = ""
    custom_fields: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def from_user(cls, user: Mapping[str, Any]) -> Profile:
        """Read a Rocket.Chat user object; `statusDefault` (the chosen presence) wins."""
        custom = user.get("customFields")
        return cls(
            user_id=str(user.get("_id", "")),
            username=str(user.get("username", "")),
            name=_text(user.get("name")),
            presence=_text(user.get("statusDefault") or user.get("status")) or "offline",
            status_text=_text(user.get("statusText")),
            nickname=_text(user.get("nickname")),
            bio=_text(user.get("bio")),
            custom_fields=dict(custom) if isinstance(custom, Mapping) else {},
        )


def _is_off(value: Any) -> bool:
    """True only for a setting that is explicitly off (unknown settings are left to the server)."""
    return value is False or (isinstance(value, str) and value.strip().lower() == "false")


def _text(value: Any) -> str:
    return value.strip() if isinstance(value, str) else ""


@dataclass(frozen=True)
class FieldChange:
    """The outcome of one change: the field (a custom field's name), its value before and after,
    and whether a change was sent."""

    label: str
    before: str
    after: str
    changed: bool


@dataclass(frozen=True)
class StatusChange:
    """The outcome of `/status`: presence and text before and after, and whether it was sent."""

    presence: str
    text: str
    previous_presence: str
    previous_text: str
    changed: bool


_CUSTOM_FIELD_ERRORS: Final = (
    (re.compile(r"Field (\S+) is required"), "the field {0} is required and empty."),
    (re.compile(r"Value for field (\S+) is invalid"), "the value of the field {0} is not valid."),
    (
        re.compile(r"Max length of field (\S+) (\d+)"),
        "the field {0} may have at most {1} characters.",
    ),
    (
        re.compile(r"Min length of field (\S+) (\d+)"),
        "the field {0} needs at least {1} characters.",
    ),
)


def explain_rejection(exc: ServerError, label: str) -> UserError:
    """A sentence about `label` (e.g. "nickname") for an error from users.updateOwnBasicInfo."""
    code = exc.error_type or ""
    text = str(exc)
    if isinstance(exc, RateLimited) or code == "error-too-many-requests":
        wait = max(1, round(getattr(exc, "retry_after", 60)))
        return UserError(
            f"Rocket.Chat says you are changing your {label} too often. Please try again in "
            f"{wait} seconds."
        )
    if isinstance(exc, TwoFactorRequired):
        return UserError(
            f"Rocket.Chat wants a two-factor code to change your {label}, which I can't give it. "
            "Nothing was changed."
        )
    if code in ("error-not-allowed", "error-action-not-allowed"):
        return UserError(
            f"Rocket.Chat does not allow changing your {label} on this workspace (an admin has "
            "turned it off)."
        )
    if code == "error-bio-size-exceeded":
        return UserError(
            "Rocket.Chat says your bio is too long: it allows at most 260 characters."
        )
    if code == "error-nickname-size-exceeded":
        return UserError(
            "Rocket.Chat says your nickname is too long: it allows at most 120 characters."
        )
    if code == "error-status-not-allowed":
        return UserError(
            "This workspace does not allow the invisible (offline) status. Choose online, away "
            "or busy instead."
        )
    if code == "error-could-not-save-identity":
        return UserError(
            f"Rocket.Chat could not save that {label}. It may be empty, or not allowed on this "
            "workspace; please try another one."
        )
    if "Name contains invalid characters" in text:
        return UserError(
            "Rocket.Chat does not accept display names with the characters < > \\ or /. Please "
            "choose a name without them."
        )
    if code == "error-user-registration-custom-field":
        for pattern, sentence in _CUSTOM_FIELD_ERRORS:
            if match := pattern.search(text):
                reason = sentence.format(*match.groups())
                return UserError(f"Rocket.Chat refused the change: {reason} Nothing was changed.")
        return UserError(f"Rocket.Chat refused the value for your {label}. Nothing was changed.")
    if code == "error-invalid-customfield-json":
        return UserError(
            "This workspace's custom field settings are broken, so Rocket.Chat can't save custom "
            "fields right now. Please tell an admin."
        )
    if code == "invalid-params":
        return UserError(
            f"Rocket.Chat did not understand the request to change your {label}. This server may "
            "be too old for it (bio and presence need Rocket.Chat 6.4 or newer)."
        )
    if exc.status >= 500 or exc.status == 0:
        return UserError(
            f"Rocket.Chat could not be reached or had a problem, so your {label} was not "
            "changed. Please try again in a moment."
        )
    return UserError(
        f"Rocket.Chat refused to change your {label}. Nothing was changed; please check the "
        "value, or ask an admin if it keeps happening."
    )


class ProfileService:
    """Reads and changes the sender's own profile with their delegated token."""

    def __init__(
        self,
        store: Store,
        rest: RestClient,
        settings: BotSettings | None = None,
        *,
        tokens: TokenService | None = None,
        clock: Callable[[], float] = time.monotonic,
        settings_ttl: float = SETTINGS_TTL_SECONDS,
    ) -> None:
        prefixes = list(getattr(settings, "prefixes", None) or ["/"])
        self.prefix = str(prefixes[0])
        self._rest = rest
        self._tokens = tokens or TokenService(store, rest, prefix=self.prefix)
        self._clock = clock
        self._ttl = settings_ttl
        self._cached: tuple[float, dict[str, Any]] | None = None

    # -- reading ----------------------------------------------------------------------------

    async def current(self, ctx: CommandContext) -> Profile:
        """The sender's profile as Rocket.Chat has it now."""
        credentials = await self._tokens.credentials(ctx)
        return await self._read(ctx, credentials)

    async def _read(self, ctx: CommandContext, credentials: Credentials) -> Profile:
        try:
            user = await self._rest.me(credentials)
        except AuthError:
            raise await self._tokens.rejected(ctx) from None
        except ServerError as exc:
            log.info("could not read the profile of %s (HTTP %s)", ctx.sender_id, exc.status)
            raise UserError(
                "I could not read your profile from Rocket.Chat right now, so nothing was "
                "changed. Please try again in a moment."
            ) from None
        if user.get("_id") != ctx.sender_id:
            raise await self._tokens.rejected(ctx)
        return Profile.from_user(user)

    async def workspace_settings(self) -> dict[str, Any]:
        """The public settings that govern profile changes; {} entries when unknown.

        Cached for a short while; when they cannot be read, the checks are left to the server.
        """
        now = self._clock()
        if self._cached is not None and now - self._cached[0] < self._ttl:
            return self._cached[1]
        try:
            values = await self._rest.public_settings(list(PROFILE_SETTINGS))
        except ServerError as exc:
            log.warning("could not read the public settings (HTTP %s)", exc.status)
            return {}
        self._cached = (now, dict(values))
        return self._cached[1]

    async def custom_field_rules(self) -> dict[str, CustomFieldRule]:
        """The custom fields the workspace defines (Accounts_CustomFields)."""
        settings = await self.workspace_settings()
        if CUSTOM_FIELDS not in settings:
            raise UserError(
                "I could not read this workspace's custom field definitions right now. "
                "Please try again in a moment."
            )
        return parse_custom_field_rules(settings[CUSTOM_FIELDS])

    # -- changing ---------------------------------------------------------------------------

    async def set_status(
        self, ctx: CommandContext, *, presence: StatusType | None, text: str | None
    ) -> StatusChange:
        """Set the presence and/or the status text (None keeps it, "" clears the text)."""
        credentials = await self._tokens.credentials(ctx)
        settings = await self.workspace_settings()
        self._require(settings, ALLOW_PROFILE_CHANGE, "status")
        if text is not None and _is_off(settings.get(ALLOW_STATUS_MESSAGE_CHANGE)):
            keep = (
                f" You can still change your presence alone: `{self.prefix}status {presence}`."
                if presence
                else ""
            )
            raise UserError(
                "An admin has turned off status messages on this workspace, so I can't change "
                f"your status text.{keep}"
            )
        if presence is StatusType.OFFLINE and _is_off(settings.get(ALLOW_INVISIBLE)):
            raise UserError(
                "This workspace does not allow the invisible (offline) status. Choose online, "
                "away or busy instead."
            )
        profile = await self._read(ctx, credentials)
        new_presence = presence.value if presence is not None else profile.presence
        new_text = text if text is not None else profile.status_text
        data: dict[str, Any] = {}
        if new_presence != profile.presence:
            data["statusType"] = new_presence
        if new_text != profile.status_text:
            data["statusText"] = new_text
        if data:
            await self._update(ctx, credentials, "status", data)
        return StatusChange(
            presence=new_presence,
            text=new_text,
            previous_presence=profile.presence,
            previous_text=profile.status_text,
            changed=bool(data),
        )

    async def set_bio(self, ctx: CommandContext, bio: str) -> FieldChange:
        """Set the bio ("" clears it)."""
        return await self._set_simple(ctx, "bio", "bio", bio)

    async def set_nickname(self, ctx: CommandContext, nickname: str) -> FieldChange:
        """Set the nickname ("" clears it)."""
        return await self._set_simple(ctx, "nickname", "nickname", nickname)

    async def set_name(self, ctx: CommandContext, name: str) -> FieldChange:
        """Set the display name (never empty)."""
        return await self._set_simple(ctx, "name", "display name", name)

    async def _set_simple(
        self, ctx: CommandContext, key: str, label: str, value: str
    ) -> FieldChange:
        credentials = await self._tokens.credentials(ctx)
        settings = await self.workspace_settings()
        self._require(settings, ALLOW_PROFILE_CHANGE, label)
        if key == "name":
            self._require(settings, ALLOW_NAME_CHANGE, label)
        profile = await self._read(ctx, credentials)
        before = str(getattr(profile, key))
        if value == before:
            return FieldChange(label=label, before=before, after=value, changed=False)
        await self._update(ctx, credentials, label, {key: value or CLEARED})
        return FieldChange(label=label, before=before, after=value, changed=True)

    async def set_custom_field(self, ctx: CommandContext, name: str, value: str) -> FieldChange:
        """Set one custom field ("" clears it), sending all the others unchanged."""
        credentials = await self._tokens.credentials(ctx)
        settings = await self.workspace_settings()
        self._require(settings, ALLOW_PROFILE_CHANGE, "custom fields")
        rules = await self.custom_field_rules()
        rule = self.resolve_field(rules, name)
        value = check_custom_field(rule, value)
        profile = await self._read(ctx, credentials)
        current = dict(profile.custom_fields)
        before = current.get(rule.name)
        before_text = before.strip() if isinstance(before, str) else ""
        label = f"field {rule.name}"
        if before_text == value:
            return FieldChange(label=rule.name, before=before_text, after=value, changed=False)
        blockers = other_field_problems(rules, current, rule.name)
        if blockers:
            names = ", ".join(blockers)
            first = blockers[0]
            raise UserError(
                "Rocket.Chat checks all custom fields together and would refuse this change, "
                f"because {names} {'is' if len(blockers) == 1 else 'are'} not filled in validly "
                f"on your profile. Set {first} first (`{self.prefix}field {first} <value>`), or "
                "ask an admin."
            )
        current[rule.name] = value
        await self._update(ctx, credentials, label, {}, custom_fields=current)
        return FieldChange(label=rule.name, before=before_text, after=value, changed=True)

    def resolve_field(self, rules: Mapping[str, CustomFieldRule], name: str) -> CustomFieldRule:
        """The custom field `name` refers to; a UserError listing the fields when none."""
        if not rules:
            raise UserError("This workspace has no custom profile fields.")
        rule = find_field(rules, name)
        if rule is not None:
            return rule
        close = difflib.get_close_matches(name, list(rules), n=1, cutoff=0.6)
        guess = f" Did you mean {close[0]}?" if close else ""
        shown = name if len(name) <= 40 else name[:40] + "…"
        raise UserError(
            f"There is no custom field called “{shown}”.{guess} The fields on this workspace "
            f"are: {', '.join(rules)}."
        )

    # -- helpers ----------------------------------------------------------------------------

    @staticmethod
    def _require(settings: Mapping[str, Any], setting: str, label: str) -> None:
        if not _is_off(settings.get(setting)):
            return
        if setting == ALLOW_PROFILE_CHANGE:
            raise UserError(
                "An admin has turned off profile changes on this workspace, so I can't change "
                f"your {label}."
            )
        raise UserError(
            f"An admin has turned off changing the {label} on this workspace, so I can't "
            "change it."
        )

    async def _update(
        self,
        ctx: CommandContext,
        credentials: Credentials,
        label: str,
        data: dict[str, Any],
        *,
        custom_fields: dict[str, Any] | None = None,
    ) -> None:
        try:
            await self._rest.update_own_basic_info(
                credentials, data=data, custom_fields=custom_fields
            )
        except AuthError:
            raise await self._tokens.rejected(ctx) from None
        except ServerError as exc:
            log.info(
                "updateOwnBasicInfo refused a %s change for %s (HTTP %s, %s)",
                label,
                ctx.sender_id,
                exc.status,
                exc.error_type,
            )
            raise explain_rejection(exc, label) from None
        log.info("changed the %s of %s", label, ctx.sender_id)
