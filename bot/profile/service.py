"""The sender's profile: read it with their token, change it through users.updateOwnBasicInfo.

Each change runs with the sender's delegated token and goes through the same steps: the
workspace settings that could forbid it (public settings, cached for a short while), the
field's own rules (bot.core.fields), the current value (a change to the value the field already has
is answered without a call), then one POST users.updateOwnBasicInfo. Whatever the server still
rejects becomes a sentence about that field (`explain_rejection`); a 401 marks the token invalid.

Clearing: Rocket.Chat ignores an empty nickname (and older servers an empty bio), so a single
space is sent instead; the server trims it to nothing and removes the field, on every version.
Custom fields: the server replaces the whole object, so the current fields are sent back with
only the named one changed.

Bookkeeping: every change that went through is recorded here, in one place, for commands,
rules, expiries and undo alike (`_commit` → `_record`): an audit entry with its `Cause`, the
undo point (what the change replaced), and the pending reverts of the field groups it touched
(a temporary change stores or moves one, a lasting change cancels it; see bot.profile.reverts). Changes
of one account are serialised by a per-user lock, because rules and expiries run beside the
user's own commands. Field keys: presence, status_text, bio, nickname, name, custom.<name>.
"""

from __future__ import annotations

import asyncio
import difflib
import logging
import re
import time
import weakref
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from typing import TYPE_CHECKING, Any, Final, Literal, Protocol
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bot.core.clock import Clock, SystemClock
from bot.core.context import CommandContext
from bot.core.credentials import Credentials
from bot.core.errors import AuthError, RateLimited, ServerError, TwoFactorRequired, UserError
from bot.core.fields import (
    CustomFieldRule,
    check_custom_field,
    find_field,
    other_field_problems,
    parse_custom_field_rules,
)
from bot.core.values import Expiry, StatusType
from bot.profile.audit import field_label
from bot.profile.reverts import RevertBook, group_of
from bot.profile.snapshots import ProfileSnapshots
from bot.profile.tokens import TokenRejected, TokenService
from bot.storage.automation import AutomationStore, PendingRevert, UndoPoint

if TYPE_CHECKING:
    from bot.profile.audit import AuditLog
    from bot.rocketchat.rest import RestClient
    from bot.storage.store import Store

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
IN_DOUBT_WAIT_SECONDS: Final = 10.0  # the in_doubt_wait setting's default
CLEARED: Final = " "  # see the module docstring
CUSTOM: Final = "custom."
# Field key → the key of users.updateOwnBasicInfo's `data` (custom fields go separately).
REQUEST_KEYS: Final[Mapping[str, str]] = {
    "presence": "statusType",
    "status_text": "statusText",
    "bio": "bio",
    "nickname": "nickname",
    "name": "name",
}
# Fields Rocket.Chat ignores when empty: a single space clears them (see the module docstring).
_CLEARED_WITH_SPACE: Final = frozenset({"bio", "nickname"})
UNDOABLE_FIELDS: Final = "status, status text, bio, nickname, display name and custom fields"


