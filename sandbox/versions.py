"""Which Rocket.Chat the sandbox behaves as, and where its behaviour changed between releases.

The sandbox models two release lines: 7.4 (the default) and 8.6. `SandboxState.version` holds
the chosen one; behaviour that differs asks `state.at_least(*SINCE)` with one of the
thresholds below, each named after the change it stands for. A threshold marks the first
modelled release that has the change: a change that landed in some 8.x before 8.6 is switched
at 8.6, because the sandbox does not model the releases in between.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# Rocket.Chat 8.6's presence engine (PR #40274 and its follow-ups #40469, #41035, #41047,
# #41048, #41087): status claims, statusSource/statusExpiresAt/previousState, timed statuses.
PRESENCE_ENGINE = (8, 6)
# PR #38354 ("remove rate limiter for functions"): setStatusText/setEmail lose their function
# limiters; users.setStatus (5/60 s) and users.updateOwnBasicInfo (1/60 s) get route limits.
ROUTE_LIMITS_REPLACE_FUNCTION_LIMITS = (8, 6)
# The typed users.* endpoints validate the users.setStatus body with AJV before meteor/check.
TYPED_USERS_ENDPOINTS = (8, 6)

SUPPORTED_LINES = ((7, 4), (8, 6))
_VERSION = re.compile(r"^(\d+)\.(\d+)(?:\.(\d+))?$")


class UnsupportedVersion(ValueError):
    """A version the sandbox does not model; the message lists the ones it does."""


@dataclass(frozen=True, order=True)
class ServerVersion:
    """A Rocket.Chat release, compared component by component."""

    major: int
    minor: int
    patch: int = 0

    @classmethod
    def parse(cls, text: str) -> ServerVersion:
        """Read "7.4", "7.4.0" or "8.6.1"; UnsupportedVersion outside the modelled lines."""
        found = _VERSION.match(text.strip())
        if found is None:
            raise UnsupportedVersion(f"{text!r} is not a Rocket.Chat version like 8.6.0")
        version = cls(int(found[1]), int(found[2]), int(found[3] or 0))
        if (version.major, version.minor) not in SUPPORTED_LINES:
            lines = " and ".join(f"{major}.{minor}.x" for major, minor in SUPPORTED_LINES)
            raise UnsupportedVersion(
                f"Rocket.Chat {version} is not modelled; the sandbox behaves as {lines}"
            )
        return version

    def at_least(self, major: int, minor: int = 0, patch: int = 0) -> bool:
        """This release is `major.minor.patch` or newer."""
        return (self.major, self.minor, self.patch) >= (major, minor, patch)

    @property
    def short(self) -> str:
        """The "major.minor" that `/api/info` shows callers without view-statistics."""
        return f"{self.major}.{self.minor}"

    def __str__(self) -> str:
        return f"{self.major}.{self.minor}.{self.patch}"


DEFAULT_VERSION = ServerVersion(7, 4, 0)
