"""Fixtures shared by every test: an in-process sandbox on a free loopback port."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AbstractAsyncContextManager
from typing import Any

import aiohttp
import pytest
from hypothesis import settings

from sandbox import serve
from tests.postgres_server import TemporaryPostgres, create_database, drop_database, find_pg_bin

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

# The Rocket.Chat the sandboxes of the whole suite behave as: SANDBOX_RC_VERSION=8.6.0 runs
# every test against 8.6. Tests whose behaviour differs by release are parametrised over
# RC_VERSIONS instead, and ignore it.
RC_VERSION = os.environ.get("SANDBOX_RC_VERSION", "7.4.0")
RC_VERSIONS = ("7.4.0", "8.6.0")


def rc_environ(version: str) -> dict[str, str]:
    """The sandbox environment for Rocket.Chat `version`, set up as the README tells admins:
    on 8.x the REST limiter is off (it allows one profile change a minute per address)."""
    environ = {"SANDBOX_RC_VERSION": version}
    if not version.startswith("7."):
        environ["OVERWRITE_SETTING_API_Enable_Rate_Limiter"] = "false"
    return environ


SandboxFactory = Callable[..., AbstractAsyncContextManager[str]]

# The realtime fixtures (`realtime`, a raw DDP client) live with the DDP test client.
pytest_plugins = ("tests.ddp_client",)


@pytest.fixture
def sandbox_factory() -> SandboxFactory:
    """Start a sandbox with extra environment: `async with sandbox_factory(X="1") as url:`."""

    def factory(data_file: Any = None, **environ: str) -> AbstractAsyncContextManager[str]:
        version = environ.get("SANDBOX_RC_VERSION", RC_VERSION)
        environ = {**ADMIN_ENV, **rc_environ(version), **environ}
        return serve("127.0.0.1", 0, data_file=data_file, environ=environ)

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


@pytest.fixture(scope="session")
def postgres_admin_url() -> Iterator[str]:
    """A PostgreSQL server's superuser URL: $RCBOT_TEST_POSTGRES, or a throwaway local server."""
    if url := os.environ.get("RCBOT_TEST_POSTGRES"):
        yield url
        return
    if find_pg_bin() is None:
        if os.environ.get("CI"):
            pytest.fail("PostgreSQL is required in CI; .ci/run installs it")
        pytest.skip(
            "no PostgreSQL server: install one with `apt-get install postgresql`"
            " (or set RCBOT_TEST_POSTGRES to a superuser's URL)"
        )
    with TemporaryPostgres() as server:
        yield server.url


@pytest.fixture
async def postgres_url(postgres_admin_url: str) -> AsyncIterator[str]:
    """The URL of a new, empty database of its own, dropped after the test."""
    name = f"t_{uuid.uuid4().hex[:12]}"
    url = await create_database(postgres_admin_url, name)
    try:
        yield url
    finally:
        await drop_database(postgres_admin_url, name)


BACKENDS = ("sqlite", "postgresql")


@pytest.fixture(params=BACKENDS)
def store_location(request: pytest.FixtureRequest, tmp_path: Any) -> str:
    """Where a Store opens, once per backend: an SQLite file, then a fresh PostgreSQL database.
    Contract tests take this so the same test proves both backends."""
    if request.param == "sqlite":
        return str(tmp_path / "bot.db")
    return str(request.getfixturevalue("postgres_url"))