@dataclass(frozen=True, slots=True)
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
    utc_offset: float | None = None
    roles: tuple[str, ...] = ()

    @classmethod
    def from_user(cls, user: Mapping[str, Any]) -> Profile:
        """Read a Rocket.Chat user object; `statusDefault` (the chosen presence) wins."""
        custom = user.get("customFields")
        offset = user.get("utcOffset")
        roles = user.get("roles")
        return cls(
            user_id=str(user.get("_id", "")),
            username=str(user.get("username", "")),
            name=_text(user.get("name")),
            presence=_text(user.get("statusDefault") or user.get("status")) or "offline",
            status_text=_text(user.get("statusText")),
            nickname=_text(user.get("nickname")),
            bio=_text(user.get("bio")),
            custom_fields=dict(custom) if isinstance(custom, Mapping) else {},
            utc_offset=(
                float(offset)
                if isinstance(offset, int | float)
                and not isinstance(offset, bool)
                and -14 <= offset <= 14
                else None
            ),
            roles=tuple(str(r) for r in roles) if isinstance(roles, list) else (),
        )

    def values(self) -> dict[str, str]:
        """The changeable fields by field key (custom fields as `custom.<name>`)."""
        values = {
            "presence": self.presence,
            "status_text": self.status_text,
            "bio": self.bio,
            "nickname": self.nickname,
            "name": self.name,
        }
        for name, value in self.custom_fields.items():
            values[CUSTOM + str(name)] = value.strip() if isinstance(value, str) else ""
        return values

    @property
    def zone(self) -> tzinfo | None:
        """The time zone of the user's Rocket.Chat client (its UTC offset), if known."""
        if self.utc_offset is None:
            return None
        return timezone(timedelta(hours=self.utc_offset))


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
    """The outcome of `/status`: presence and text before and after, and whether it was sent.

    For a temporary change, `until` is when the bot puts back `restores` (presence, text).
    """

    presence: str
    text: str
    previous_presence: str
    previous_text: str
    changed: bool
    until: datetime | None = None
    restores: tuple[str, str] | None = None
    zone: tzinfo = UTC


@dataclass(frozen=True)
class Cause:
    """Why the bot changed a profile, as the audit trail shows it: `command /status`,
    `rule evening-away`, `expiry` or `undo`."""

    kind: Literal["command", "rule", "expiry", "undo"]
    detail: str = ""

    def __str__(self) -> str:
        return f"{self.kind} {self.detail}".strip()


@dataclass(frozen=True)
class Account:
    """Whose profile a change is for when no command was sent (a rule or an expiry).

    It has the two attributes of CommandContext that ProfileService reads, so both can be
    passed wherever an `Actor` is expected.
    """

    sender_id: str
    sender_username: str


Actor = CommandContext | Account


@dataclass(frozen=True)
class Bookkeeping:
    """Where ProfileService records each change: audit trail, undo points, pending reverts."""

    audit: AuditLog
    store: AutomationStore
    reverts: RevertBook


@dataclass(frozen=True)
class UndoOutcome:
    """What `/undo` did: field → (value it had, value put back), and fields left alone because
    they were changed elsewhere since."""

    restored: Mapping[str, tuple[str, str]]
    changed_elsewhere: tuple[str, ...]
    undone: str


class ProfileRefused(UserError):
    """Rocket.Chat refused or failed a change; `retryable` when trying later may help (server
    trouble, rate limits), with `retry_after` seconds as a hint."""

    def __init__(self, message: str, *, retryable: bool = False, retry_after: float = 0) -> None:
        super().__init__(message)
        self.retryable = retryable
        self.retry_after = retry_after


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


def explain_rejection(exc: ServerError, label: str) -> ProfileRefused:
    """A sentence about `label` (e.g. "nickname") for an error from users.updateOwnBasicInfo."""
    error = _explain(exc, label)
    retryable = isinstance(exc, RateLimited) or exc.status >= 500 or exc.status == 0
    retry_after = float(getattr(exc, "retry_after", 0) or 0)
    return ProfileRefused(str(error), retryable=retryable, retry_after=retry_after)


def _explain(exc: ServerError, label: str) -> UserError:
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


class ProfileSettings(Protocol):
    """What the profile service reads of the configuration (BotSettings has it all)."""

    @property
    def prefixes(self) -> list[str]: ...
    @property
    def default_timezone(self) -> str: ...
    @property
    def profile_snapshot_seconds(self) -> float: ...
    @property
    def retry_attempts(self) -> int: ...
    @property
    def in_doubt_wait(self) -> float: ...


