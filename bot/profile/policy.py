"""The workspace's own rules for profile changes, read from its public settings.

The settings that can forbid a change (profile changes at all, the display name, status
messages, the invisible status, custom field definitions) are read once for everyone who needs
them at a moment and kept for a short while. When they cannot be read, the checks are left to
the server, which makes them anyway; a setting is "off" only when it says so explicitly.
"""

from __future__ import annotations

import asyncio
import difflib
import logging
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Final

from bot.core.errors import ServerError, UserError
from bot.core.fields import CustomFieldRule, find_field, parse_custom_field_rules
from bot.core.values import StatusType

if TYPE_CHECKING:
    from bot.rocketchat.rest import RestClient

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


def is_off(value: Any) -> bool:
    """True only for a setting that is explicitly off (unknown settings are left to the server)."""
    return value is False or (isinstance(value, str) and value.strip().lower() == "false")


class WorkspacePolicy:
    """The public settings that govern profile changes, and the checks made with them."""

    def __init__(
        self,
        rest: RestClient,
        *,
        prefix: str = "/",
        clock: Callable[[], float] = time.monotonic,
        ttl: float = SETTINGS_TTL_SECONDS,
    ) -> None:
        self._rest = rest
        self.prefix = prefix
        self._clock = clock
        self._ttl = ttl
        self._cached: tuple[float, dict[str, Any]] | None = None
        self._reading: asyncio.Future[dict[str, Any]] | None = None

    async def settings(self) -> dict[str, Any]:
        """The profile settings by id; {} entries when unknown. Cached for a short while."""
        now = self._clock()
        if self._cached is not None and now - self._cached[0] < self._ttl:
            return self._cached[1]
        # One read for everyone who needs them meanwhile, not one per command in flight.
        if self._reading is None or self._reading.done():
            self._reading = asyncio.ensure_future(self._read_cached(now))
        return await asyncio.shield(self._reading)

    async def _read_cached(self, now: float) -> dict[str, Any]:
        values = await self.read(PROFILE_SETTINGS)
        if values:
            self._cached = (now, values)
        return values

    async def read(self, ids: tuple[str, ...] | list[str]) -> dict[str, Any]:
        """Public settings by id, read now; {} when they cannot be read."""
        try:
            return dict(await self._rest.public_settings(list(ids)))
        except ServerError as exc:
            log.warning("could not read the public settings (HTTP %s)", exc.status)
            return {}

    @staticmethod
    def require(settings: Mapping[str, Any], setting: str, label: str) -> None:
        """UserError when `setting` (a profile change at all, or one field) is turned off."""
        if not is_off(settings.get(setting)):
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

    def require_status(
        self,
        settings: Mapping[str, Any],
        *,
        presence: StatusType | str | None,
        text: str | None,
        by_rule: bool = False,
    ) -> None:
        """UserError when the workspace forbids this status: a text with status messages off,
        or the invisible status where it is not allowed (`by_rule`: said of a rule's change,
        which the person did not choose)."""
        if text is not None and is_off(settings.get(ALLOW_STATUS_MESSAGE_CHANGE)):
            keep = (
                f" You can still change your presence alone: `{self.prefix}status {presence}`."
                if presence and not by_rule
                else ""
            )
            raise UserError(
                "An admin has turned off status messages on this workspace, so I can't change "
                f"your status text.{keep}"
            )
        if presence == StatusType.OFFLINE and is_off(settings.get(ALLOW_INVISIBLE)):
            if by_rule:
                raise UserError(
                    "This workspace does not allow the invisible (offline) status, so I can't "
                    "set it."
                )
            raise UserError(
                "This workspace does not allow the invisible (offline) status. Choose online, "
                "away or busy instead."
            )

    async def custom_field_rules(self) -> dict[str, CustomFieldRule]:
        """The custom fields the workspace defines (Accounts_CustomFields)."""
        settings = await self.settings()
        if CUSTOM_FIELDS not in settings:
            raise UserError(
                "I could not read this workspace's custom field definitions right now. "
                "Please try again in a moment."
            )
        return parse_custom_field_rules(settings[CUSTOM_FIELDS])

    @staticmethod
    def resolve_field(rules: Mapping[str, CustomFieldRule], name: str) -> CustomFieldRule:
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
