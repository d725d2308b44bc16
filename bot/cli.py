"""`rcbot` (also `python -m bot`): run | check | keygen | demo.

    rcbot keygen              print a fresh secret key alone on stdout
    rcbot check [-c FILE]     validate the configuration, automation rules included (and the
                              key against the stored tokens, read-only); exit 2 naming each
                              bad key and each bad rule
    rcbot run [-c FILE]       run the bot
    rcbot demo                sandbox + bot + scripted user, no configuration needed

`-c` may be left out when RCBOT_* variables give every required setting. `--set KEY=VALUE`
overrides any setting (the value is read as TOML, falling back to a plain string). Logging is set up
here, once, with a filter that scrubs anything token-shaped from every record.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import re
import sys
import tomllib
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, Final

from bot.config import BotSettings, ConfigError, load_settings
from bot.crypto import generate_key

EXIT_CONFIG: Final = 2
EXIT_INTERRUPTED: Final = 130
REDACTED: Final = "[redacted]"
# Meteor's Random.secret(): 43 base64url characters (login tokens, personal access tokens). A
# Fernet key is 43 such characters plus "=", so it matches too.
_SECRET_SHAPE = re.compile(r"(?<![A-Za-z0-9_-])[A-Za-z0-9_-]{43}(?![A-Za-z0-9_-])")
# Values after names that carry secrets: headers, JSON keys, key=value pairs.
_SECRET_FIELD = re.compile(
    r"(?i)(?<![a-z0-9])(x-auth-token|x-2fa-code|authtoken|auth_token|password|secret_key|token)"
    r"([\"']?\s*[:=]\s*[\"']?)([^\s\"',;}\]]+)"
)


def scrub(text: str, secrets: Iterable[str] = ()) -> str:
    """`text` with known secrets and anything token-shaped replaced by [redacted]."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, REDACTED)
    text = _SECRET_FIELD.sub(lambda m: m.group(1) + m.group(2) + REDACTED, text)
    return _SECRET_SHAPE.sub(REDACTED, text)


class SecretScrubber(logging.Filter):
    """Rewrites each record (message, arguments, traceback) without secrets; never drops one."""

    def __init__(self) -> None:
        super().__init__()
        self._secrets: set[str] = set()

    def add_secret(self, value: str | None) -> None:
        """Also scrub this exact value (a configured password, token or key)."""
        if value and len(value) >= 4:
            self._secrets.add(value)

    def filter(self, record: logging.LogRecord) -> bool:
        secrets = sorted(self._secrets, key=len, reverse=True)
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a bad format string must not lose the record
            message = f"{record.msg!r} {record.args!r}"
        record.msg = scrub(message, secrets)
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = scrub(record.exc_text, secrets)
        if record.stack_info:
            record.stack_info = scrub(record.stack_info, secrets)
        return True


_scrubber = SecretScrubber()
_handler: logging.Handler | None = None


def setup_logging(level: str = "INFO", *, secrets: Iterable[str | None] = ()) -> SecretScrubber:
    """Log to stderr at `level` through the scrubber; safe to call more than once."""
    global _handler
    for secret in secrets:
        _scrubber.add_secret(secret)
    root = logging.getLogger()
    if _handler is None:
        _handler = logging.StreamHandler(sys.stderr)
        _handler.setFormatter(
            logging.Formatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s")
        )
        _handler.addFilter(_scrubber)
        root.addHandler(_handler)
    root.setLevel(level)
    # aiohttp's access and client loggers are chatty below WARNING and add nothing for us.
    logging.getLogger("aiohttp").setLevel(max(logging.WARNING, root.level))
    return _scrubber


def _secrets_of(settings: BotSettings) -> list[str | None]:
    return [
        secret.get_secret_value() if secret is not None else None
        for secret in (settings.password, settings.auth_token, settings.secret_key)
    ]


def _parse_overrides(pairs: Sequence[str]) -> dict[str, Any]:
    overrides: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        key = key.strip()
        if not sep or not key:
            raise ConfigError(f"--set {pair.split('=', 1)[0]!r}: expected KEY=VALUE")
        try:
            overrides[key] = tomllib.loads(f"value = {value}")["value"]
        except tomllib.TOMLDecodeError:
            overrides[key] = value
    return overrides


def _settings(args: argparse.Namespace) -> BotSettings:
    overrides = _parse_overrides(args.set or [])
    if args.log_level:
        overrides["log_level"] = args.log_level
    return load_settings(args.config, **overrides)


def _cmd_keygen(args: argparse.Namespace) -> int:
    print(generate_key())
    return 0


def _cmd_check(args: argparse.Namespace) -> int:
    from bot.store import Store

    settings = _settings(args)
    asyncio.run(Store.verify_key(settings.db, secret_key=settings.secret_key))
    print("configuration OK")
    for line in settings.summary():
        print(f"  {line}")
    return 0


def _cmd_run(args: argparse.Namespace) -> int:
    settings = _settings(args)
    setup_logging(settings.log_level, secrets=_secrets_of(settings))
    from bot.app import run_bot  # lazy: `rcbot keygen` and `check` need none of the runtime

    asyncio.run(run_bot(settings))
    return 0


def _cmd_demo(args: argparse.Namespace) -> int:
    setup_logging(args.log_level or "WARNING")
    from bot.demo import run_demo  # lazy: imports the sandbox

    raise SystemExit(asyncio.run(run_demo()))


def build_parser() -> argparse.ArgumentParser:
    """The argparse tree: one subcommand per action."""
    parser = argparse.ArgumentParser(
        prog="rcbot", description="A Rocket.Chat bot that changes your own profile from chat."
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def with_config(sub: argparse.ArgumentParser) -> None:
        sub.add_argument(
            "-c",
            "--config",
            type=Path,
            metavar="FILE",
            help="TOML configuration file (optional when RCBOT_* variables give everything)",
        )
        sub.add_argument(
            "--set",
            action="append",
            metavar="KEY=VALUE",
            help="override one setting (repeatable); wins over the file and the environment",
        )
        sub.add_argument("--log-level", help="override log_level (DEBUG, INFO, ...)")

    keygen = commands.add_parser("keygen", help="print a fresh secret key for RCBOT_SECRET_KEY")
    keygen.set_defaults(func=_cmd_keygen)
    check = commands.add_parser("check", help="validate the configuration and exit")
    with_config(check)
    check.set_defaults(func=_cmd_check)
    run = commands.add_parser("run", help="run the bot")
    with_config(run)
    run.set_defaults(func=_cmd_run)
    demo = commands.add_parser("demo", help="play a scripted demo against an in-process sandbox")
    demo.add_argument("--log-level", help="log level for the demo (default WARNING)")
    demo.set_defaults(func=_cmd_demo)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `rcbot` console script and of `python -m bot`."""
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except ConfigError as exc:
        print(
            f"rcbot: configuration problem{'s' if len(exc.problems) > 1 else ''}:", file=sys.stderr
        )
        for problem in exc.problems:
            print(f"  {problem}", file=sys.stderr)
        return EXIT_CONFIG
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
