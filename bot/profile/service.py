"""The profile service commands, rules and flows ask for: read and change someone's profile.

Each change runs with the person's delegated token and goes through the same steps: the
workspace's settings that could forbid it (bot.profile.policy), the field's own rules
(bot.core.fields), the current value (a change to the value the field already has is answered
without a call), then the one change path (bot.profile.changes: written ahead, sent, recorded).
Changes of one account are serialised by a per-person lock (bot.profile.locks), because rules
and expiries run beside the person's own commands. Undo and expiry live in bot.profile.restore.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from datetime import UTC, timedelta, tzinfo
from typing import TYPE_CHECKING, Any, Final, Protocol
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bot.core.clock import Clock, SystemClock
from bot.core.errors import UserError
from bot.core.fields import CustomFieldRule, check_custom_field, other_field_problems
from bot.core.values import Expiry, StatusType
from bot.profile.bookkeeping import Bookkeeping
from bot.profile.changes import IN_DOUBT_WAIT_SECONDS, ChangePath
from bot.profile.locks import PersonLocks
from bot.profile.model import (
    CUSTOM,
    Actor,
    Cause,
    FieldChange,
    Profile,
    StatusChange,
    UndoOutcome,
    label_of,
)
from bot.profile.policy import (
    ALLOW_NAME_CHANGE,
    ALLOW_PROFILE_CHANGE,
    SETTINGS_TTL_SECONDS,
    WorkspacePolicy,
)
from bot.profile.reader import ProfileReader
from bot.profile.restore import Handover, Restorer
from bot.profile.snapshots import ProfileSnapshots
from bot.profile.tokens import TokenService

if TYPE_CHECKING:
    from bot.rocketchat.rest import RestClient
    from bot.rocketchat.server_info import ServerInfo
    from bot.storage.automation import PendingRevert
    from bot.storage.store import Store

# The command each setter serves, named in the audit trail when its caller names no cause.
SETTER_COMMANDS: Final[Mapping[str, str]] = {"nickname": "nick"}


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
        server: ServerInfo | None = None,
    ) -> None:
        prefixes = list(getattr(settings, "prefixes", None) or ["/"])
        self.prefix = str(prefixes[0])
        self.wall_clock = wall_clock or SystemClock()
        self.default_zone: tzinfo = _zone_or_utc(getattr(settings, "default_timezone", None))
        # Replicas share people, so what one saw may be old news on another: read every time.
        fresh_for = 0.0 if store.shared else getattr(settings, "profile_snapshot_seconds", 0.0)
        self.snapshots = ProfileSnapshots(fresh_for, clock)
        self.tokens = tokens or TokenService(store, rest, prefix=self.prefix)
        self.reader = ProfileReader(rest, self.tokens, self.snapshots)
        self.tokens.read_me = self.reader.verify  # a delegated token's first read is a snapshot
        self.policy = WorkspacePolicy(rest, prefix=self.prefix, clock=clock, ttl=settings_ttl)
        self.changes = ChangePath(
            rest,
            self.reader,
            bookkeeping,
            clock=self.wall_clock,
            server=server,
            attempts=int(getattr(settings, "retry_attempts", 4)),
            in_doubt_wait=float(getattr(settings, "in_doubt_wait", IN_DOUBT_WAIT_SECONDS)),
        )
        self._locks = PersonLocks()
        self._restorer = Restorer(
            self.reader, self.changes, self._locks, clock=self.wall_clock, prefix=self.prefix
        )

    def zone_of(self, profile: Profile) -> tzinfo:
        """The user's time zone: their client's UTC offset, else the configured default."""
        return profile.zone or self.default_zone

    # -- reading ----------------------------------------------------------------------------

    async def current(self, actor: Actor) -> Profile:
        """The sender's profile as Rocket.Chat has it now."""
        return await self.reader.current(actor)

    async def find_user(self, actor: Actor, username: str) -> tuple[str, str] | None:
        """(id, username) of the user called `username`; None when there is no such user."""
        return await self.reader.find_user(actor, username)

    async def workspace_settings(self) -> dict[str, Any]:
        """The public settings that govern profile changes (cached for a short while)."""
        return await self.policy.settings()

    async def custom_field_rules(self) -> dict[str, CustomFieldRule]:
        """The custom fields the workspace defines (Accounts_CustomFields)."""
        return await self.policy.custom_field_rules()

    def resolve_field(self, rules: Mapping[str, CustomFieldRule], name: str) -> CustomFieldRule:
        """The custom field `name` refers to; a UserError listing the fields when none."""
        return self.policy.resolve_field(rules, name)

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
        credentials = await self.reader.credentials(ctx)
        settings = await self.policy.settings()
        self.policy.require(settings, ALLOW_PROFILE_CHANGE, "status")
        self.policy.require_status(settings, presence=presence, text=text)
        after: dict[str, str] = {}
        if presence is not None:
            after["presence"] = presence.value
        if text is not None:
            after["status_text"] = text
        async with self._locks.hold(ctx.sender_id):
            if expiry is None:
                profile = await self.reader.starting_point(ctx, credentials, after)
            else:  # what it replaces comes back by itself later: it must be what is there now
                profile = await self.reader.read(ctx, credentials)
            zone = self.zone_of(profile)
            deadline = expiry.deadline(self.wall_clock.now(), zone) if expiry else None
            changes = await self.changes.commit(
                ctx, credentials, profile, after, label="status", cause=cause, deadline=deadline
            )
            books = self.changes.books
            pending = await books.pending(ctx.sender_id, "status") if deadline and books else None
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
        cause = Cause("command", f"{self.prefix}{SETTER_COMMANDS.get(key, key)}")
        credentials = await self.reader.credentials(ctx)
        settings = await self.policy.settings()
        self.policy.require(settings, ALLOW_PROFILE_CHANGE, label)
        if key == "name":
            self.policy.require(settings, ALLOW_NAME_CHANGE, label)
        async with self._locks.hold(ctx.sender_id):
            profile = await self.reader.starting_point(ctx, credentials, {key: value})
            before = str(getattr(profile, key))
            changes = await self.changes.commit(
                ctx, credentials, profile, {key: value}, label=label, cause=cause
            )
        return FieldChange(label=label, before=before, after=value, changed=bool(changes))

    async def set_custom_field(self, ctx: Actor, name: str, value: str) -> FieldChange:
        """Set one custom field ("" clears it), sending all the others unchanged."""
        async with self._locks.hold(ctx.sender_id):
            credentials = await self.reader.credentials(ctx)
            settings = await self.policy.settings()
            self.policy.require(settings, ALLOW_PROFILE_CHANGE, "custom fields")
            rules = await self.policy.custom_field_rules()
            rule = self.policy.resolve_field(rules, name)
            value = check_custom_field(rule, value)
            profile = await self.reader.read(ctx, credentials)
            current = dict(profile.custom_fields)
            before = current.get(rule.name)
            before_text = before.strip() if isinstance(before, str) else ""
            if before_text == value:
                return FieldChange(label=rule.name, before=before_text, after=value, changed=False)
            self._require_other_fields(rules, current, rule.name)
            current[rule.name] = value
            await self.changes.commit(
                ctx,
                credentials,
                profile,
                {CUSTOM + rule.name: value},
                label=f"field {rule.name}",
                cause=Cause("command", f"{self.prefix}field"),
                custom_fields=current,
            )
        return FieldChange(label=rule.name, before=before_text, after=value, changed=True)

    def _require_other_fields(
        self, rules: Mapping[str, CustomFieldRule], current: Mapping[str, Any], name: str
    ) -> None:
        """Rocket.Chat checks all custom fields together: say which others would fail it."""
        blockers = other_field_problems(rules, current, name)
        if not blockers:
            return
        first = blockers[0]
        raise UserError(
            "Rocket.Chat checks all custom fields together and would refuse this change, because "
            f"{', '.join(blockers)} {'is' if len(blockers) == 1 else 'are'} not filled in "
            f"validly on your profile. Set {first} first (`{self.prefix}field {first} <value>`), "
            "or ask an admin."
        )

    def _check_temporary(self, temporary: object) -> None:
        if temporary and self.changes.books is None:
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
        label = label_of(fields)
        credentials = await self.reader.credentials(actor)
        settings = await self.policy.settings()
        self.policy.require(settings, ALLOW_PROFILE_CHANGE, label)
        self.policy.require_status(
            settings,
            presence=fields.get("presence"),
            text=fields.get("status_text"),
            by_rule=True,
        )
        async with self._locks.hold(actor.sender_id):
            # A rule acts while the person may be busy elsewhere: start from a fresh read.
            profile = await self.reader.read(actor, credentials)
            deadline = self.wall_clock.now() + duration if duration else None
            return await self.changes.commit(
                actor, credentials, profile, fields, label=label, cause=cause, deadline=deadline
            )

    async def revert(self, pending: PendingRevert, *, then: Handover | None = None) -> bool:
        """Put back a temporary change that fell due, or show `then` instead (a lower status
        layer still under way), as bot.profile.restore says."""
        return await self._restorer.revert(pending, then=then)

    async def undo(self, ctx: Actor) -> UndoOutcome:
        """Put back what the sender's last change through the bot replaced."""
        return await self._restorer.undo(ctx)


def _zone_or_utc(name: Any) -> tzinfo:
    if not isinstance(name, str) or not name.strip():
        return UTC
    try:
        return ZoneInfo(name.strip())
    except (ZoneInfoNotFoundError, ValueError):
        return UTC
