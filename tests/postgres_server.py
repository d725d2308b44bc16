"""Throwaway PostgreSQL servers for tests and CI, from the system's PostgreSQL binaries.

As a library: `with TemporaryPostgres() as pg: ... pg.url ...`, plus `create_database` and
`drop_database` for one empty database per test.

As a command (used by .ci/run), with a directory that outlives the process:
    python -m tests.postgres_server start --dir D   # prints the server's URL
    python -m tests.postgres_server stop --dir D    # stops the server and removes D
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import TracebackType
from typing import Self
from urllib.parse import urlsplit

import asyncpg

PG_ROOT = Path("/usr/lib/postgresql")
PG_USER = "postgres"  # the OS user that runs the server when we are root, and the superuser
REQUIRED = ("initdb", "pg_ctl", "postgres")
SETTINGS = {
    "listen_addresses": "'127.0.0.1'",
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
    "max_connections": "200",  # 3 bot replicas with their pools, plus the tests' own connections
}
OWN_FILES = {"data", "sock", "server.log"}  # all that a server's directory holds
_DB_NAME = re.compile(r"[a-z_][a-z0-9_]{0,62}")


class PostgresError(RuntimeError):
    """A throwaway PostgreSQL server could not be created, started or stopped."""


def _has_binaries(directory: Path) -> bool:
    return all(os.access(directory / name, os.X_OK) for name in REQUIRED)


def _version_key(directory: Path) -> tuple[int, ...]:
    """Sort key of /usr/lib/postgresql/<version>/bin: numerically by version."""
    return tuple(int(part) for part in re.findall(r"\d+", directory.parent.name))


def find_pg_bin() -> Path | None:
    """PG_BIN if set, else the newest /usr/lib/postgresql/*/bin with initdb, pg_ctl, postgres."""
    if override := os.environ.get("PG_BIN"):
        return Path(override) if _has_binaries(Path(override)) else None
    candidates = [d for d in PG_ROOT.glob("*/bin") if _has_binaries(d)]
    return max(candidates, key=_version_key, default=None)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _tail(path: Path, lines: int = 20) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