class ProfileService:
    """Reads and changes the sender's own profile with their delegated token."""

    def __init__(
        self,
        store: Store,
        rest: RestClient,
        settings: ProfileSettings | None = None,
        *,
        tokens: TokenService | None = None,
        clock: Callable[[], float] = time.monotonic,
        settings_ttl: float = SETTINGS_TTL_SECONDS,
        bookkeeping: Bookkeeping | None = None,
        wall_clock: Clock | None = None,
    ) -> None:
        prefixes = list(getattr(settings, "prefixes", None) or ["/"])
        self.prefix = str(prefixes[0])
        self._store = store
        self._rest = rest
        self._tokens = tokens or TokenService(store, rest, prefix=self.prefix)
        self._clock = clock
        self._ttl = settings_ttl
        self._cached: tuple[float, dict[str, Any]] | None = None
        self._settings_read: asyncio.Future[dict[str, Any]] | None = None
        self._books = bookkeeping
        self.wall_clock = wall_clock or SystemClock()
        zone = getattr(settings, "default_timezone", None)
        self.default_zone: tzinfo = _zone_or_utc(zone)
        self._locks: weakref.WeakValueDictionary[str, asyncio.Lock] = weakref.WeakValueDictionary()
        # Replicas share people, so what one saw may be old news on another: read every time.
        fresh_for = 0.0 if store.shared else getattr(settings, "profile_snapshot_seconds", 0.0)
        self.snapshots = ProfileSnapshots(fresh_for, clock)
        self._attempts = int(getattr(settings, "retry_attempts", 4))
        self._in_doubt_wait = float(getattr(settings, "in_doubt_wait", IN_DOUBT_WAIT_SECONDS))

    def zone_of(self, profile: Profile) -> tzinfo:
        """The user's time zone: their client's UTC offset, else the configured default."""
        return profile.zone or self.default_zone

    def _lock(self, user_id: str) -> asyncio.Lock:
        lock = self._locks.get(user_id)
        if lock is None:
            lock = self._locks[user_id] = asyncio.Lock()
        return lock

    # -- whose token ------------------------------------------------------------------------

    async def _credentials(self, actor: Actor) -> Credentials:
        return await self._tokens.credentials_for(actor.sender_id)

    async def _rejected(self, actor: Actor) -> TokenRejected:
        if isinstance(actor, CommandContext):
            return await self._tokens.rejected(actor)
        await self._store.mark_token_invalid(actor.sender_id)
        log.warning("Rocket.Chat rejected the delegated token of %s", actor.sender_id)
        return TokenRejected(self.prefix)

    # -- reading ----------------------------------------------------------------------------

    async def current(self, ctx: Actor) -> Profile:
        """The sender's profile as Rocket.Chat has it now."""
        credentials = await self._credentials(ctx)
        return await self._read(ctx, credentials)

    async def _read(self, ctx: Actor, credentials: Credentials) -> Profile:
        try:
            user = await self._rest.me(credentials)
        except AuthError:
            raise await self._rejected(ctx) from None
        except ServerError as exc:
            log.info("could not read the profile of %s (HTTP %s)", ctx.sender_id, exc.status)
            raise ProfileRefused(
                "I could not read your profile from Rocket.Chat right now, so nothing was "
                "changed. Please try again in a moment.",
                retryable=True,
                retry_after=float(getattr(exc, "retry_after", 0) or 0),
            ) from None
        if user.get("_id") != ctx.sender_id:
            raise await self._rejected(ctx)
        profile = Profile.from_user(user)
        self.snapshots.put(credentials, profile)
        return profile

    async def _starting_point(
        self, ctx: Actor, credentials: Credentials, after: Mapping[str, str]
    ) -> Profile:
        """The profile a change to `after` starts from: the one Rocket.Chat returned a moment
        ago if there is one, else read now. "Already so" is never concluded from a snapshot."""
        seen = self.snapshots.get(credentials)
        if seen is not None:
            values = seen.values()
            if any(values.get(key, "") != value for key, value in after.items()):
                return seen
        return await self._read(ctx, credentials)

    async def find_user(self, ctx: Actor, username: str) -> tuple[str, str] | None:
        """(id, username) of the user called `username`, looked up with the sender's token;
        None when there is no such user."""
        credentials = await self._credentials(ctx)
        try:
            answer = await self._rest.request(
                "GET", "users.info", credentials=credentials, params={"username": username}
            )
        except AuthError:
            raise await self._rejected(ctx) from None
        except ServerError as exc:
            if exc.status == 400:
                return None  # "User not found."
            raise ProfileRefused(
                "I could not look that user up in Rocket.Chat right now. Please try again in a "
                "moment.",
                retryable=True,
            ) from None
        user = answer.get("user")
        if not isinstance(user, Mapping) or not user.get("_id"):
            return None
        return str(user["_id"]), str(user.get("username") or username)

    async def workspace_settings(self) -> dict[str, Any]:
        """The public settings that govern profile changes; {} entries when unknown.

        Cached for a short while; when they cannot be read, the checks are left to the server.
        """
        now = self._clock()
        if self._cached is not None and now - self._cached[0] < self._ttl:
            return self._cached[1]
        # One read for everyone who needs them meanwhile, not one per command in flight.
        if self._settings_read is None or self._settings_read.done():
            self._settings_read = asyncio.ensure_future(self._read_settings(now))
        return await asyncio.shield(self._settings_read)

    async def _read_settings(self, now: float) -> dict[str, Any]:
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
        self,
        ctx: Actor,
        *,
        presence: StatusType | None,
        text: str | None,
        expiry: Expiry | None = None,
        cause: Cause | None = None,
    ) -> StatusChange:
        """Set the presence and/or the status text (None keeps it, "" clears the text).

        With `expiry`, the previous presence and text come back when it ends.
        """
        cause = cause or Cause("command", f"{self.prefix}status")
        self._check_temporary(expiry)
        credentials = await self._credentials(ctx)
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
        after: dict[str, str] = {}
        if presence is not None:
            after["presence"] = presence.value
        if text is not None:
            after["status_text"] = text
        async with self._lock(ctx.sender_id):
            if expiry is None:
                profile = await self._starting_point(ctx, credentials, after)
            else:  # what it replaces comes back by itself later: it must be what is there now
                profile = await self._read(ctx, credentials)
            zone = self.zone_of(profile)
            deadline = expiry.deadline(self.wall_clock.now(), zone) if expiry else None
            changes = await self._commit(
                ctx, credentials, profile, after, label="status", cause=cause, deadline=deadline
            )
            pending = await self._pending(ctx.sender_id, "status") if deadline else None
        new_presence = after.get("presence", profile.presence)
        new_text = after.get("status_text", profile.status_text)
        restores = None
        if pending is not None:
            restores = (
                pending.restore.get("presence", new_presence),
                pending.restore.get("status_text", new_text),
            )
        return StatusChange(
            presence=new_presence,
            text=new_text,
            previous_presence=profile.presence,
            previous_text=profile.status_text,
            changed=bool(changes),
            until=pending.due_at if pending is not None else None,
            restores=restores,
            zone=zone,
        )

    async def set_bio(self, ctx: Actor, bio: str) -> FieldChange:
        """Set the bio ("" clears it)."""
        return await self._set_simple(ctx, "bio", "bio", bio)

    async def set_nickname(self, ctx: Actor, nickname: str) -> FieldChange:
        """Set the nickname ("" clears it)."""
        return await self._set_simple(ctx, "nickname", "nickname", nickname)

    async def set_name(self, ctx: Actor, name: str) -> FieldChange:
        """Set the display name (never empty)."""
        return await self._set_simple(ctx, "name", "display name", name)

    async def _set_simple(self, ctx: Actor, key: str, label: str, value: str) -> FieldChange:
        command = {"nickname": "nick"}.get(key, key)
        cause = Cause("command", f"{self.prefix}{command}")
        credentials = await self._credentials(ctx)
        settings = await self.workspace_settings()
        self._require(settings, ALLOW_PROFILE_CHANGE, label)
        if key == "name":
            self._require(settings, ALLOW_NAME_CHANGE, label)
        async with self._lock(ctx.sender_id):
            profile = await self._starting_point(ctx, credentials, {key: value})
            before = str(getattr(profile, key))
            changes = await self._commit(
                ctx, credentials, profile, {key: value}, label=label, cause=cause
            )
        return FieldChange(label=label, before=before, after=value, changed=bool(changes))

    async def set_custom_field(self, ctx: Actor, name: str, value: str) -> FieldChange:
        """Set one custom field ("" clears it), sending all the others unchanged."""
        async with self._lock(ctx.sender_id):
            return await self._set_custom_field(ctx, name, value)

    async def _set_custom_field(self, ctx: Actor, name: str, value: str) -> FieldChange:
        credentials = await self._credentials(ctx)
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
        await self._commit(
            ctx,
            credentials,
            profile,
            {CUSTOM + rule.name: value},
            label=label,
            cause=Cause("command", f"{self.prefix}field"),
            custom_fields=current,
        )
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
        ctx: Actor,
        credentials: Credentials,
        label: str,
        data: dict[str, Any],
        *,
        expected: Mapping[str, str],
        custom_fields: dict[str, Any] | None = None,
    ) -> None:
        """One POST users.updateOwnBasicInfo, and what to do when its outcome is unknown.

        A request that got no answer (or a 5xx, which may come from a proxy that gave up) may
        still land at Rocket.Chat, later. Sending it again at once could make a late copy land
        after the person's next change, which they would then lose. So the bot waits
        `in_doubt_wait` seconds, holding the person's lock, then reads the profile: if it holds
        `expected` the change is done; if not, it is sent again (up to `retry_attempts` in all).
        """
        for attempt in range(1, self._attempts + 1):
            try:
                user = await self._rest.update_own_basic_info(
                    credentials, data=data, custom_fields=custom_fields
                )
            except AuthError:
                self.snapshots.drop(ctx.sender_id)
                raise await self._rejected(ctx) from None
            except ServerError as exc:
                self.snapshots.drop(ctx.sender_id)
                log.info(
                    "updateOwnBasicInfo failed for a %s change of %s (HTTP %s, %s)",
                    label,
                    ctx.sender_id,
                    exc.status,
                    exc.error_type,
                )
                if not exc.may_have_applied:
                    raise explain_rejection(exc, label) from None
                if await self._landed(ctx, credentials, expected):
                    log.info("the %s change of %s had landed after all", label, ctx.sender_id)
                    return
                if attempt == self._attempts:
                    raise explain_rejection(exc, label) from None
                continue
            log.info("changed the %s of %s", label, ctx.sender_id)
            if user.get("_id") == ctx.sender_id:
                self.snapshots.put(credentials, Profile.from_user(user))
            else:
                self.snapshots.drop(ctx.sender_id)
            return

    async def _landed(
        self, ctx: Actor, credentials: Credentials, expected: Mapping[str, str]
    ) -> bool:
        """After a change whose outcome is unknown: wait until a late copy of it can no longer
        arrive, then tell from a fresh read whether the profile holds `expected`."""
        await asyncio.sleep(self._in_doubt_wait)
        now = (await self._read(ctx, credentials)).values()
        return all(now.get(key, "") == value for key, value in expected.items())

    # -- bookkeeping: one path for every change ---------------------------------------------

    async def _commit(
        self,
        actor: Actor,
        credentials: Credentials,
        profile: Profile,
        after: Mapping[str, str],
        *,
        label: str,
        cause: Cause,
        deadline: datetime | None = None,
        custom_fields: dict[str, Any] | None = None,
        detail: Mapping[str, Any] | None = None,
    ) -> dict[str, tuple[str, str]]:
        """Send the fields of `after` that differ from `profile`, then record the change.

        Returns field → (before, after) for what was sent. `deadline` makes it temporary.

        A command's audit entry is written ahead, pending, keyed by its message id. If the
        command runs again (its replica or process stopped before it was recorded as handled)
        and finds its change already made, that entry says what it replaced: the change is
        settled and answered as the first run would have, not reported as "already" so.
        """
        before = profile.values()
        changes = {
            key: (before.get(key, ""), value)
            for key, value in after.items()
            if before.get(key, "") != value
        }
        message_id = actor.message_id if isinstance(actor, CommandContext) else None
        books = self._books
        if books is not None and message_id is not None:
            if not changes:  # nothing to send: maybe because an earlier run of it sent it
                earlier = await books.store.intended(message_id) or []
                made = {str(i["field"]): (str(i["old"]), str(i["new"])) for i in earlier}
                if made and all(after.get(key) == new for key, (_, new) in made.items()):
                    before = {**before, **{key: old for key, (old, _) in made.items()}}
                    await self._record(actor, before, after, made, cause, deadline)
                    return made
            else:
                await books.store.intend(
                    message_id,
                    at=self.wall_clock.now(),
                    user_id=actor.sender_id,
                    username=actor.sender_username,
                    changes=books.audit.items(changes),
                    cause=str(cause),
                    detail=detail,
                )
        if changes:
            data: dict[str, Any] = {}
            for key, (_, value) in changes.items():
                if key in REQUEST_KEYS:
                    empty = CLEARED if key in _CLEARED_WITH_SPACE else value
                    data[REQUEST_KEYS[key]] = value or empty
            sends_custom = any(key.startswith(CUSTOM) for key in changes)
            await self._update(
                actor,
                credentials,
                label,
                data,
                expected={key: new for key, (_, new) in changes.items()},
                custom_fields=custom_fields if sends_custom else None,
            )
        await self._record(actor, before, after, changes, cause, deadline)
        return changes

    async def _record(
        self,
        actor: Actor,
        before: Mapping[str, str],
        after: Mapping[str, str],
        changes: Mapping[str, tuple[str, str]],
        cause: Cause,
        deadline: datetime | None,
    ) -> None:
        books = self._books
        if books is None:
            return
        user_id, username = actor.sender_id, actor.sender_username
        now = self.wall_clock.now()
        groups = sorted({group_of(key) for key in after})
        undo = None
        if changes and cause.kind not in ("undo", "expiry"):
            undo = UndoPoint(user_id, dict(changes), str(cause), now)
        # Audit entry, undo point and cancelled reverts: one transaction.
        await books.store.settle(
            user_id=user_id,
            username=username,
            at=now,
            changes=books.audit.items(changes) if changes else None,
            cause=str(cause),
            message_id=actor.message_id if isinstance(actor, CommandContext) else None,
            undo=undo,
            drop_undo=bool(changes) and cause.kind == "undo",
            cancel_reverts=groups if deadline is None else (),
        )
        if changes:
            log.info("audit: %s changed %s of %s", cause, ", ".join(changes), user_id)
        if deadline is None:
            return
        for group in groups:
            await self._schedule_revert(actor, group, before, after, changes, cause, deadline)

    async def _schedule_revert(
        self,
        actor: Actor,
        group: str,
        before: Mapping[str, str],
        after: Mapping[str, str],
        changes: Mapping[str, tuple[str, str]],
        cause: Cause,
        deadline: datetime,
    ) -> None:
        assert self._books is not None
        reverts = self._books.reverts
        changed = {key: old for key, (old, _) in changes.items() if group_of(key) == group}
        touched = {key: value for key, value in after.items() if group_of(key) == group}
        existing = await reverts.get(actor.sender_id, group)
        still_ours = existing is not None and all(
            before.get(key, "") == value for key, value in existing.expected.items()
        )
        if existing is not None and still_ours:
            # Keep the values from before the first temporary change (see bot.profile.reverts).
            restore = {**changed, **existing.restore}
            expected = {**existing.expected, **touched}
        elif changed:
            restore, expected = changed, touched
        else:
            await reverts.cancel(actor.sender_id, [group])
            return
        if all(expected.get(key, before.get(key, "")) == value for key, value in restore.items()):
            await reverts.cancel(actor.sender_id, [group])  # back where it started: nothing to do
            return
        await reverts.schedule(
            PendingRevert(
                user_id=actor.sender_id,
                username=actor.sender_username,
                group=group,
                due_at=deadline,
                restore=restore,
                expected=expected,
                cause=str(cause),
            )
        )

    async def _pending(self, user_id: str, group: str) -> PendingRevert | None:
        return await self._books.reverts.get(user_id, group) if self._books else None

    def _check_temporary(self, temporary: object) -> None:
        if temporary and self._books is None:
            raise UserError(
                "Temporary changes are not available on this bot. Leave out the `for …` or "
                "`until …` part to change it for good."
            )

    # -- rules, expiries, undo --------------------------------------------------------------

    async def apply(
        self,
        actor: Actor,
        fields: Mapping[str, str],
        *,
        cause: Cause,
        duration: timedelta | None = None,
    ) -> dict[str, tuple[str, str]]:
        """Set several fields at once (a rule's change); returns field → (before, after)."""
        self._check_temporary(duration)
        label = _label_of(fields)
        credentials = await self._credentials(actor)
        settings = await self.workspace_settings()
        self._require(settings, ALLOW_PROFILE_CHANGE, label)
        if "status_text" in fields and _is_off(settings.get(ALLOW_STATUS_MESSAGE_CHANGE)):
            raise UserError(
                "An admin has turned off status messages on this workspace, so I can't change "
                "your status text."
            )
        if fields.get("presence") == StatusType.OFFLINE and _is_off(settings.get(ALLOW_INVISIBLE)):
            raise UserError(
                "This workspace does not allow the invisible (offline) status, so I can't set it."
            )
        async with self._lock(actor.sender_id):
            # A rule acts while the person may be busy elsewhere: start from a fresh read.
            profile = await self._read(actor, credentials)
            deadline = self.wall_clock.now() + duration if duration else None
            return await self._commit(
                actor, credentials, profile, fields, label=label, cause=cause, deadline=deadline
            )

    async def revert(self, pending: PendingRevert) -> bool:
        """Put back a temporary change that fell due; False when the fields no longer hold what
        the bot set (changed elsewhere) or the revert is gone, and nothing was changed."""
        books = self._books
        if books is None:
            return False
        actor = Account(pending.user_id, pending.username)
        async with self._lock(pending.user_id):
            latest = await books.reverts.get(pending.user_id, pending.group)
            if latest is None or latest.due_at > self.wall_clock.now():
                return False  # cancelled or moved meanwhile
            credentials = await self._credentials(actor)
            profile = await self._read(actor, credentials)
            now = profile.values()
            moved = [key for key, value in latest.expected.items() if now.get(key, "") != value]
            if moved:
                log.info(
                    "left the %s of %s alone: changed elsewhere since the bot set it",
                    latest.group,
                    latest.user_id,
                )
                await books.reverts.cancel(latest.user_id, [latest.group])
                return False
            await self._commit(
                actor,
                credentials,
                profile,
                latest.restore,
                label=_label_of(latest.restore),
                cause=Cause("expiry"),
                custom_fields=_custom_with(profile, latest.restore),
            )
            return True

    async def undo(self, ctx: Actor) -> UndoOutcome:
        """Put back what the sender's last change through the bot replaced (never e-mail,
        username or password: those are not profile changes and leave no undo point)."""
        books = self._books
        if books is None:
            raise UserError("Undo is not available on this bot.")
        credentials = await self._credentials(ctx)
        async with self._lock(ctx.sender_id):
            again = await self._undone_before(ctx, credentials)
            if again is not None:
                return again
            point = await books.store.get_undo_point(ctx.sender_id)
            if point is None:
                raise UserError(
                    "There is nothing to undo: I have not changed your profile since your last "
                    f"undo. `{self.prefix}undo` puts back what your last change through me "
                    f"replaced ({UNDOABLE_FIELDS})."
                )
            profile = await self._read(ctx, credentials)
            now = profile.values()
            back = {
                key: old for key, (old, new) in point.changes.items() if now.get(key, "") == new
            }
            elsewhere = tuple(
                key
                for key, (old, new) in point.changes.items()
                if now.get(key, "") not in (old, new)
            )
            if not back:
                await books.store.delete_undo_point(ctx.sender_id)
                if elsewhere:
                    raise UserError(
                        f"I can't undo your last change ({point.cause}): your "
                        f"{_labels(elsewhere)} changed elsewhere since, so I left "
                        f"{'it' if len(elsewhere) == 1 else 'them'} as "
                        f"{'it is' if len(elsewhere) == 1 else 'they are'}."
                    )
                raise UserError(
                    f"Your last change ({point.cause}) is already undone: your profile has the "
                    "values from before it."
                )
            restored = await self._commit(
                ctx,
                credentials,
                profile,
                back,
                label=_label_of(back),
                cause=Cause("undo"),
                custom_fields=_custom_with(profile, back),
                detail={"undone": point.cause, "elsewhere": list(elsewhere)},
            )
        return UndoOutcome(restored=restored, changed_elsewhere=elsewhere, undone=point.cause)

    async def _undone_before(self, ctx: Actor, credentials: Credentials) -> UndoOutcome | None:
        """This /undo ran before and got its change to Rocket.Chat, but the process stopped
        before its answer was recorded: settle it and answer as that run would have."""
        message_id = ctx.message_id if isinstance(ctx, CommandContext) else None
        if self._books is None or message_id is None:
            return None
        earlier = await self._books.store.intended_entry(message_id)
        if earlier is None or "undone" not in earlier.detail:
            return None
        made = {str(i["field"]): (str(i["old"]), str(i["new"])) for i in earlier.changes}
        profile = await self._read(ctx, credentials)
        now = profile.values()
        if not all(now.get(key, "") == new for key, (_, new) in made.items()):
            return None  # it never reached Rocket.Chat: undo as if for the first time
        before = {**now, **{key: old for key, (old, _) in made.items()}}
        after = {key: new for key, (_, new) in made.items()}
        await self._record(ctx, before, after, made, Cause("undo"), None)
        return UndoOutcome(
            restored=made,
            changed_elsewhere=tuple(earlier.detail.get("elsewhere", ())),
            undone=str(earlier.detail["undone"]),
        )


def _zone_or_utc(name: Any) -> tzinfo:
    if not isinstance(name, str) or not name.strip():
        return UTC
    try:
        return ZoneInfo(name.strip())
    except (ZoneInfoNotFoundError, ValueError):
        return UTC


def _custom_with(profile: Profile, values: Mapping[str, str]) -> dict[str, Any] | None:
    """The whole custom-field object with the `custom.*` entries of `values` applied."""
    custom = {key.removeprefix(CUSTOM): v for key, v in values.items() if key.startswith(CUSTOM)}
    return {**profile.custom_fields, **custom} if custom else None


def _labels(keys: tuple[str, ...] | list[str]) -> str:
    names = list(dict.fromkeys(field_label(key) for key in keys))
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def _label_of(fields: Mapping[str, str]) -> str:
    """The label errors use for a change of these fields."""
    groups = {group_of(key) for key in fields}
    if len(groups) == 1:
        (group,) = groups
        return {"status": "status", "name": "display name"}.get(
            group, group.replace(CUSTOM, "field ")
        )
    return "profile"
