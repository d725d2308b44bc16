"""The `rcbot` subcommands for deploying the bot, registered by bot.app.cli's parser:

rcbot init [PATH] [--force]   write the example configuration (default bot.toml); refuses to
                              overwrite a file unless --force
rcbot doctor [-c FILE]        log in as the bot and check the workspace (bot.app.doctor); exit 0
                              when nothing blocks the bot, 1 when something does
rcbot healthcheck [--port N]  exit 0 when the running bot's /healthz answers 200, else 1
                              (a container HEALTHCHECK)
rcbot --version               the installed version
"""

from __future__ import annotations

import argparse
import platform
import sys
from collections.abc import Callable
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from bot.app.config import BotSettings

LoadSettings = Callable[[argparse.Namespace], BotSettings]
AddConfigOptions = Callable[[argparse.ArgumentParser], None]


def version_line() -> str:
    """`rcbot X.Y.Z (Python A.B.C)`, from the installed package's metadata."""
    try:
        installed = version("rcbot")
    except PackageNotFoundError:  # run from a source tree that was never installed
        installed = "unknown (not installed)"
    return f"rcbot {installed} (Python {platform.python_version()})"


def _cmd_init(args: argparse.Namespace) -> int:
    from bot.app.init_config import next_steps, write_example

    target = write_example(args.path, force=args.force)
    for line in next_steps(target):
        print(line)
    return 0


def _cmd_healthcheck(args: argparse.Namespace) -> int:
    from bot.app.healthcheck import health_url, probe

    healthy, seen = probe(health_url(args.host, args.port), timeout=args.timeout)
    print(seen, file=sys.stdout if healthy else sys.stderr)
    return 0 if healthy else 1


def add_deploy_commands(
    commands: Any, *, with_config: AddConfigOptions, load_settings: LoadSettings
) -> None:
    """Add init, doctor and healthcheck to `commands` (the parser's subparsers)."""

    def _cmd_doctor(args: argparse.Namespace) -> int:
        from bot.app.doctor import run_doctor
        from bot.app.logs import secrets_of, setup_logging

        settings = load_settings(args)
        setup_logging(args.log_level or "WARNING", secrets=secrets_of(settings))
        return run_doctor(settings)

    init = commands.add_parser(
        "init",
        help="write the example configuration to PATH (default bot.toml)",
        description="Write the example configuration shipped with rcbot (every setting, its "
        "default and why) to PATH, bot.toml by default. An existing file is left alone unless "
        "--force is given.",
    )
    init.add_argument("path", nargs="?", type=Path, default=Path("bot.toml"), metavar="PATH")
    init.add_argument("--force", action="store_true", help="overwrite PATH if it exists")
    init.set_defaults(func=_cmd_init)

    doctor = commands.add_parser(
        "doctor",
        help="log in as the bot and check the Rocket.Chat workspace for it",
        description="Log in as the bot and check what it needs from the workspace, one line "
        "each: ✓ fine, ✗ a problem (with where to fix it in Rocket.Chat's administration), "
        "? not checked (with what would let the doctor check it). Exit 0 when nothing blocks "
        "the bot, 1 when something does, 2 for a configuration problem.",
    )
    with_config(doctor)
    doctor.set_defaults(func=_cmd_doctor)

    health = commands.add_parser(
        "healthcheck",
        help="exit 0 when the running bot's /healthz answers 200 (for a container HEALTHCHECK)",
    )
    health.add_argument(
        "--port", type=int, help="the health port (default: RCBOT_HEALTH_PORT, else 8080)"
    )
    health.add_argument(
        "--host", help="the health address (default: RCBOT_HEALTH_HOST, else 127.0.0.1)"
    )
    health.add_argument("--timeout", type=float, default=5.0, help="seconds to wait (5)")
    health.set_defaults(func=_cmd_healthcheck)
