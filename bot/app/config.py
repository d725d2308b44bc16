"""The bot's settings: a TOML file < the environment (RCBOT_*) < explicit overrides (command line).

`load_settings()` is the one way in. Every problem becomes a `ConfigError` whose message has one line
per bad key, naming it as written in TOML and as its RCBOT_ variable, and saying what is expected.
Secrets are `SecretStr`, so they never show up in a repr, a log line or an error message.
"""

from __future__ import annotations

import contextvars
import json
import re
import tomllib
from collections.abc import Callable, Mapping
from datetime import tzinfo
from pathlib import Path
from typing import Annotated, Any, Final, Literal
from urllib.parse import urlsplit, urlunsplit

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_settings import (
    BaseSettings,
    InitSettingsSource,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    SettingsError,
)

from bot.app.envcheck import warn_unknown_variables
from bot.app.extras import missing_extra
from bot.app.logformat import LogFormat
from bot.automation.model import Rule, parse_rules
from bot.automation.triggers import load_zone
from bot.core.crypto import KEY_HOWTO, KeyFormatError, check_key
from bot.core.errors import ConfigError
from bot.core.setting_names import ENV_PREFIX, describe_key, env_name
from bot.profile.team_presets import TeamPreset, parse_presets
from bot.storage.base import is_postgres_url, redact_url

LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"]


def _seconds(low: str, high: float, example: str) -> str:
    """How a duration setting is described: its finite range and an example."""
    return f"a number of seconds {low} and at most {high:g}, e.g. {example}"


# What each key expects, in words: used whenever a value has the wrong type or shape.
EXPECTED: Final[Mapping[str, str]] = {
    "server_url": "the http(s) URL of the Rocket.Chat server, e.g. https://chat.example.com",
    "username": "the bot account's username (together with password)",
    "password": "the bot account's password (together with username)",
    "user_id": "the bot account's user id (together with auth_token)",
    "auth_token": "a personal access token of the bot account (together with user_id)",
    "db": "a path to the bot's SQLite file, e.g. rcbot.db, or a PostgreSQL URL, e.g. "
    "postgresql://rcbot@db.example.com/rcbot",
    "secret_key": f"the key that encrypts stored tokens; {KEY_HOWTO}",
    "prefixes": 'a non-empty list of command prefixes without spaces, e.g. ["/", "!"]',
    "aliases": 'a table of alias = "command name", e.g. presence = "status"',
    "max_concurrent_commands": "a whole number, at least 1",
    "request_timeout": _seconds("greater than 0", 300, "10"),
    "conversation_timeout": _seconds("greater than 0", 86_400, "300 (5 minutes)"),
    "log_level": "one of DEBUG, INFO, WARNING, ERROR, CRITICAL",
    "log_format": 'one of "text" (readable lines) or "json" (one JSON object a line)',
    "health_port": "a TCP port from 1 to 65535 (or leave it out)",
    "health_host": "the address the health endpoint listens on, e.g. 127.0.0.1",
    "rate_limit_per_user": "a whole number of commands, 0 or more (0: no limit)",
    "rate_limit_global": "a whole number of commands, 0 or more (0: no limit)",
    "rate_limit_window": _seconds("greater than 0", 86_400, "60"),
    "max_message_length": "a whole number of characters, at least 500",
    "rules": "a list of [[rules]] tables with name, trigger, users and change (see "
    "bot.example.toml)",
    "presets": "a list of [[presets]] tables with name, presence, text and an optional for or "
    "until (see bot.example.toml)",
    "admin_role": "the name of a Rocket.Chat role, e.g. admin",
    "default_timezone": "an IANA time zone name such as Europe/Berlin or UTC",
    "reconnect_delay_min": _seconds("greater than 0", 3600, "0.5"),
    "reconnect_delay_max": _seconds("at least reconnect_delay_min", 3600, "30"),
    "retry_attempts": "a whole number of tries, at least 1",
    "retry_delay_min": _seconds("greater than 0", 300, "0.5"),
    "retry_delay_max": _seconds("at least retry_delay_min", 300, "8"),
    "max_rate_limit_wait": _seconds("0 or more", 3600, "60"),
    "answer_wait": _seconds("0 or more", 3600, "120"),
    "in_doubt_wait": _seconds("0 or more", 300, "10"),
    "catch_up_window": _seconds("greater than 0", 604_800, "3600 (an hour)"),
    "replica_lease": _seconds("greater than 0", 600, "15"),
    "replica_defer": _seconds("0 or more", 60, "1"),
    "profile_snapshot_seconds": _seconds("0 or more", 3600, "30 (0: read every time)"),
}
LOGIN_PAIRS: Final = (("username", "password"), ("user_id", "auth_token"))

