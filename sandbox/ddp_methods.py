"""The registry of DDP methods: each module under `sandbox/endpoints/` declares its own.

A method handler receives the calling session and the frame's params, and returns the result or
raises a `MeteorError` (sent as the result frame's `error`). `check_for_ddp` is Rocket.Chat's
`twoFactorRequired` around a method (declared with `two_factor=`, or called by the method).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol

from sandbox import twofactor
from sandbox.errors import MeteorError
from sandbox.state import SandboxState
from sandbox.twofactor import TwoFactorOptions


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


def ddp_connection(session: DdpSession) -> twofactor.Connection:
    """The DDP session as a 2FA connection (its resume/login token, UA and IP)."""
    token = session.login_token.get("hashedToken") if session.login_token else None
    return twofactor.Connection(token, session.user_agent or None, session.client_address, {})


def check_for_ddp(
    session: DdpSession, options: TwoFactorOptions, params: list[Any] | tuple[Any, ...]
) -> list[Any]:
    """`twoFactorRequired` around a DDP method; returns the params the method should get.

    A last param `{twoFactorCode, twoFactorMethod}` (both set) is consumed and checked; any
    other truthy last param is put back, a falsy one is dropped (as the JS `pop()` does).
    """
    if not session.user_id:
        raise MeteorError("error-invalid-user", "Invalid user", {"method": "twoFactorRequired"})
    remaining = list(params)
    checked = False
    if remaining:
        last = remaining.pop()
        if twofactor.js_truthy(last):
            if (
                isinstance(last, dict)
                and twofactor.js_truthy(last.get("twoFactorCode"))
                and twofactor.js_truthy(last.get("twoFactorMethod"))
            ):
                twofactor.check_code_for_user(
                    session.state,
                    session.user_id,
                    code=last["twoFactorCode"],
                    method=last["twoFactorMethod"],
                    options=options,
                    connection=ddp_connection(session),
                )
                checked = True
            else:
                remaining.append(last)
    if not checked:
        twofactor.check_code_for_user(
            session.state, session.user_id, options=options, connection=ddp_connection(session)
        )
    return remaining