class TemporaryPostgres:
    """A PostgreSQL cluster in a temporary directory, on 127.0.0.1, trusting every local user.

    The directory holds data/ (the cluster), sock/ (its unix socket) and server.log. When run as
    root it is owned by the `postgres` user, who runs the binaries (PostgreSQL refuses root).
    """

    def __init__(self, directory: Path | None = None, pg_bin: Path | None = None) -> None:
        self.pg_bin = pg_bin or find_pg_bin()
        self.directory = directory
        self.port: int | None = None

    @property
    def data_dir(self) -> Path:
        return self._dir() / "data"

    @property
    def log_file(self) -> Path:
        return self._dir() / "server.log"

    @property
    def url(self) -> str:
        """The superuser's URL of the `postgres` database; only once started."""
        if self.port is None:
            raise PostgresError("the server is not started")
        return f"postgresql://{PG_USER}@127.0.0.1:{self.port}/postgres"

    def _dir(self) -> Path:
        if self.directory is None:
            raise PostgresError("the server has no directory yet: start() it first")
        return self.directory

    def _run(self, tool: str, *args: str) -> subprocess.CompletedProcess[str]:
        """Run one PostgreSQL binary, as the postgres user when we are root."""
        if self.pg_bin is None:
            raise PostgresError(
                f"no PostgreSQL binaries ({', '.join(REQUIRED)}) in {PG_ROOT}/*/bin or PG_BIN;"
                " install them with `apt-get install postgresql`"
            )
        command = [str(self.pg_bin / tool), *args]
        if os.geteuid() == 0:
            command = ["runuser", "-u", PG_USER, "--", *command]
        # cwd: the postgres user may not be allowed into ours (e.g. /root).
        return subprocess.run(
            command, cwd=self._dir(), capture_output=True, text=True, timeout=120, check=False
        )

    def _fail(self, what: str, result: subprocess.CompletedProcess[str]) -> PostgresError:
        output = (result.stdout + result.stderr).strip()
        return PostgresError(
            f"{what} failed (exit {result.returncode}) in {self.directory}:\n{output}\n"
            f"--- tail of {self.log_file} ---\n{_tail(self.log_file)}"
        )

    def start(self) -> str:
        """Create the cluster, start the server and return its URL (cleaning up if it fails)."""
        if self.directory is None:
            self.directory = Path(tempfile.mkdtemp(prefix="rcbot-pg-"))
        self.directory.mkdir(parents=True, exist_ok=True)
        if any(self.directory.iterdir()):
            raise PostgresError(f"{self.directory} is not empty")
        try:
            return self._start()
        except BaseException:
            self.stop()
            raise

    def _start(self) -> str:
        sock_dir = self._dir() / "sock"
        sock_dir.mkdir()
        if os.geteuid() == 0:
            shutil.chown(self._dir(), PG_USER, PG_USER)
            shutil.chown(sock_dir, PG_USER, PG_USER)
            reach = ["runuser", "-u", PG_USER, "--", "test", "-w", str(self._dir())]
            if subprocess.run(reach, capture_output=True, check=False).returncode != 0:
                raise PostgresError(
                    f"the {PG_USER} user cannot reach {self._dir()}: every directory above it"
                    " must be searchable by others (chmod o+x), e.g. use one under /tmp"
                )
        result = self._run(
            "initdb", "-D", str(self.data_dir), "-A", "trust", "-U", PG_USER,
            "--no-sync", "-E", "UTF8", "--locale=C",
        )  # fmt: skip
        if result.returncode != 0:
            raise self._fail("initdb", result)
        settings = {**SETTINGS, "unix_socket_directories": f"'{sock_dir}'"}
        with (self.data_dir / "postgresql.conf").open("a") as conf:
            conf.write("\n# tests/postgres_server.py\n")
            conf.writelines(f"{key} = {value}\n" for key, value in settings.items())

        for _attempt in range(3):  # another process may take the free port before we bind it
            self.port = free_port()
            result = self._run(
                "pg_ctl", "start", "-w", "-t", "60", "-D", str(self.data_dir),
                "-l", str(self.log_file), "-o", f"-p {self.port}",
            )  # fmt: skip
            if result.returncode == 0:
                return self.url
            if "could not bind" not in _tail(self.log_file):
                break
        self.port = None
        raise self._fail("pg_ctl start", result)

    def restart(self, down_for: float = 0.0) -> None:
        """Stop the server at once (as a crash would), wait `down_for` seconds, and start it
        again on the same port and data."""
        result = self._run("pg_ctl", "stop", "-w", "-m", "immediate", "-D", str(self.data_dir))
        if result.returncode != 0:
            raise self._fail("pg_ctl stop", result)
        time.sleep(down_for)
        result = self._run(
            "pg_ctl", "start", "-w", "-t", "60", "-D", str(self.data_dir),
            "-l", str(self.log_file), "-o", f"-p {self.port}",
        )  # fmt: skip
        if result.returncode != 0:
            raise self._fail("pg_ctl start", result)

    def stop(self) -> None:
        """Stop the server (if running) and remove its directory."""
        if self.directory is None or not self.directory.exists():
            return
        strangers = {path.name for path in self.directory.iterdir()} - OWN_FILES
        if strangers:  # never delete what a wrong --dir points at
            raise PostgresError(
                f"{self.directory} is not a server's own: it has {sorted(strangers)}"
            )
        if (self.data_dir / "postmaster.pid").exists():
            result = self._run("pg_ctl", "stop", "-w", "-m", "immediate", "-D", str(self.data_dir))
            # A stale postmaster.pid (server already gone) is fine: `status` exits 3 then.
            if (
                result.returncode != 0
                and self._run("pg_ctl", "status", "-D", str(self.data_dir)).returncode != 3
            ):
                raise self._fail("pg_ctl stop", result)  # keep the directory to look into
        shutil.rmtree(self.directory)
        self.port = None

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()


def _database_name(name: str) -> str:
    if not _DB_NAME.fullmatch(name):
        raise ValueError(f"database name {name!r} must match {_DB_NAME.pattern}")
    return name


async def create_database(admin_url: str, name: str) -> str:
    """Create an empty database `name` on admin_url's server and return its URL."""
    connection = await asyncpg.connect(admin_url)
    try:
        await connection.execute(f'CREATE DATABASE "{_database_name(name)}"')
    finally:
        await connection.close()
    return urlsplit(admin_url)._replace(path=f"/{name}").geturl()


async def drop_database(admin_url: str, name: str) -> None:
    """Drop database `name`, disconnecting whoever is still connected to it."""
    connection = await asyncpg.connect(admin_url)
    try:
        await connection.execute(f'DROP DATABASE IF EXISTS "{_database_name(name)}" WITH (FORCE)')
    finally:
        await connection.close()


def main(argv: list[str] | None = None) -> int:
    """`start --dir D` prints the URL of a new server in D; `stop --dir D` ends it."""
    parser = argparse.ArgumentParser(prog="python -m tests.postgres_server", description=__doc__)
    parser.add_argument("action", choices=("start", "stop"))
    parser.add_argument("--dir", type=Path, required=True, help="the server's own directory")
    args = parser.parse_args(argv)
    try:
        server = TemporaryPostgres(args.dir.resolve())
        if args.action == "start":
            print(server.start())
        else:
            server.stop()
    except PostgresError as error:
        print(f"postgres_server: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
