"""`rcbot` (also `python -m bot`): run | check | keygen | rotate-key | migrate | demo, and
init | doctor | healthcheck (bot.app.deploy_cli).

    rcbot keygen              print a fresh secret key alone on stdout
    rcbot check [-c FILE]     validate the configuration, automation rules included (and the
                              key against the stored tokens, read-only); exit 2 naming each
                              bad key and each bad rule
    rcbot run [-c FILE]       run the bot
    rcbot rotate-key [-c FILE] [--old-key-env NAME | --old-key-file FILE]
                     [--new-key-env NAME | --new-key-file FILE]
                              re-encrypt every stored token with a new key, in one transaction;
                              the old key defaults to the configured one (RCBOT_SECRET_KEY), the
                              new one to RCBOT_NEW_SECRET_KEY. Never prints a key or a token.
    rcbot migrate [-c FILE] [--db LOCATION] [--dry-run] [--sql]
                              show the schema version of the database and the migrations it
                              lacks, then apply them (the bot also does at start-up)
    rcbot demo                sandbox + bot + scripted user, no configuration needed

Exit codes: 0 done; 1 `doctor` found something that blocks the bot; 2 a configuration problem
(a bad or missing setting, an unreadable configuration file); 3 Rocket.Chat refused the bot's
own login; 4 the database is corrupt, read-only or locked by another process; 130 interrupted.

`-c` may be left out when RCBOT_* variables give every required setting. `--set KEY=VALUE`
overrides any setting (the value is read as TOML, falling back to a plain string). Logging is set up
here, once, with a filter that scrubs anything token-shaped from every record.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tomllib
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Final

from bot.app.config import BotSettings, load_settings
from bot.app.deploy_cli import add_deploy_commands, version_line
from bot.app.extras import missing_extra
from bot.app.logs import secrets_of, setup_logging
from bot.automation.patterns import SEARCH_SECONDS
from bot.core.crypto import KeyFormatError, check_key, generate_key
from bot.core.errors import ConfigError, DatabaseUnusable, LoginRefused
from bot.core.setting_names import describe_key, env_name
from bot.storage.base import is_postgres_url, redact_url

EXIT_CONFIG: Final = 2  # a setting is wrong, missing, or the configuration cannot be read
EXIT_LOGIN: Final = 3  # Rocket.Chat refused the bot's own login
EXIT_DATABASE: Final = 4  # the database is corrupt, read-only or locked by another process
NEW_KEY_ENV: Final = "RCBOT_NEW_SECRET_KEY"
EXIT_INTERRUPTED: Final = 130


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
    from bot.storage.store import Store

    settings = _settings(args)
    asyncio.run(Store.verify_key(settings.db, secret_key=settings.secret_key))
    print("configuration OK")
    for line in settings.summary():
        print(f"  {line}")
    for rule in settings.rules:
        risk = rule.trigger.risk()
        if risk is not None:
            print(
                f"warning: rule {rule.name}: the message pattern may be slow on some messages: "
                f"{risk}. The bot stops each search after {SEARCH_SECONDS:g} s and treats it as "
                "no match; consider a simpler pattern.",
                file=sys.stderr,
            )
    return 0


def _read_key(what: str, *, env: str | None, file: Path | None) -> str | None:
    """A key from the variable `env` or from `file` (None when neither is given); the error
    messages name where the key came from, never its value."""
    if file is not None:
        try:
            raw = file.read_text(encoding="utf-8")
        except OSError as exc:
            raise ConfigError(f"{what} key file {file}: cannot be read ({exc.strerror})") from None
        source = f"the file {file}"
    elif env is not None:
        if not os.environ.get(env, "").strip():
            raise ConfigError(f"{what} key: the environment variable {env} is not set")
        raw, source = os.environ[env], f"${env}"
    else:
        return None
    try:
        return check_key(raw)
    except KeyFormatError as exc:
        raise ConfigError(f"{what} key from {source} {exc}") from None


def _cmd_rotate_key(args: argparse.Namespace) -> int:
    from bot.storage.store import Store

    old_key = _read_key("the old", env=args.old_key_env, file=args.old_key_file)
    new_env = None if args.new_key_file is not None else (args.new_key_env or NEW_KEY_ENV)
    new_key = _read_key("the new", env=new_env, file=args.new_key_file)
    assert new_key is not None  # one of the two sources is always given
    overrides = _parse_overrides(args.set or [])
    if old_key is not None:
        overrides["secret_key"] = old_key
    if args.log_level:
        overrides["log_level"] = args.log_level
    settings = load_settings(args.config, **overrides)
    level = settings.log_level if args.log_level else "WARNING"
    setup_logging(level, secrets=[*secrets_of(settings), new_key])
    if not is_postgres_url(settings.db) and not Path(settings.db).is_file():
        raise ConfigError(f"{describe_key('db')}: {settings.db} does not exist; nothing to rotate")

    async def rotate() -> int:
        store = await Store.open(settings.db, secret_key=settings.secret_key)
        try:
            return await store.rotate_key(new_key, lease=settings.replica_lease)
        finally:
            await store.close()

    count = asyncio.run(rotate())
    where = f"the file {args.new_key_file}" if args.new_key_file is not None else f"${new_env}"
    print(f"Re-encrypted {count} stored token(s) in {redact_url(settings.db)} with the new key.")
    print(
        f"Next: set {env_name('secret_key')} (or secret_key in your configuration) to the new "
        f"key from {where}, then start the bot. The old key no longer opens this database; "
        "keep the new one safe."
    )
    return 0


def _migration_target(args: argparse.Namespace) -> str:
    if args.db:
        return str(args.db)
    settings = _settings(args)
    setup_logging(
        settings.log_level if args.log_level else "WARNING", secrets=secrets_of(settings)
    )
    return settings.db


def _cmd_migrate(args: argparse.Namespace) -> int:
    from bot.storage.backends import open_database
    from bot.storage.base import Dialect
    from bot.storage.schema import (
        MIGRATIONS,
        SCHEMA_VERSION,
        SchemaTooNew,
        migrate,
        pending_versions,
    )
    from bot.storage.schema import statements as migration_sql

    location = _migration_target(args)

    def show(where: str, dialect: Dialect, pending: list[int]) -> None:
        print(
            f"{where} ({dialect}): schema version {SCHEMA_VERSION - len(pending)} of "
            f"{SCHEMA_VERSION}"
        )
        for version in pending:
            print(f"  {version}: {MIGRATIONS[version - 1].summary}")
            if args.sql:
                for sql in migration_sql(version, dialect):
                    print("      " + " ".join(sql.split()) + ";")

    async def run() -> int:
        if args.dry_run and not is_postgres_url(location) and not Path(location).is_file():
            show(location, "sqlite", list(range(1, SCHEMA_VERSION + 1)))
            print(
                f"Dry run: {SCHEMA_VERSION} migration(s) not applied. There is no database at "
                f"{location} yet; nothing was created."
            )
            return 0
        database = await open_database(location)
        try:
            try:
                pending = await pending_versions(database)
            except SchemaTooNew as exc:
                raise ConfigError(
                    f"{describe_key('db')}: {database.location} was written by a newer rcbot "
                    f"({exc}); upgrade rcbot"
                ) from None
            show(database.location, database.dialect, pending)
            if not pending:
                print("Nothing to do: the schema is up to date.")
                return 0
            if args.dry_run:
                print(f"Dry run: {len(pending)} migration(s) not applied.")
                return 0
            applied = await migrate(database)
            print(
                f"Applied {len(applied)} migration(s); the schema is at version {SCHEMA_VERSION}."
            )
            return 0
        finally:
            await database.close()

    return asyncio.run(run())


def _cmd_run(args: argparse.Namespace) -> int:
    settings = _settings(args)
    setup_logging(settings.log_level, secrets=secrets_of(settings), log_format=settings.log_format)
    from bot.app.gc_tuning import tune_for_serving
    from bot.app.runner import run_bot  # lazy: `rcbot keygen` and `check` need none of the runtime

    tune_for_serving()
    asyncio.run(run_bot(settings))
    return 0


def _cmd_demo(args: argparse.Namespace) -> int:
    if problem := missing_extra("sandbox"):
        raise ConfigError(f"rcbot demo runs the sandbox, but {problem}")
    setup_logging(args.log_level or "WARNING")
    from bot.app.demo import run_demo  # lazy: imports the sandbox
    from sandbox.versions import ServerVersion, UnsupportedVersion

    try:
        ServerVersion.parse(args.rc_version)
    except UnsupportedVersion as error:
        raise ConfigError(f"rcbot demo --rc-version: {error}") from None

    raise SystemExit(asyncio.run(run_demo(rc_version=args.rc_version)))


def build_parser() -> argparse.ArgumentParser:
    """The argparse tree: one subcommand per action."""
    parser = argparse.ArgumentParser(
        prog="rcbot", description="A Rocket.Chat bot that changes your own profile from chat."
    )
    parser.add_argument("--version", action="version", version=version_line())
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
    rotate = commands.add_parser(
        "rotate-key",
        help="re-encrypt every stored token with a new key (stop the bot first)",
        description="Re-encrypt every stored token with a new key, in one transaction. Stop "
        "the bot first. Keys are read from the environment or from files, never from the "
        "command line, and are never printed.",
    )
    with_config(rotate)
    old = rotate.add_mutually_exclusive_group()
    old.add_argument(
        "--old-key-env",
        metavar="NAME",
        help="read the current key from this variable (default: the configured secret_key, "
        "i.e. RCBOT_SECRET_KEY)",
    )
    old.add_argument("--old-key-file", type=Path, metavar="FILE", help="... or from this file")
    new = rotate.add_mutually_exclusive_group()
    new.add_argument(
        "--new-key-env",
        metavar="NAME",
        help=f"read the new key from this variable (default: {NEW_KEY_ENV})",
    )
    new.add_argument("--new-key-file", type=Path, metavar="FILE", help="... or from this file")
    rotate.set_defaults(func=_cmd_rotate_key)
    migrate = commands.add_parser(
        "migrate",
        help="show and apply schema changes to the bot's database",
        description="Show the schema version of the bot's database (SQLite file or PostgreSQL "
        "URL) and the migrations it lacks, then apply them in one transaction. The bot applies "
        "them at start-up too; replicas starting together wait for each other.",
    )
    with_config(migrate)
    migrate.add_argument(
        "--db", metavar="LOCATION", help="the database to migrate, instead of the configured one"
    )
    migrate.add_argument("--dry-run", action="store_true", help="show, change nothing")
    migrate.add_argument("--sql", action="store_true", help="also print each statement")
    migrate.set_defaults(func=_cmd_migrate)
    demo = commands.add_parser("demo", help="play a scripted demo against an in-process sandbox")
    demo.add_argument("--log-level", help="log level for the demo (default WARNING)")
    demo.add_argument(
        "--rc-version",
        default="7.4.0",
        help="the Rocket.Chat the sandbox behaves as: 7.4.x or 8.6.x (default 7.4.0)",
    )
    demo.set_defaults(func=_cmd_demo)
    add_deploy_commands(commands, with_config=with_config, load_settings=_settings)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `rcbot` console script and of `python -m bot`."""
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except DatabaseUnusable as exc:
        print(f"rcbot: database problem: {exc}", file=sys.stderr)
        return EXIT_DATABASE
    except ConfigError as exc:
        if len(exc.problems) == 1:
            print(f"rcbot: configuration problem: {exc.problems[0]}", file=sys.stderr)
        else:
            print("rcbot: configuration problems:", file=sys.stderr)
            for problem in exc.problems:
                print(f"  {problem}", file=sys.stderr)
        return EXIT_CONFIG
    except LoginRefused as exc:
        print(f"rcbot: {exc}", file=sys.stderr)
        return EXIT_LOGIN
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
