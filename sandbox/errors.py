"""Errors the sandbox raises, shaped like the ones Rocket.Chat throws.

    Exception
     ├── MeteorError        Meteor.Error: REST error "<reason> [<error>]" plus errorType/details
     │    └── CoreMeteorError   core-services MeteorError: REST error is the bare code
     ├── PlainError         a plain JS Error: REST {"success":false,"error":message}, no errorType
     │    └── MatchError        meteor/check's Match.Error: DDP sends the sanitized 400 "Match failed"
     └── Failure            API.v1.failure('text'): 400 {"success":false,"error":text}

The REST pipeline (sandbox.api) and the DDP server (sandbox.ddp) map these to wire shapes.
"""

from __future__ import annotations

from typing import Any


class MeteorError(Exception):
    """A Meteor.Error(error, reason, details)."""

    def __init__(self, error: str | int, reason: str | None = None, details: Any = None) -> None:
        self.error = error
        self.reason = reason
        self.details = details
        super().__init__(self.message)

    @property
    def message(self) -> str:
        """Meteor's message: "<reason> [<error>]", or "[<error>]" without a reason."""
        return f"{self.reason} [{self.error}]" if self.reason else f"[{self.error}]"

    def ddp_error(self) -> dict[str, Any]:
        """The `error` object of a DDP result frame."""
        body: dict[str, Any] = {"isClientSafe": True, "error": self.error}
        if self.reason is not None:
            body["reason"] = self.reason
        if self.details is not None:
            body["details"] = self.details
        body["message"] = self.message
        body["errorType"] = "Meteor.Error"
        return body


class CoreMeteorError(MeteorError):
    """MeteorError from @rocket.chat/core-services: its `message` is the bare code on REST."""

    @property
    def rest_message(self) -> str:
        return str(self.error)


class PlainError(Exception):
    """A plain JS `Error(message)`: no errorType on REST."""

    def __init__(self, message: str) -> None:
        self.message = message
        super().__init__(message)


class MatchError(PlainError):
    """`check()` failed: REST shows "Match error: ...", DDP the sanitized 400 "Match failed"."""

    def __init__(self, detail: str = "Failed Match.Where validation") -> None:
        super().__init__(f"Match error: {detail}")

    @staticmethod
    def ddp_error() -> dict[str, Any]:
        """The `error` of a DDP result frame: Match.Error's sanitizedError."""
        return MeteorError(400, "Match failed").ddp_error()


class Failure(Exception):
    """`API.v1.failure(text, errorType?)`: 400 with `error` (and `errorType` when given)."""

    def __init__(self, text: str, status: int = 400, error_type: str | None = None) -> None:
        self.text = text
        self.status = status
        self.error_type = error_type
        super().__init__(text)


class RawResponse(Exception):
    """A route answering with its own status and body (REST `login` failures, 500s, the 307
    of users.getAvatar whose body is a bare URL string)."""

    def __init__(self, status: int, body: Any) -> None:
        self.status = status
        self.body = body
        super().__init__(f"{status}: {body}")
