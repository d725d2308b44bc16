"""Start-up as admins meet it: Rocket.Chat often starts after the bot (its database comes up
first), so `rcbot run` waits for it, logging each try; what waiting cannot fix (a wrong bot
password, a corrupt, read-only or locked database file, an unreadable configuration) ends in
one clear line naming the cause and what to do, with a documented exit code, and no traceback.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

from bot.app.cli import EXIT_CONFIG, EXIT_DATABASE, EXIT_LOGIN
from bot.core.crypto import generate_key
from tests.e2e.conftest import BOT_PASSWORD
from tests.faults.conftest import FAST, FaultWorld, Sandbox
from tests.faults.test_storage_lock import LOCKER
from tests.security.conftest import bot_environment, bot_process, free_port

NEVER = ("Traceback", "Unclosed client session", "Unclosed connector")


def environment(url: str, db: Path, **extra: str) -> dict[str, str]:
    fast = {f"RCBOT_{key.upper()}": str(value) for key, value in FAST.items()}
    return bot_environment(url, db, generate_key(), **{**fast, **extra})


def problem_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("rcbot: ")]


async def run_until_exit(environ: dict[str, str], cwd: Path) -> tuple[int, str]:
    async with bot_process(environ, cwd) as process:
        code = await process.finish(timeout=30)
    return code, process.stderr


async def test_start_up_waits_for_rocket_chat_and_logs_each_try(
    fault_world: FaultWorld, tmp_path: Path
) -> None:
    port = free_port()
    await fault_world.sandbox.stop()  # the workspace (with the bot account) is on its data file
    environ = environment(f"http://127.0.0.1:{port}", tmp_path / "bot.db")
    async with bot_process(environ, tmp_path) as bot:
        await bot.wait_for_log("(attempt 2)")
        assert bot.process.returncode is None
        late = Sandbox(fault_world.sandbox.data_file)
        late.port = port
        await late.start()  # Rocket.Chat comes up after the bot
        fault_world.sandbox = late
        try:
            await bot.wait_for_log("ready: listening")
            alice = await fault_world.person("alice")
            assert "/status" in await alice.ask("/help", "/status")
            bot.process.terminate()
            assert await bot.finish() == 0
        finally:
            await late.stop()
    waiting = [line for line in bot.stderr.splitlines() if "cannot reach Rocket.Chat" in line]
    assert len(waiting) >= 2 and "trying again in" in waiting[0]
    assert not any(marker in bot.stderr for marker in NEVER), bot.stderr[-3000:]


async def test_a_wrong_bot_password_is_one_clear_line_and_exit_code_3(
    fault_world: FaultWorld, tmp_path: Path
) -> None:
    environ = environment(
        fault_world.sandbox.url, tmp_path / "bot.db", RCBOT_PASSWORD="not-" + BOT_PASSWORD
    )
    code, stderr = await run_until_exit(environ, tmp_path)
    assert code == EXIT_LOGIN == 3, stderr
    (line,) = problem_lines(stderr)
    assert "refused the bot's login" in line and "RCBOT_PASSWORD" in line
    assert not any(marker in stderr for marker in NEVER), stderr
    assert BOT_PASSWORD not in stderr


async def test_a_corrupt_database_file_is_one_clear_line_and_exit_code_4(
    fault_world: FaultWorld, tmp_path: Path
) -> None:
    db = tmp_path / "bot.db"
    db.write_bytes(b"this is not an SQLite database, it was overwritten by mistake" * 100)
    code, stderr = await run_until_exit(environment(fault_world.sandbox.url, db), tmp_path)
    assert code == EXIT_DATABASE == 4, stderr
    (line,) = problem_lines(stderr)
    assert "not a usable SQLite database" in line and str(db) in line
    assert not any(marker in stderr for marker in NEVER), stderr


@contextlib.contextmanager
def read_only(path: Path) -> Iterator[None]:
    """Make `path` unwritable even for root (the immutable flag), or by its mode otherwise."""
    if os.geteuid() == 0:
        subprocess.run(["chattr", "+i", str(path)], check=True)
        try:
            yield
        finally:
            subprocess.run(["chattr", "-i", str(path)], check=True)
    else:
        path.chmod(0o444)
        try:
            yield
        finally:
            path.chmod(0o600)


async def test_a_read_only_database_file_is_one_clear_line_and_exit_code_4(
    fault_world: FaultWorld, tmp_path: Path
) -> None:
    db = fault_world.db
    await fault_world.start_bot()  # a real database of the bot's (the world's), then stopped
    await fault_world.stop_bot()
    for sidecar in tmp_path.glob("bot.db-*"):
        sidecar.unlink()
    environ = environment(fault_world.sandbox.url, db)
    with read_only(db):
        code, stderr = await run_until_exit(environ, tmp_path)
    assert code == EXIT_DATABASE, stderr
    (line,) = problem_lines(stderr)
    assert "read-only" in line and str(db) in line
    assert not any(marker in stderr for marker in NEVER), stderr


async def test_a_locked_database_file_is_one_clear_line_and_exit_code_4(
    fault_world: FaultWorld, tmp_path: Path
) -> None:
    db = fault_world.db
    await fault_world.start_bot()
    await fault_world.stop_bot()
    locker = await asyncio.create_subprocess_exec(
        sys.executable, "-c", LOCKER, str(db), "15", stdout=asyncio.subprocess.PIPE
    )
    try:
        assert locker.stdout is not None
        assert await locker.stdout.readline() == b"locked\n"
        code, stderr = await run_until_exit(environment(fault_world.sandbox.url, db), tmp_path)
    finally:
        locker.kill()
        await locker.wait()
    assert code == EXIT_DATABASE, stderr
    (line,) = problem_lines(stderr)
    assert "locked by another process" in line
    assert not any(marker in stderr for marker in NEVER), stderr


async def test_an_unreadable_configuration_is_one_clear_line_and_exit_code_2(
    tmp_path: Path,
) -> None:
    environ = environment("http://127.0.0.1:9", tmp_path / "bot.db")
    folder = tmp_path / "folder.toml"
    folder.mkdir()
    garbage = tmp_path / "garbage.toml"
    garbage.write_bytes(b"\xff\xfe\x00 not TOML at all \x80")
    for config, reason in ((folder, "is not a file"), (garbage, "is not valid TOML")):
        async with bot_process(environ, tmp_path, "run", "-c", str(config)) as process:
            code = await process.finish(timeout=30)
        assert code == EXIT_CONFIG, process.stderr
        assert reason in process.stderr
        assert not any(marker in process.stderr for marker in NEVER), process.stderr


async def test_sigterm_while_waiting_for_rocket_chat_exits_cleanly(tmp_path: Path) -> None:
    environ = environment(f"http://127.0.0.1:{free_port()}", tmp_path / "bot.db")
    async with bot_process(environ, tmp_path) as bot:
        await bot.wait_for_log("(attempt 1)")
        bot.process.terminate()
        assert await bot.finish() == 0
    assert "stopped before Rocket.Chat could be reached" in bot.stderr
    assert not any(marker in bot.stderr for marker in NEVER), bot.stderr
