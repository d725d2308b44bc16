"""The bot as people run it: `python -m bot run` in its own process, and `rcbot demo`."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

import pytest

from bot.app.demo import run_demo
from bot.core.crypto import generate_key
from sandbox import serve
from sandbox.people import Person, create_account
from tests.conftest import ADMIN, ADMIN_ENV, RC_VERSION, RC_VERSIONS, rc_environ
from tests.e2e.conftest import BOT_NAME, BOT_PASSWORD, PASSWORD, WORKSPACE_ENV


async def test_rcbot_run_serves_commands_and_stops_cleanly_on_sigterm(tmp_path: Path) -> None:
    environ = {**ADMIN_ENV, **WORKSPACE_ENV, **rc_environ(RC_VERSION)}
    async with serve("127.0.0.1", 0, environ=environ) as url:
        async with Person(url, ADMIN["username"], ADMIN["password"]) as admin:
            for username, password, roles in (
                (BOT_NAME, BOT_PASSWORD, ["bot"]),
                ("alice", PASSWORD, ["user"]),
            ):
                await create_account(admin, username, password, name=username, roles=roles)
        environ = {k: v for k, v in os.environ.items() if not k.startswith("RCBOT_")}
        environ.update(
            {
                "RCBOT_SERVER_URL": url,
                "RCBOT_USERNAME": BOT_NAME,
                "RCBOT_PASSWORD": BOT_PASSWORD,
                "RCBOT_DB": str(tmp_path / "bot.db"),
                "RCBOT_SECRET_KEY": generate_key(),
                "RCBOT_LOG_LEVEL": "INFO",
            }
        )
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bot",
            "run",
            env=environ,
            cwd=tmp_path,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        try:
            async with Person(url, "alice", PASSWORD) as alice:
                answer = None
                for _ in range(50):  # the process needs a moment to start and log in
                    try:
                        answer = await alice.ask(BOT_NAME, "/help", timeout=0.3)
                        break
                    except TimeoutError:
                        continue
                assert answer is not None and "/status" in answer["msg"]
            process.send_signal(signal.SIGTERM)
            _, stderr = await asyncio.wait_for(process.communicate(), 15)
        finally:
            if process.returncode is None:
                process.kill()
                await process.wait()
        assert process.returncode == 0, stderr.decode()
        assert BOT_PASSWORD not in stderr.decode()


@pytest.mark.parametrize("rc_version", RC_VERSIONS)
async def test_demo_plays_every_step_and_exits_zero(rc_version: str) -> None:
    lines: list[str] = []
    assert await run_demo(out=lines.append, rc_version=rc_version) == 0, "\n".join(lines)
    transcript = "\n".join(lines)
    assert "alice:" in transcript and "profilebot:" in transcript
    assert "✘" not in transcript