# The TOML file's contents for the duration of one load_settings() call.
_FILE_DATA: contextvars.ContextVar[Mapping[str, Any] | None] = contextvars.ContextVar(
    "_FILE_DATA", default=None
)
# False while load_settings(use_environment=False) runs (the demo must not see RCBOT_* variables).
_USE_ENVIRONMENT: contextvars.ContextVar[bool] = contextvars.ContextVar(
    "_USE_ENVIRONMENT", default=True
)


def _has_value(value: Any) -> bool:
    if isinstance(value, SecretStr):
        value = value.get_secret_value()
    return value is not None and str(value).strip() != ""


def login_problems(data: Mapping[str, Any]) -> list[str]:
    """Exactly one of username + password or user_id + auth_token must be complete."""
    given = {key for pair in LOGIN_PAIRS for key in pair if _has_value(data.get(key))}
    problems = []
    for first, second in LOGIN_PAIRS:
        for present, absent in ((first, second), (second, first)):
            if present in given and absent not in given:
                problems.append(
                    f"{describe_key(absent)}: is required because {present} is set; "
                    f"expected {EXPECTED[absent]}"
                )
    complete = [pair for pair in LOGIN_PAIRS if set(pair) <= given]
    if not given:
        problems.append(
            "login: set either username + password (RCBOT_USERNAME, RCBOT_PASSWORD) or "
            "user_id + auth_token (RCBOT_USER_ID, RCBOT_AUTH_TOKEN) for the bot account"
        )
    elif len(complete) == 2:
        problems.append(
            "login: both username + password and user_id + auth_token are set; "
            "keep exactly one pair so it is clear how the bot logs in"
        )
    return problems


def _words(value: Any) -> Any:
    """Accept a list, a JSON list, or a comma/space separated string (handy in the environment)."""
    if not isinstance(value, str):
        return value
    text = value.strip()
    if text.startswith("["):
        try:
            return json.loads(text)
        except ValueError:
            raise ValueError(
                f"is not a valid JSON list; expected {EXPECTED['prefixes']}"
            ) from None
    return [word for word in re.split(r"[,\s]+", text) if word]


class CalendarSettings(BaseModel):
    """`[calendar]`: calendar-driven status (README "Calendar-driven status")."""

    model_config = ConfigDict(extra="forbid")

    # Fetch feeds on loopback and private networks (on-premises calendars, tests); cloud
    # metadata addresses stay refused.
    allow_private_networks: bool = False
    # How often a healthy feed is fetched (most fetches are a 304); failures back off.
    poll_minutes: float = Field(default=15.0, ge=1, le=1440, allow_inf_nan=False)
    # How many feeds are fetched at once; the others wait their turn.
    concurrency: int = Field(default=8, ge=1, le=256)
    # How long one fetch may take in all (connect, redirects, body) before it counts as failed.
    fetch_seconds: float = Field(default=10.0, gt=0, le=120, allow_inf_nan=False)


