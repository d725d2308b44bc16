"""The bot on PostgreSQL while the database server restarts: a command sent while it is down
waits for it and is then handled, once."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from tests.faults.conftest import BotProcess, FaultWorld, count, settle
from tests.postgres_server import TemporaryPostgres, create_database, find_pg_bin

pytestmark = pytest.mark.timeout(90)


@pytest.fixture
async def own_postgres(postgres_admin_url: str) -> AsyncIterator[tuple[TemporaryPostgres, str]]:
    """A PostgreSQL server of this test's own (it is restarted), with an empty database."""
    if find_pg_bin() is None:
        pytest.skip("needs PostgreSQL's binaries to restart a server of its own")
    server = TemporaryPostgres()
    await asyncio.to_thread(server.start)
    try:
        yield server, await create_database(server.url, "rcbot")
    finally:
        await asyncio.to_thread(server.stop)


async def test_a_command_sent_while_the_database_restarts_is_handled_once(
    fault_world: FaultWorld, own_postgres: tuple[TemporaryPostgres, str]
) -> None:
    server, url = own_postgres
    bot = BotProcess(fault_world, db=url, replica_lease=2.0)
    await bot.start()
    try:
        alice = await fault_world.person("alice")
        await alice.delegate()
        await alice.ask("/nick Before", "Nickname set to “Before”")
        await settle(0.5)  # its record is written: nothing is left for a take-over to re-read

        restarting = asyncio.create_task(asyncio.to_thread(server.restart, 2.0))
        await asyncio.sleep(0.5)  # the database is down now
        await alice.tell("/nick During")
        await restarting
        await alice.wait_for_each("Nickname set to “During”", timeout=20)
        await settle(1.0)

        assert count(await alice.answers(), "“During”") == 1
        assert (await alice.profile())["nickname"] == "During"
        await alice.ask("/bio After the restart", "Bio set")  # and it keeps working
        assert await bot.terminate() == 0
    finally:
        await bot.ensure_stopped()
