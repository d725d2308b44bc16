"""deploy/compose.yml: valid Compose, and a service that fits Rocket.Chat's official stack.

The official stack (RocketChat/rocketchat-compose, compose.yml) names its server service
`rocketchat`, sets PORT (default 3000) and leaves its healthcheck commented out; this file adds
one and makes the bot wait for it. No Compose engine runs here: the file is validated against
the Compose specification's schema (check-jsonschema's vendored copy), and the healthcheck it
gives Rocket.Chat is run with node against the sandbox.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

from bot.app.config import BotSettings
from bot.app.envcheck import unknown_variable_warnings
from sandbox import serve
from tests.deploy.test_container import free_port, read_image

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "deploy" / "compose.yml"
VENV_BIN = Path(sys.executable).parent


def load() -> dict[str, Any]:
    data = YAML(typ="safe").load(COMPOSE.read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def validate(path: Path) -> subprocess.CompletedProcess[str]:
    validator = shutil.which("check-jsonschema", path=str(VENV_BIN)) or "check-jsonschema"
    return subprocess.run(
        [validator, "--builtin-schema", "vendor.compose-spec", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_the_file_is_valid_compose(tmp_path: Path) -> None:
    done = validate(COMPOSE)
    assert done.returncode == 0, done.stdout + done.stderr
    broken = tmp_path / "compose.yml"  # the validator does validate: a wrong type fails
    broken.write_text(COMPOSE.read_text().replace("restart: unless-stopped", "restart: [1]"))
    assert validate(broken).returncode != 0


def test_the_bot_waits_for_rocket_chats_health_and_keeps_its_state() -> None:
    services = load()["services"]
    bot = services["rcbot"]
    assert bot["depends_on"]["rocketchat"]["condition"] == "service_healthy"
    assert services["rocketchat"]["healthcheck"]["test"][0] == "CMD"
    assert bot["restart"] in ("unless-stopped", "always")
    image = read_image()
    volume, _, target = bot["volumes"][0].partition(":")
    assert target == image.workdir and volume in load()["volumes"]
    assert bot["expose"] == [image.env["RCBOT_HEALTH_PORT"]]


def test_every_variable_it_sets_is_a_setting_and_secrets_come_from_the_env_file() -> None:
    environment = load()["services"]["rcbot"]["environment"]
    assert unknown_variable_warnings(BotSettings.model_fields, environment) == []
    assert environment["RCBOT_SERVER_URL"].startswith("http://rocketchat:")
    for secret in ("RCBOT_PASSWORD", "RCBOT_SECRET_KEY"):
        assert environment[secret].startswith(f"${{{secret}:?")  # required, never a default


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
async def test_the_healthcheck_it_gives_rocket_chat_passes_only_while_the_server_answers() -> None:
    test = load()["services"]["rocketchat"]["healthcheck"]["test"]
    command = test[1:]
    assert command[0] == "node"

    def run(port: int) -> int:
        environ = {**os.environ, "PORT": str(port)}
        return subprocess.run(
            command, env=environ, capture_output=True, timeout=30, check=False
        ).returncode

    async with serve("127.0.0.1", 0) as url:
        port = int(url.rsplit(":", 1)[1])
        assert await asyncio.to_thread(run, port) == 0
    assert await asyncio.to_thread(run, free_port()) == 1