class BotSettings(BaseSettings):
    """Everything the bot needs to run; see bot.example.toml for each key and its default."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_nested_delimiter="__",
        case_sensitive=False,
        extra="forbid",
        validate_default=True,
    )

    server_url: str
    username: str | None = None
    password: SecretStr | None = None
    user_id: str | None = None
    auth_token: SecretStr | None = None
    db: str = "rcbot.db"
    secret_key: SecretStr
    prefixes: Annotated[list[str], NoDecode] = Field(default_factory=lambda: ["/", "!"])
    aliases: dict[str, str] = Field(default_factory=dict)
    max_concurrent_commands: int = Field(default=128, ge=1)
    request_timeout: float = Field(default=10.0, gt=0, le=300, allow_inf_nan=False)
    conversation_timeout: float = Field(default=300.0, gt=0, le=86_400, allow_inf_nan=False)
    log_level: LogLevel = "INFO"
    log_format: LogFormat = "text"
    health_port: int | None = Field(default=None, ge=1, le=65535)
    health_host: str = "127.0.0.1"
    rate_limit_per_user: int = Field(default=20, ge=0)
    rate_limit_global: int = Field(default=300, ge=0)
    rate_limit_window: float = Field(default=60.0, gt=0, le=86_400, allow_inf_nan=False)
    max_message_length: int = Field(default=5000, ge=500)
    rules: list[Rule] = Field(default_factory=list)
    presets: list[TeamPreset] = Field(default_factory=list)
    admin_role: str = "admin"
    default_timezone: str = "UTC"
    # Reliability (README "Reliability"; bot.example.toml says what each one is for).
    reconnect_delay_min: float = Field(default=0.5, gt=0, le=3600, allow_inf_nan=False)
    reconnect_delay_max: float = Field(default=30.0, gt=0, le=3600, allow_inf_nan=False)
    retry_attempts: int = Field(default=4, ge=1)
    retry_delay_min: float = Field(default=0.5, gt=0, le=300, allow_inf_nan=False)
    retry_delay_max: float = Field(default=8.0, gt=0, le=300, allow_inf_nan=False)
    max_rate_limit_wait: float = Field(default=60.0, ge=0, le=3600, allow_inf_nan=False)
    answer_wait: float = Field(default=120.0, ge=0, le=3600, allow_inf_nan=False)
    in_doubt_wait: float = Field(default=10.0, ge=0, le=300, allow_inf_nan=False)
    catch_up_window: float = Field(default=3600.0, gt=0, le=604_800, allow_inf_nan=False)
    # Replicas on PostgreSQL (README "Running several replicas").
    replica_lease: float = Field(default=15.0, gt=0, le=600, allow_inf_nan=False)
    replica_defer: float = Field(default=1.0, ge=0, le=60, allow_inf_nan=False)
    # How long a profile Rocket.Chat returned may stand in for a read (README "Benchmarks").
    profile_snapshot_seconds: float = Field(default=30.0, ge=0, le=3600, allow_inf_nan=False)
    # Out of office (README "Out of office"): answer for people while away, and the presence
    # their absence shows.
    ooo_auto_reply: bool = True
    ooo_presence: Literal["away", "busy", "offline"] = "away"
    calendar: CalendarSettings = Field(default_factory=CalendarSettings)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Overrides (init arguments) win over the environment, which wins over the TOML file."""
        toml = InitSettingsSource(settings_cls, init_kwargs=dict(_FILE_DATA.get() or {}))
        if not _USE_ENVIRONMENT.get():
            return (init_settings, toml)
        return (init_settings, env_settings, toml)

    @model_validator(mode="wrap")
    @classmethod
    def _check_login(cls, data: Any, handler: Callable[[Any], BotSettings]) -> BotSettings:
        """Report a bad login pair together with every other problem, not one round later."""
        problems = login_problems(data) if isinstance(data, Mapping) else []
        try:
            settings = handler(data)
        except ValidationError as exc:
            if problems:
                raise ConfigError(validation_problems(exc) + problems) from None
            raise
        if problems:
            raise ConfigError(problems)
        return settings

    @field_validator("username", "password", "user_id", "auth_token", mode="before")
    @classmethod
    def _blank_is_unset(cls, value: Any) -> Any:
        if isinstance(value, str) and not value.strip():
            return None
        return value.strip() if isinstance(value, str) else value

    @field_validator("server_url", mode="before")
    @classmethod
    def _check_server_url(cls, value: Any) -> Any:
        if not isinstance(value, str):
            return value
        parts = urlsplit(value.strip())
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"expected {EXPECTED['server_url']}")
        if parts.query or parts.fragment:
            raise ValueError(
                f"must not have a query or fragment; expected {EXPECTED['server_url']}"
            )
        try:
            port = parts.port
        except ValueError:  # urllib: out of range 0-65535, or not a number
            port = 0
        if port == 0:
            raise ValueError(
                "has a port that is not a number from 1 to 65535; expected e.g. "
                "https://chat.example.com:3000, or no port"
            )
        return urlunsplit((parts.scheme, parts.netloc, parts.path.rstrip("/"), "", ""))

    @field_validator("secret_key", mode="before")
    @classmethod
    def _check_secret_key(cls, value: Any) -> Any:
        raw = value.get_secret_value() if isinstance(value, SecretStr) else value
        if not isinstance(raw, str):
            return value
        try:
            return SecretStr(check_key(raw))
        except KeyFormatError as exc:
            raise ValueError(str(exc)) from None

    @field_validator("prefixes", mode="before")
    @classmethod
    def _parse_prefixes(cls, value: Any) -> Any:
        return _words(value)

    @field_validator("prefixes")
    @classmethod
    def _check_prefixes(cls, value: list[str]) -> list[str]:
        if not value:
            raise ValueError(f"is empty; expected {EXPECTED['prefixes']}")
        for prefix in value:
            if not prefix or any(ch.isspace() for ch in prefix):
                raise ValueError(
                    f"{prefix!r} is not a usable prefix; expected {EXPECTED['prefixes']}"
                )
        return value

    @field_validator("aliases")
    @classmethod
    def _check_aliases(cls, value: dict[str, str]) -> dict[str, str]:
        for alias, command in value.items():
            for word in (alias, command):
                if not word.strip() or any(ch.isspace() for ch in word.strip()):
                    raise ValueError(
                        f"{alias!r} = {command!r} is not usable; aliases and command names are "
                        f"single words; expected {EXPECTED['aliases']}"
                    )
        return {alias.strip(): command.strip() for alias, command in value.items()}

    @field_validator("rules", mode="before")
    @classmethod
    def _parse_rules(cls, value: Any) -> Any:
        if isinstance(value, str):
            try:
                value = json.loads(value)
            except ValueError:
                raise ValueError(f"is not valid JSON; expected {EXPECTED['rules']}") from None
        return parse_rules(value)

    @field_validator("presets", mode="before")
    @classmethod
    def _parse_presets(cls, value: Any) -> Any:
        if isinstance(value, str):
            try:
                value = json.loads(value)
            except ValueError:
                raise ValueError(f"is not valid JSON; expected {EXPECTED['presets']}") from None
        return parse_presets(value)

    @field_validator("health_host")
    @classmethod
    def _check_health_host(cls, value: str) -> str:
        if not value.strip() or any(ch.isspace() for ch in value.strip()):
            raise ValueError(f"expected {EXPECTED['health_host']}")
        return value.strip()

    @field_validator("admin_role")
    @classmethod
    def _check_admin_role(cls, value: str) -> str:
        if not value.strip():
            raise ValueError(f"is empty; expected {EXPECTED['admin_role']}")
        return value.strip()

    @field_validator("reconnect_delay_max", "retry_delay_max")
    @classmethod
    def _check_delay_bounds(cls, value: float, info: ValidationInfo) -> float:
        low = str(info.field_name).replace("_max", "_min")
        if isinstance(info.data.get(low), float) and value < info.data[low]:
            raise ValueError(f"is less than {low}; expected {EXPECTED[str(info.field_name)]}")
        return value

    @field_validator("default_timezone")
    @classmethod
    def _check_default_timezone(cls, value: str) -> str:
        load_zone(value)
        return value.strip()

    @property
    def timezone(self) -> tzinfo:
        """`default_timezone` as a tzinfo: for schedules without their own, and for people
        whose Rocket.Chat profile has no UTC offset."""
        return load_zone(self.default_timezone)

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper_log_level(cls, value: Any) -> Any:
        return value.strip().upper() if isinstance(value, str) else value

    @field_validator("db", mode="after")
    @classmethod
    def _expand_db(cls, value: str) -> str:
        if is_postgres_url(value):
            parts = urlsplit(value)
            if not parts.hostname and "host=" not in parts.query:
                raise ValueError("a PostgreSQL URL needs a host, e.g. postgresql://user@host/db")
            if problem := missing_extra("postgres"):
                raise ValueError(f"is a PostgreSQL URL, but {problem}")
            return value
        if not value.strip():
            raise ValueError("is empty")
        return str(Path(value).expanduser())

    @property
    def websocket_url(self) -> str:
        """The realtime (DDP) endpoint derived from server_url: ws(s)://host[/path]/websocket."""
        parts = urlsplit(self.server_url)
        scheme = "wss" if parts.scheme == "https" else "ws"
        return urlunsplit((scheme, parts.netloc, f"{parts.path}/websocket", "", ""))

    @property
    def uses_password_login(self) -> bool:
        """True when the bot logs in with username + password, False for user_id + auth_token."""
        return self.username is not None

    def summary(self) -> list[str]:
        """Non-secret lines describing the configuration (for `rcbot check`)."""
        login = (
            f"username {self.username} + password"
            if self.uses_password_login
            else f"user id {self.user_id} + auth token"
        )
        return [
            f"server_url: {self.server_url} (realtime {self.websocket_url})",
            f"login: {login}",
            f"db: {redact_url(self.db)}",
            f"prefixes: {' '.join(self.prefixes)}",
            f"aliases: {', '.join(f'{a} -> {c}' for a, c in self.aliases.items()) or 'none'}",
            f"max_concurrent_commands: {self.max_concurrent_commands}",
            f"request_timeout: {self.request_timeout:g} s",
            f"log_level: {self.log_level}",
            f"log_format: {self.log_format}",
            f"health_port: {self.health_port if self.health_port is not None else 'off'}"
            + (f" (on {self.health_host})" if self.health_port is not None else ""),
            (
                f"rate limits: {self.rate_limit_per_user or 'no limit'} per user, "
                f"{self.rate_limit_global or 'no limit'} in all, "
                f"per {self.rate_limit_window:g} s"
            ),
            f"max_message_length: {self.max_message_length}",
            f"admin_role: {self.admin_role}",
            f"default_timezone: {self.default_timezone}",
            f"rules: {len(self.rules) or 'none'}",
            *(f"  {rule.describe()}" for rule in self.rules),
            f"presets: {len(self.presets) or 'none'}",
            *(f"  {preset.describe()}" for preset in self.presets),
            (
                f"calendar: polled every {self.calendar.poll_minutes:g} min, "
                f"{self.calendar.concurrency} at once, private networks "
                f"{'allowed' if self.calendar.allow_private_networks else 'refused'}"
            ),
        ]


