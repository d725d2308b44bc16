"""Fixtures for the sandbox conformance tests.

* `sandbox_factory` (overrides the root one): bcrypt cost 4, which changes speed only.
* `world` / `world_factory`: an in-process sandbox with its state, so a test can create
  accounts without spending the REST rate limit, read the outbox and move the clock.
* `DdpClient`: a bare DDP connection (the shared `sandbox.ddp_client.DdpClient`, connected).
* `any_world`: the same test against each Rocket.Chat the sandbox models (7.4 and 8.6), for
  behaviour that differs between them; `world86`: 8.6 only.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import pytest

from sandbox import accounts, credentials, ddp_client
from sandbox.server import serve, serve_state
from sandbox.state import SandboxState
from tests.conftest import ADMIN, ADMIN_ENV
from tests.rest_helpers import Reply, call

FAST_ENV = {**ADMIN_ENV, "SANDBOX_BCRYPT_ROUNDS": "4"}
VERSIONS = ("7.4.0", "8.6.0")


@pytest.fixture
def sandbox_factory() -> Callable[..., AbstractAsyncContextManager[str]]:
    """Start a sandbox with extra environment (fast bcrypt): `async with sandbox_factory():`."""

    def factory(data_file: Any = None, **environ: str) -> AbstractAsyncContextManager[str]:
        return serve("127.0.0.1", 0, data_file=data_file, environ={**FAST_ENV, **environ})

    return factory


@dataclass
class Account:
    """A user the test holds credentials for."""

    user_id: str
    username: str
    password: str
    token: str

    @property
    def auth(self) -> tuple[str, str]:
        return self.user_id, self.token


@dataclass
class World:
    """A running in-process sandbox: base URL, state and helpers."""

    url: str
    state: SandboxState
    http: aiohttp.ClientSession
    admin: Account = field(init=False)

    def add_user(
        self,
        username: str,
        password: str = "pass-word-1",
        *,
        email: str | None = None,
        verified: bool = False,
        roles: list[str] | None = None,
        name: str | None = None,
    ) -> Account:
        """Create a user and a login token in-process (no REST call, no rate limit spent)."""
        user = accounts.create_user(
            self.state,
            username=username,
            email=email or f"{username}@example.com",
            password=password,
            name=name if name is not None else username.title(),
            roles=roles,
            verified=verified,
        )
        token, _ = credentials.issue_login_token(self.state, user)
        return Account(user["_id"], username, password, token)

    def user(self, account: Account) -> dict[str, Any]:
        """The stored user document."""
        return self.state.users[account.user_id]

    def advance(self, seconds: float) -> None:
        """Move the sandbox clock forward (what came due on the way runs)."""
        self.state.advance_clock(seconds)

    @property
    def engine(self) -> bool:
        """This sandbox behaves as Rocket.Chat 8.6+ (the presence engine)."""
        return self.state.at_least(8, 6)

    def age_accounts(self) -> None:
        """Skip past 2FA "remember right after registration" (RememberFor = 30 min)."""
        self.advance(31 * 60)

    def set(self, setting_id: str, value: Any) -> None:
        self.state.settings[setting_id] = value

    def emails_to(self, address: str) -> list[dict[str, Any]]:
        return [mail for mail in self.state.emails if mail["to"] == address]

    def last_code(self, address: str) -> str:
        """The 2FA code of the last "Authentication code" mail to `address` (as "123-456")."""
        mails = [m for m in self.emails_to(address) if m["subject"] == "Authentication code"]
        assert mails, f"no code mailed to {address}"
        lines = [
            line for line in mails[-1]["text"].splitlines() if "-" in line and line[:3].isdigit()
        ]
        return lines[0]

    async def call(self, method: str, endpoint: str, **kwargs: Any) -> Reply:
        return await call(self.http, self.url, method, endpoint, **kwargs)


WorldFactory = Callable[..., AbstractAsyncContextManager[World]]


@pytest.fixture
def world_factory(http: aiohttp.ClientSession) -> WorldFactory:
    """`async with world_factory(OVERWRITE_SETTING_X="1") as world:`."""

    @asynccontextmanager
    async def factory(data_file: Any = None, **environ: str) -> AsyncIterator[World]:
        async with serve_state(
            "127.0.0.1", 0, data_file=data_file, environ={**FAST_ENV, **environ}
        ) as (url, state):
            world = World(url, state, http)
            admin = state.user_by_username(ADMIN["username"])
            if admin is not None:
                token, _ = credentials.issue_login_token(state, admin)
                world.admin = Account(admin["_id"], ADMIN["username"], ADMIN["password"], token)
            yield world

    return factory


@pytest.fixture
async def world(world_factory: WorldFactory) -> AsyncIterator[World]:
    """A sandbox with Rocket.Chat's defaults and the ADMIN_* admin."""
    async with world_factory() as running:
        yield running


@pytest.fixture(params=VERSIONS)
async def any_world(
    request: pytest.FixtureRequest, world_factory: WorldFactory
) -> AsyncIterator[World]:
    """`world` as each modelled Rocket.Chat in turn (SANDBOX_RC_VERSION)."""
    async with world_factory(SANDBOX_RC_VERSION=request.param) as running:
        yield running


@pytest.fixture
async def world86(world_factory: WorldFactory) -> AsyncIterator[World]:
    """`world` as Rocket.Chat 8.6."""
    async with world_factory(SANDBOX_RC_VERSION="8.6.0") as running:
        yield running


class DdpClient(ddp_client.DdpClient):
    """A bare DDP connection for tests: connect, call methods, read results."""

    def __init__(self) -> None:
        super().__init__(keep_frames=True, timeout=3.0)

    @classmethod
    @asynccontextmanager
    async def connect(
        cls, http: aiohttp.ClientSession, base_url: str, **headers: str
    ) -> AsyncIterator[DdpClient]:
        """A DDP-connected client (with these HTTP headers on the websocket's request)."""
        async with cls().opened(http, base_url, headers=headers) as client:
            await client.handshake()
            yield client

    async def method(self, name: str, *params: Any) -> dict[str, Any]:
        """Call a method and return its `result` frame (with `result` or `error`)."""
        return await self.call_frame(name, *params)

    async def login(self, token: str) -> dict[str, Any]:
        frame = await self.login_resume(token)
        assert "error" not in frame, frame
        return frame
