"""Fixtures shared by every test: an in-process sandbox on a free loopback port."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager
from typing import Any

import aiohttp
import pytest
from hypothesis import settings

from sandbox import serve

# CI must be reproducible: there the property tests replay the same examples every run (explore
# with new ones locally, where a failure is kept in .hypothesis/ and replayed until fixed).
settings.register_profile("ci", derandomize=True, database=None)
if os.environ.get("CI"):
    settings.load_profile("ci")

ADMIN = {"username": "admin", "password": "admin-pass-1", "email": "admin@example.com"}
ADMIN_ENV = {
    "ADMIN_USERNAME": ADMIN["username"],
    "ADMIN_PASS": ADMIN["password"],
    "ADMIN_EMAIL": ADMIN["email"],
}

SandboxFactory = Callable[..., AbstractAsyncContextManager[str]]

# The realtime fixtures (`realtime`, a raw DDP client) live with the DDP test client.
pytest_plugins = ("tests.ddp_client",)


@pytest.fixture
def sandbox_factory() -> SandboxFactory:
    """Start a sandbox with extra environment: `async with sandbox_factory(X="1") as url:`."""

    def factory(data_file: Any = None, **environ: str) -> AbstractAsyncContextManager[str]:
        return serve("127.0.0.1", 0, data_file=data_file, environ={**ADMIN_ENV, **environ})

    return factory


@pytest.fixture
async def sandbox_url(sandbox_factory: SandboxFactory) -> AsyncIterator[str]:
    """A sandbox with Rocket.Chat's default settings and an admin from ADMIN_* variables."""
    async with sandbox_factory() as url:
        yield url


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session
