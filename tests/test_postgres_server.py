"""The PostgreSQL test fixtures give real, separate databases; throwaway servers clean up."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

import asyncpg
import pytest

from tests.postgres_server import (
    PostgresError,
    TemporaryPostgres,
    create_database,
    drop_database,
    find_pg_bin,
)

REPO = Path(__file__).resolve().parent.parent
needs_binaries = pytest.mark.skipif(find_pg_bin() is None, reason="no PostgreSQL binaries")


async def test_database_round_trip(postgres_url: str) -> None:
    connection = await asyncpg.connect(postgres_url)
    try:
        assert (
            await connection.fetchval("SELECT current_database()")
            == postgres_url.rsplit("/", 1)[1]
        )
        await connection.execute("CREATE TABLE notes (id serial PRIMARY KEY, body text NOT NULL)")
        await connection.executemany(
            "INSERT INTO notes (body) VALUES ($1)", [("héllo",), ("wörld",)]
        )
        rows = await connection.fetch("SELECT body FROM notes ORDER BY id")
        assert [row["body"] for row in rows] == ["héllo", "wörld"]
    finally:
        await connection.close()


async def test_databases_are_separate(postgres_admin_url: str, postgres_url: str) -> None:
    name = "t_other_" + postgres_url.rsplit("_", 1)[1]
    other_url = await create_database(postgres_admin_url, name)
    try:
        first, second = await asyncio.gather(
            asyncpg.connect(postgres_url), asyncpg.connect(other_url)
        )
        try:
            await first.execute("CREATE TABLE only_here (x int)")
            assert await first.fetchval("SELECT to_regclass('only_here') IS NOT NULL")
            assert not await second.fetchval("SELECT to_regclass('only_here') IS NOT NULL")
        finally:
            await asyncio.gather(first.close(), second.close())
    finally:
        await drop_database(postgres_admin_url, name)
    admin = await asyncpg.connect(postgres_admin_url)
    try:
        assert not await admin.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name)
    finally:
        await admin.close()


async def test_drop_disconnects_users(postgres_admin_url: str) -> None:
    name = f"t_drop_{uuid.uuid4().hex[:12]}"
    connection = await asyncpg.connect(await create_database(postgres_admin_url, name))
    try:
        await drop_database(postgres_admin_url, name)  # WITH (FORCE): does not wait for us
        assert not await _alive(connection)
    finally:
        await connection.close()


async def _alive(connection: asyncpg.Connection) -> bool:
    try:
        await connection.fetchval("SELECT 1")
    except (asyncpg.PostgresError, asyncpg.InterfaceError, ConnectionError):
        return False
    return True


async def test_bad_database_name_is_refused(postgres_admin_url: str) -> None:
    with pytest.raises(ValueError):
        await create_database(postgres_admin_url, 'x"; DROP DATABASE postgres; --')


@needs_binaries
def test_temporary_postgres_starts_and_cleans_up() -> None:
    with TemporaryPostgres() as server:
        directory = server.directory
        assert directory is not None and (directory / "data" / "postmaster.pid").exists()
        assert server.url.startswith("postgresql://postgres@127.0.0.1:")

        async def settings() -> list[str]:
            connection = await asyncpg.connect(server.url)
            try:
                return [
                    await connection.fetchval(f"SHOW {name}")
                    for name in ("fsync", "max_connections", "server_encoding")
                ]
            finally:
                await connection.close()

        assert asyncio.run(settings()) == ["off", "200", "UTF8"]
    assert not directory.exists()
    with pytest.raises(PostgresError, match="not started"):
        assert not server.url


@needs_binaries
def test_command_line_start_and_stop() -> None:
    def run(action: str, directory: Path) -> str:
        command = [sys.executable, "-m", "tests.postgres_server", action, "--dir", str(directory)]
        result = subprocess.run(
            command, cwd=REPO, capture_output=True, text=True, timeout=60, check=False
        )
        assert result.returncode == 0, result.stderr
        return result.stdout

    # As .ci/run does with `mktemp -d`: a new empty directory that the server takes over (not one
    # inside tmp_path: as root, the postgres user could not enter pytest's private directory).
    directory = Path(tempfile.mkdtemp(prefix="rcbot-pg-test-"))
    try:
        url = run("start", directory).strip()
        try:
            assert url.startswith("postgresql://postgres@127.0.0.1:")
            assert (directory / "data" / "postmaster.pid").exists()
        finally:
            run("stop", directory)
        assert not directory.exists()
    finally:
        shutil.rmtree(directory, ignore_errors=True)


@needs_binaries
@pytest.mark.skipif(os.geteuid() != 0, reason="only root hands the directory to postgres")
def test_unreachable_directory_is_explained(tmp_path: Path) -> None:
    tmp_path.chmod(0o700)  # as pytest's own /tmp/pytest-of-root is
    with pytest.raises(PostgresError, match="cannot reach"):
        TemporaryPostgres(tmp_path / "pg").start()
    assert not (tmp_path / "pg").exists()


@needs_binaries
def test_stop_refuses_a_foreign_directory(tmp_path: Path) -> None:
    (tmp_path / "precious.txt").write_text("keep me")
    with pytest.raises(PostgresError, match="not a server's own"):
        TemporaryPostgres(tmp_path).stop()
    assert (tmp_path / "precious.txt").exists()
