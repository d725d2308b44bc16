"""Starting what a phase measures: `python -m bot run` or `python -m bench.baseline`, each as its
own process, and py-spy attached to one when a profile is asked for."""

from __future__ import annotations

import asyncio
import shutil
import signal
import sys
from pathlib import Path

from bench.load.workspace import BASELINE_NAME, BOT, BOT_NAME, TARGET_PASSWORD, Target
from bench.proc import Child, child_environment, start_child


def bot_environment(url: str, db: str, secret_key: str, source: Path) -> dict[str, str]:
    """The environment of a benchmarked `python -m bot run`: RCBOT_* variables, at WARNING.

    `db` is an SQLite file or a PostgreSQL URL (bench.replicas runs several bots on one)."""
    return child_environment(
        {
            "PYTHONPATH": str(source),
            "RCBOT_SERVER_URL": url,
            "RCBOT_USERNAME": BOT_NAME,
            "RCBOT_PASSWORD": TARGET_PASSWORD,
            "RCBOT_DB": db,
            "RCBOT_SECRET_KEY": secret_key,
            "RCBOT_LOG_LEVEL": "WARNING",
            # The benchmark is a deliberate flood: measure the pipeline, not the flood gate.
            "RCBOT_RATE_LIMIT_PER_USER": "0",
            "RCBOT_RATE_LIMIT_GLOBAL": "0",
        }
    )


async def start_bot(
    url: str, db: Path, secret_key: str, work: Path, name: str, source: Path
) -> Child:
    """`python -m bot run` from `source`, configured through RCBOT_* variables, at WARNING."""
    env = bot_environment(url, str(db), secret_key, source)
    return await start_child(
        name, ["-m", "bot", "run"], env=env, log_dir=work, stdout_pipe=False, cwd=source
    )


async def start_baseline(url: str, work: Path, name: str) -> Child:
    """`python -m bench.baseline`, logged in as the baseline's account."""
    env = child_environment({"BENCH_BASELINE_PASSWORD": TARGET_PASSWORD})
    return await start_child(
        name,
        ["-m", "bench.baseline", "--server-url", url, "--username", BASELINE_NAME],
        env=env,
        log_dir=work,
        stdout_pipe=False,
    )


def new_secret_key() -> str:
    """A fresh key for the bot's database (what `python -m bot keygen` prints)."""
    from bot.core.crypto import generate_key

    return generate_key()


async def start_target(target: Target, url: str, work: Path, bot_source: Path, name: str) -> Child:
    """Start the bot (fresh database) or the baseline for a load phase."""
    if target is BOT:
        db = work / f"{name}.db"
        return await start_bot(url, db, new_secret_key(), work, name, bot_source)
    return await start_baseline(url, work, name)


class PySpy:
    """`py-spy record --format raw` attached to a running process, stopped with SIGINT."""

    def __init__(self, output: Path) -> None:
        self.output = output
        self._process: asyncio.subprocess.Process | None = None

    async def start(self, pid: int, rate: int, *, gil_only: bool) -> None:
        """Attach to `pid`: samples active time only, every thread (or only the one holding the
        GIL: Python work without the waits py-spy cannot tell from work), pausing it for each."""
        binary = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
        self._process = await asyncio.create_subprocess_exec(
            binary,
            "record",
            *(["--gil"] if gil_only else []),
            "--pid",
            str(pid),
            "--format",
            "raw",
            "--function",
            "--threads",
            "--rate",
            str(rate),
            "-o",
            str(self.output),
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
        )
        await asyncio.sleep(0.5)  # attaching takes a moment

    async def stop(self) -> None:
        """Stop sampling and let py-spy write the file."""
        if self._process is None or self._process.returncode is not None:
            return
        self._process.send_signal(signal.SIGINT)
        try:
            await asyncio.wait_for(self._process.wait(), 30)
        except TimeoutError:
            self._process.kill()
            await self._process.wait()
