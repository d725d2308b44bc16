"""Which Rocket.Chat the bot talks to, read at login and after each reconnect.

`GET /api/info` tells anyone the server's "major.minor" (the full version only to callers with
view-statistics; app/api/server/lib/getServerInfo.ts). The bot asks each time its realtime
connection is (re)made, since a server may be upgraded while the bot waits to reconnect, and
keeps the answer in one `ServerInfo` that the change path reads (bot.profile.changes).

Rocket.Chat 8.6's presence engine (PR #40274) is what the bot cares about: from 8.6 on, a
status is set with `users.setStatus` and may carry its own expiry (`expiresAt`), while
`users.updateOwnBasicInfo`'s `statusType` is an untimed claim that drops the text with
`online`. Until a version is known the bot behaves as with an older server.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from bot.core.errors import ServerError

if TYPE_CHECKING:
    from bot.rocketchat.rest import RestClient

log = logging.getLogger(__name__)

PRESENCE_ENGINE: Final = (8, 6)  # users.setStatus takes expiresAt; statuses are claims
_VERSION: Final = re.compile(r"^\s*(\d+)\.(\d+)(?:\.(\d+))?")


@dataclass(frozen=True, order=True, slots=True)
class ServerVersion:
    """A Rocket.Chat release, compared component by component."""

    major: int
    minor: int
    patch: int = 0

    @classmethod
    def parse(cls, text: Any) -> ServerVersion | None:
        """Read "7.4", "8.6.0" or "8.6.1-rc.2"; None for anything else."""
        found = _VERSION.match(text) if isinstance(text, str) else None
        if found is None:
            return None
        return cls(int(found[1]), int(found[2]), int(found[3] or 0))

    def at_least(self, major: int, minor: int = 0) -> bool:
        """This release is `major.minor` or newer."""
        return (self.major, self.minor) >= (major, minor)

    def __str__(self) -> str:
        return f"{self.major}.{self.minor}.{self.patch}"


def version_of(answer: Any) -> ServerVersion | None:
    """The version in GET /api/info's answer (`info.version`, else `version`), if any."""
    if not isinstance(answer, dict):
        return None
    info = answer.get("info")
    full = info.get("version") if isinstance(info, dict) else None
    return ServerVersion.parse(full) or ServerVersion.parse(answer.get("version"))


class ServerInfo:
    """What the bot knows of its Rocket.Chat server; `version` is None until it was read."""

    def __init__(self, version: ServerVersion | None = None) -> None:
        self.version = version

    def __repr__(self) -> str:
        return f"ServerInfo({self.version})"

    @property
    def has_presence_engine(self) -> bool:
        """8.6 or newer: statuses go through users.setStatus and may expire on the server."""
        return self.version is not None and self.version.at_least(*PRESENCE_ENGINE)

    async def refresh(self, rest: RestClient) -> None:
        """Read the version again (GET /api/info, no login needed). When the server does not
        answer, the version read last is kept: a failed look-up must not stop a reconnect."""
        try:
            answer = await rest.request("GET", "/api/info")
        except ServerError as exc:
            log.warning("could not read the Rocket.Chat version (%s); keeping %s", exc, self)
            return
        version = version_of(answer)
        if version is None:
            log.warning("GET /api/info answered without a version; keeping %s", self)
            return
        changed, self.version = version != self.version, version
        if changed:
            log.info("Rocket.Chat %s (presence engine: %s)", version, self.has_presence_engine)