def _key_of(loc: tuple[int | str, ...]) -> str:
    key = ""
    for part in loc:
        if part == "[key]":
            continue
        if isinstance(part, int):
            key += f"[{part}]"
        else:
            key += f".{part}" if key else str(part)
    return key


def validation_problems(exc: ValidationError) -> list[str]:
    """One line per pydantic error: the key, its variable, and what is expected (no URLs, no input)."""
    problems = []
    for error in exc.errors(include_url=False, include_input=False):
        loc = tuple(error["loc"])
        field = str(loc[0]) if loc else ""
        key = _key_of(loc)
        kind = error["type"]
        if kind == "extra_forbidden":
            problems.append(
                f"{key}: is not a known setting (check the spelling; "
                "bot.example.toml lists every setting)"
            )
            continue
        name = describe_key(field) if key == field else f"{key} ({env_name(field)})"
        if kind == "missing":
            text = f"is required: expected {EXPECTED.get(field, 'a value')}"
        elif kind == "value_error":
            text = str(error["msg"]).removeprefix("Value error, ")
        else:
            text = f"expected {EXPECTED.get(field, 'a valid value')}"
        problems.append(f"{name}: {text}")
    return problems


def read_config_file(path: Path) -> dict[str, Any]:
    """The TOML file as a dict; a missing or unreadable file is an error, not an empty config."""
    if not path.exists():
        raise ConfigError(f"config file {path} does not exist")
    if not path.is_file():
        raise ConfigError(f"config file {path} is not a file")
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except OSError as exc:
        raise ConfigError(f"config file {path} cannot be read: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {path} is not valid TOML: {exc}") from None
    except UnicodeDecodeError:
        raise ConfigError(
            f"config file {path} is not valid TOML: it is not UTF-8 text (a binary file?)"
        ) from None


