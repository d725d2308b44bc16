"""The registry of DDP methods: each module under `sandbox/endpoints/` declares its own.

A method handler receives the calling session and the frame's params, and returns the result or
raises a `MeteorError` (sent as the result frame's `error`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol

from sandbox.api import TwoFactorOptions
from sandbox.state import SandboxState


class DdpSession(Protocol):
    """What a DDP method may know about the connection that called it."""

    state: SandboxState
    session_id: str
    user_id: str | None  # None until a login succeeds
    login_token: dict[str, Any] | None  # the loginTokens entry the session logged in with
    client_address: str
    user_agent: str

    def set_login(self, user_id: str | None, login_token: dict[str, Any] | None) -> None:
        """Record (or clear, on logout) who this connection is logged in as."""


MethodHandler = Callable[..., Awaitable[Any]]


@dataclass
class DdpMethod:
    name: str
    handler: MethodHandler  # async (session, *params) -> result
    two_factor: TwoFactorOptions | None  # wrapped by `twoFactorRequired`


METHODS: dict[str, DdpMethod] = {}


def ddp_method(
    name: str, *, two_factor: TwoFactorOptions | None = None
) -> Callable[[MethodHandler], MethodHandler]:
    """Declare a DDP method; with `two_factor`, the last param may carry the 2FA code."""

    def register(handler: MethodHandler) -> MethodHandler:
        if name in METHODS:
            raise RuntimeError(f"DDP method {name} declared twice")
        METHODS[name] = DdpMethod(name, handler, two_factor)
        return handler

    return register
