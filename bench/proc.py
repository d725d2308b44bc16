"""The benchmark's child processes (sandbox, bot, baseline) and what /proc says about them.

Each child is its own Python process, so it has a core of its own as far as the machine allows.
CPU time comes from the kernel's CPU clock of the child process (all its threads, dead ones
too, in nanoseconds; `/proc/<pid>/stat` counts in 10 ms ticks, too coarse for a short phase),
memory from `/proc/<pid>/status` (VmRSS now, VmHWM the peak), so no psutil is needed.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Final

_CPUCLOCK_SCHED: Final = 2
PROJECT_ROOT: Final = Path(__file__).resolve().parent.parent
STOP_SECONDS: Final = 10.0


def cpu_seconds(pid: int) -> float:
    """User + system CPU time the process has used so far, in seconds (OSError once it is gone).

    Linux names another process's CPU clock `((~pid) << 3) | CPUCLOCK_SCHED` (what glibc's
    `clock_getcpuclockid` returns); Python has no wrapper for that call, so the id is made here.
    """
    return time.clock_gettime(((~pid) << 3) | _CPUCLOCK_SCHED)


def memory_kb(pid: int) -> dict[str, int]:
    """`VmRSS` (resident now) and `VmHWM` (peak resident) of the process, in KiB."""
    wanted = {"VmRSS", "VmHWM"}
    found: dict[str, int] = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in wanted:
            found[key] = int(value.split()[0])
    return found


def own_cpu_seconds() -> float:
    """CPU time of this process (the load generator), for the contention note."""
    times = os.times()
    return times.user + times.system


def child_environment(extra: dict[str, str]) -> dict[str, str]:
    """The parent's environment without RCBOT_/BENCH_ variables, plus `extra`."""
    kept = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("RCBOT_", "BENCH_", "OVERWRITE_SETTING_", "ADMIN_"))
    }
    return {**kept, **extra}


@dataclass
class Child:
    """One running child process, with its start time (perf_counter) and its log file."""

    name: str
    process: asyncio.subprocess.Process
    started: float
    log_path: Path
    _log: IO[bytes]

    @property
    def pid(self) -> int:
        return self.process.pid

    def cpu_seconds(self) -> float:
        """CPU time used so far (all threads)."""
        return cpu_seconds(self.pid)

    def memory_kb(self) -> dict[str, int]:
        """VmRSS and VmHWM now."""
        return memory_kb(self.pid)

    def log_tail(self, lines: int = 20) -> str:
        """The last lines the child wrote to stderr (for error messages)."""
        with contextlib.suppress(OSError):
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        return ""

    async def stop(self) -> int | None:
        """SIGTERM, then SIGKILL after STOP_SECONDS; returns the exit code."""
        if self.process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self.process.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(self.process.wait(), STOP_SECONDS)
            except TimeoutError:
                with contextlib.suppress(ProcessLookupError):
                    self.process.kill()
                await self.process.wait()
        self._log.close()
        return self.process.returncode


async def start_child(
    name: str,
    module_args: list[str],
    *,
    env: dict[str, str],
    log_dir: Path,
    stdout_pipe: bool,
    cwd: Path = PROJECT_ROOT,
) -> Child:
    """Start `python <module_args>` in `cwd` (the project), stderr to `<log_dir>/<name>.log`."""
    log_path = log_dir / f"{name}.log"
    log = log_path.open("wb")
    started = time.perf_counter()
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        *module_args,
        cwd=cwd,
        env=env,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE if stdout_pipe else asyncio.subprocess.DEVNULL,
        stderr=log,
    )
    return Child(name=name, process=process, started=started, log_path=log_path, _log=log)


async def start_sandbox(
    name: str, environ: dict[str, str], log_dir: Path, module: str = "sandbox"
) -> tuple[Child, str]:
    """`python -m sandbox --host 127.0.0.1 --port 0` (or a `module` that wraps it, such as
    bench.load.server_log); returns the child and its base URL."""
    child = await start_child(
        name,
        ["-m", module, "--host", "127.0.0.1", "--port", "0"],
        env=child_environment(environ),
        log_dir=log_dir,
        stdout_pipe=True,
    )
    assert child.process.stdout is not None
    try:
        line = await asyncio.wait_for(child.process.stdout.readline(), 30)
    except TimeoutError:
        line = b""
    text = line.decode().strip()
    prefix = "sandbox listening on "
    if not text.startswith(prefix):
        await child.stop()
        raise RuntimeError(f"the sandbox did not start ({text!r}):\n{child.log_tail()}")
    return child, text.removeprefix(prefix)