def load_settings(
    config_file: Path | str | None = None, *, use_environment: bool = True, **overrides: Any
) -> BotSettings:
    """Load settings from `config_file` (optional), RCBOT_* variables and `overrides` (None = unset).

    `use_environment=False` ignores RCBOT_* variables (for the self-contained demo).
    """
    data = read_config_file(Path(config_file)) if config_file is not None else {}
    if use_environment:
        warn_unknown_variables(BotSettings.model_fields)
    given = {key: value for key, value in overrides.items() if value is not None}
    token = _FILE_DATA.set(data)
    env_token = _USE_ENVIRONMENT.set(use_environment)
    try:
        return BotSettings(**given)
    except ValidationError as exc:
        raise ConfigError(validation_problems(exc)) from None
    except SettingsError as exc:
        match = re.search(r'field "([^"]+)"', str(exc))
        field = match.group(1) if match else ""
        if field:
            raise ConfigError(
                f"{describe_key(field)}: cannot be parsed; expected "
                f"{EXPECTED.get(field, 'a valid value')} (lists and tables as JSON)"
            ) from None
        raise ConfigError("the environment has an RCBOT_ value that cannot be parsed") from None
    finally:
        _FILE_DATA.reset(token)
        _USE_ENVIRONMENT.reset(env_token)
