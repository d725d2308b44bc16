"""The registry: discovery, injection checks, aliases, suggestions, the signature as grammar."""

from __future__ import annotations

import contextlib
import itertools
import subprocess
import sys
import textwrap
import types
from collections.abc import Iterator
from enum import Enum
from pathlib import Path
from typing import Any, Literal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.core.context import CommandContext
from bot.core.errors import AuthError, RateLimited, ServerError, UsageError, UserError
from bot.core.message import IncomingMessage, RoomType
from bot.core.values import StatusType
from bot.framework import registry as registry_module
from bot.framework.converters import Nickname
from bot.framework.parser import ParsedCommand, parse_command
from bot.framework.registry import (
    CommandSpec,
    Registry,
    RegistryError,
    build_spec,
    command,
    describe_error,
)

INJECTABLES = {"ctx", "profile", "tokens", "registry", "settings"}
INJECTABLES |= {"conversations", "sensitive"}  # bot/app.py: sensitive changes (issue 4)
INJECTABLES |= {"audit", "rules"}  # bot/app.py: team automation (issue 5)
INJECTABLES |= {"presets"}  # bot/app/runner.py: status presets and recents (issue 17)
INJECTABLES |= {"ooo"}  # bot/automation/runtime.py: out of office (issue 17)
INJECTABLES |= {"calendar"}  # bot/automation/runtime.py: calendar-driven status (issue 17)
BUILTIN = {"bio", "field", "help", "name", "nick", "profile", "status", "token"}
_packages = itertools.count()
ROOT = Path(__file__).resolve().parents[2]


def spec_of(handler: Any, name: str = "demo", **kwargs: Any) -> CommandSpec:
    return build_spec(handler, name=name, help=kwargs.pop("help", "Demo command."), **kwargs)


def parsed(text: str) -> ParsedCommand:
    result = parse_command(text, prefixes=["/"])
    assert result is not None
    return result


def context(direct: bool = True) -> CommandContext:
    message = IncomingMessage(
        id="m1",
        room_id="r1",
        room_type=RoomType.DIRECT if direct else RoomType.CHANNEL,
        one_to_one=direct,
        text="",
        sender_id="u1",
        sender_username="alice",
    )
    return CommandContext.from_message(message)


@pytest.fixture
def builtin() -> Registry:
    return Registry.load(prefixes=["/", "!"])


@pytest.fixture
def make_package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """Write a throwaway command package: make_package({"nick": "source"}) -> package name."""

    def make(modules: dict[str, str]) -> str:
        name = f"rcbot_test_commands_{next(_packages)}"
        root = tmp_path / name
        root.mkdir()
        (root / "__init__.py").write_text("")
        for module, source in modules.items():
            (root / f"{module}.py").write_text(textwrap.dedent(source))
        return name

    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(registry_module, "_entry_points", lambda group: [])
    yield make


GOOD = """
    from bot.framework.registry import command

    @command("{name}", help="A test command.")
    async def handler(ctx, /) -> str:
        return "ok"
"""

# -- discovery ------------------------------------------------------------------------------


def test_the_builtin_commands_are_discovered(builtin: Registry) -> None:
    names = {spec.name for spec in builtin.commands()}
    assert names >= BUILTIN
    assert all(spec.summary and spec.usage_lines for spec in builtin.commands())


def test_the_builtin_commands_only_ask_for_what_the_dispatcher_injects(builtin: Registry) -> None:
    builtin.check_injectables(INJECTABLES)


def test_discovery_walks_the_package_and_skips_helper_modules(make_package: Any) -> None:
    package = make_package(
        {"alpha": GOOD.format(name="alpha"), "beta": GOOD.format(name="beta"), "_util": "X = 1"}
    )
    assert [s.name for s in Registry.load(package=package).commands()] == ["alpha", "beta"]


def test_a_module_that_registers_nothing_stops_start_up(make_package: Any) -> None:
    package = make_package({"alpha": GOOD.format(name="alpha"), "empty": "X = 1\n"})
    with pytest.raises(RegistryError, match=r"empty\.py registers no command"):
        Registry.load(package=package)


def test_a_module_that_fails_to_import_stops_start_up_naming_it(make_package: Any) -> None:
    package = make_package({"broken": "import does_not_exist_anywhere\n"})
    with pytest.raises(RegistryError, match=r"broken\.py could not be imported.*does_not_exist"):
        Registry.load(package=package)


def test_a_bad_declaration_stops_start_up_naming_the_module(make_package: Any) -> None:
    source = """
        from bot.framework.registry import command

        @command("bad", help="x")
        def handler(ctx, /) -> str:
            return "sync"
    """
    package = make_package({"bad": source})
    with pytest.raises(RegistryError, match=r"bad\.py.*async def"):
        Registry.load(package=package)


def test_two_commands_in_one_module_are_refused(make_package: Any) -> None:
    source = GOOD.format(name="one") + GOOD.format(name="two").replace("handler", "other")
    package = make_package({"both": source})
    with pytest.raises(RegistryError, match="defines 2 commands"):
        Registry.load(package=package)


def test_a_name_used_twice_is_refused_naming_both_places(make_package: Any) -> None:
    package = make_package({"a": GOOD.format(name="same"), "b": GOOD.format(name="SAME")})
    with pytest.raises(RegistryError, match=r"b\.py: the name 'SAME' is already used.*a\.py"):
        Registry.load(package=package)


class FakeEntryPoint:
    def __init__(self, name: str, loaded: Any) -> None:
        self.name, self.value, self._loaded = name, f"thirdparty.{name}", loaded

    def load(self) -> Any:
        if isinstance(self._loaded, Exception):
            raise self._loaded
        return self._loaded


def test_entry_points_add_third_party_commands(
    make_package: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def weather(ctx: Any, /) -> str:
        return "sunny"

    module = types.ModuleType("thirdparty.weather")
    weather_spec = build_spec(weather, name="weather", help="Weather.")
    object.__setattr__(weather_spec, "module", module.__name__)
    module.weather = weather_spec  # type: ignore[attr-defined]
    monkeypatch.setattr(
        registry_module, "_entry_points", lambda group: [FakeEntryPoint("weather", module)]
    )
    loaded = Registry.load(package=make_package({"a": GOOD.format(name="alpha")}))
    assert loaded.find("weather") is weather_spec


def test_an_entry_point_that_fails_to_load_stops_start_up(
    make_package: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(
        registry_module,
        "_entry_points",
        lambda group: [FakeEntryPoint("weather", ImportError("no module named weather"))],
    )
    with pytest.raises(RegistryError, match=r"entry point weather.*cannot be loaded"):
        Registry.load(package=make_package({"a": GOOD.format(name="alpha")}))


# -- injection ------------------------------------------------------------------------------


def test_an_unknown_injected_name_fails_at_start_up_naming_command_and_parameter() -> None:
    async def nick(ctx: Any, profle: Any, /) -> str:
        return ""

    registry = Registry()
    registry.add(spec_of(nick, name="nick"))
    with pytest.raises(RegistryError, match=r"command nick .*asks for 'profle'"):
        registry.check_injectables(INJECTABLES)


async def test_a_handler_receives_exactly_what_it_names() -> None:
    seen: dict[str, Any] = {}

    async def demo(settings: Any, ctx: Any, parsed: Any, /, word: str) -> str:
        seen.update(settings=settings, ctx=ctx, parsed=parsed, word=word)
        return "done"

    ctx, command_text = context(), parsed("/demo hello")
    reply = await spec_of(demo).invoke(command_text, ctx, {"settings": "S", "profile": "P"})
    assert reply == "done"
    assert seen == {"settings": "S", "ctx": ctx, "parsed": command_text, "word": "hello"}


async def test_a_handler_that_returns_no_text_is_a_bug_reported_clearly() -> None:
    async def demo(ctx: Any, /) -> str:
        return None  # type: ignore[return-value]

    with pytest.raises(TypeError, match="not the reply text"):
        await spec_of(demo).invoke(parsed("/demo"), context(), {})


# -- aliases and suggestions ------------------------------------------------------------------


@pytest.mark.parametrize("name", ["nick", "NICK", "nickname", "NickName"])
def test_names_and_declared_aliases_are_found_ignoring_case(builtin: Registry, name: str) -> None:
    spec = builtin.find(name)
    assert spec is not None and spec.name == "nick"


def test_configured_aliases_point_at_commands() -> None:
    loaded = Registry.load(aliases={"presence": "status", "nn": "nickname"})
    assert loaded.find("Presence") is loaded.find("status")
    assert loaded.find("nn") is loaded.find("nick")
    assert "presence" in loaded.names()
    assert "presence" in loaded.aliases_of(loaded.find("status"))  # type: ignore[arg-type]


def test_an_alias_for_a_missing_command_is_refused_with_a_suggestion() -> None:
    with pytest.raises(RegistryError, match=r"no command called 'stauts'.*'status'"):
        Registry.load(aliases={"st": "stauts"})


def test_an_alias_that_takes_another_commands_name_is_refused() -> None:
    with pytest.raises(RegistryError, match="'bio' is already the command 'bio' or its alias"):
        Registry.load(aliases={"bio": "status"})


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("stauts", "status"),
        ("nik", "nick"),
        ("nickame", "nick"),
        ("profil", "profile"),
        ("tokne", "token"),
        ("xyzzy", None),
    ],
)
def test_the_closest_command_is_suggested(
    builtin: Registry, typed: str, expected: str | None
) -> None:
    assert builtin.suggest(typed) == expected


def test_an_unknown_command_reply_suggests_and_points_to_help(builtin: Registry) -> None:
    text = builtin.describe_unknown("stauts", "!")
    assert "!stauts" in text and "Did you mean !status?" in text and "!help" in text


def test_an_unknown_command_that_looks_like_a_token_is_not_repeated(builtin: Registry) -> None:
    token = "Ab3dEfGhIjKlMnOpQrStUvWxYz0123456789abcdefg"
    assert token not in builtin.describe_unknown(token)


# -- the signature is the grammar ------------------------------------------------------------


class Colour(Enum):
    RED = "red"
    BLUE = "blue"


async def _grammar(
    ctx: Any,
    /,
    name: str,
    count: int,
    mode: Literal["fast", "slow"],
    colour: Colour | None = None,
    *,
    note: Nickname | None,
) -> str:
    return ""


def test_usage_is_generated_from_the_signature() -> None:
    spec = spec_of(_grammar)
    assert spec.usage == "/demo <name> <count> <fast|slow> [red|blue] [note]"
    assert spec.usage_for("!") == "!demo <name> <count> <fast|slow> [red|blue] [note]"
    assert spec.injected == ("ctx",)


def test_declared_usage_lines_win_and_get_prefix_and_name() -> None:
    spec = spec_of(_grammar, usage=("<a>", "clear"))
    assert spec.usage_for("!") == "!demo <a>\n!demo clear"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "/demo Ann 3 FAST",
            {"name": "Ann", "count": 3, "mode": "fast", "colour": None, "note": None},
        ),
        (
            '/demo "Ann Lee" 3 slow blue',
            {"name": "Ann Lee", "count": 3, "mode": "slow", "colour": Colour.BLUE, "note": None},
        ),
    ],
)
def test_words_are_bound_and_converted(text: str, expected: dict[str, Any]) -> None:
    assert spec_of(_grammar).bind(parsed(text).rest) == expected


def test_a_keyword_only_parameter_takes_the_rest_of_the_line_as_written() -> None:
    async def bio(ctx: Any, /, *, text: str) -> str:
        return ""

    assert spec_of(bio).bind("I'm a developer, “really”") == {"text": "I'm a developer, “really”"}


def test_words_then_rest() -> None:
    async def field(ctx: Any, /, name: str, *, value: str) -> str:
        return ""

    assert spec_of(field).bind("'fav food' it's pizza") == {
        "name": "fav food",
        "value": "it's pizza",
    }


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "Missing the name"),
        ("Ann", "Missing the count"),
        ("Ann three fast", "not a whole number"),
        ("Ann 3 medium", "Expected one of: fast, slow"),
        ("Ann 3 fast green", "Expected one of: red, blue"),
        ('"Ann 3 fast', "double quote"),
    ],
)
def test_wrong_calls_are_usage_errors_saying_what_is_wrong(text: str, message: str) -> None:
    with pytest.raises(UsageError, match=message):
        spec_of(_grammar).bind(text)


def test_too_many_words_is_a_usage_error_that_does_not_repeat_them() -> None:
    async def one(ctx: Any, /, word: str) -> str:
        return ""

    with pytest.raises(UsageError, match="at most 1 value") as caught:
        spec_of(one).bind("a secret-word")
    assert "secret-word" not in str(caught.value)
    with pytest.raises(UsageError, match="takes no arguments"):
        spec_of(_no_args).bind("extra")


async def _no_args(ctx: Any, /) -> str:
    return ""


def test_a_converter_error_from_the_rest_reaches_the_caller() -> None:
    async def status(ctx: Any, /, *, presence: StatusType) -> str:
        return ""

    with pytest.raises(UsageError, match="not a presence"):
        spec_of(status).bind("sleeping")


async def _sync(ctx: Any, /) -> str:
    return ""


def _not_async(ctx: Any, /) -> str:
    return ""


async def _star_args(ctx: Any, /, *words: str) -> str:
    return ""


async def _two_rests(ctx: Any, /, *, a: str, b: str) -> str:
    return ""


async def _required_after_optional(ctx: Any, /, a: str | None, b: str) -> str:
    return ""


async def _optional_before_rest(ctx: Any, /, a: str | None = None, *, b: str) -> str:
    return ""


async def _unknown_annotation(ctx: Any, /, a: dict[str, str]) -> str:
    return ""


async def _bad_union(ctx: Any, /, a: int | str) -> str:
    return ""


async def _unresolvable(ctx: Any, /, a: NoSuchType) -> str:  # type: ignore[name-defined]  # noqa: F821
    return ""


@pytest.mark.parametrize(
    ("handler", "kwargs", "message"),
    [
        (_not_async, {}, "async def"),
        (_star_args, {}, r"\*args"),
        (_two_rests, {}, "only one keyword-only"),
        (_required_after_optional, {}, "required parameter 'b' follows an optional"),
        (_optional_before_rest, {}, "ambiguous"),
        (_unknown_annotation, {}, "not a converter"),
        (_bad_union, {}, r"X \| None"),
        (_unresolvable, {}, "cannot resolve the annotation"),
        (_sync, {"name": "two words"}, "not a usable command name"),
        (_sync, {"aliases": ("ok", "/bad")}, "not a usable command name"),
        (_sync, {"help": "  "}, "needs a help text"),
    ],
)
def test_bad_declarations_are_refused_at_registration(
    handler: Any, kwargs: dict[str, Any], message: str
) -> None:
    with pytest.raises(RegistryError, match=message):
        spec_of(handler, **kwargs)


def test_the_decorator_returns_the_spec() -> None:
    @command("hello", aliases=("hi",), help="Say hello.\nMore details here.")
    async def hello(ctx: Any, /) -> str:
        return "hi"

    assert isinstance(hello, CommandSpec)
    assert (hello.name, hello.aliases, hello.summary) == ("hello", ("hi",), "Say hello.")


# -- errors for the dispatcher ----------------------------------------------------------------


def test_describe_error_completes_usage_errors_with_the_usage(builtin: Registry) -> None:
    spec = builtin.find("nick")
    text = describe_error(UsageError("Missing the nickname."), spec, prefix="!")
    assert text.startswith("Missing the nickname.\nUsage:")
    assert "!nick <nickname>" in text and "!nick clear" in text


def test_describe_error_shows_user_errors_as_written(builtin: Registry) -> None:
    assert describe_error(UserError("Your bio is too long."), builtin.find("bio")) == (
        "Your bio is too long."
    )


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (AuthError("GET me failed with HTTP 401", status=401), "token set"),
        (RateLimited("slow", status=429, retry_after=7.2), "7 seconds"),
        (ServerError("boom [error-xyz]", status=400, error_type="error-xyz"), "refused"),
        (ServerError("oops", status=502), "HTTP 502"),
        (RuntimeError("internal detail"), "something went wrong"),
    ],
)
def test_describe_error_turns_every_failure_into_a_sentence(
    builtin: Registry, error: Exception, expected: str
) -> None:
    text = describe_error(error, builtin.find("bio"))
    assert expected in text
    assert "error-xyz" not in text and "internal detail" not in text


# -- the built-in commands' grammar ------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("/field team Platform team", {"name": "team", "value": "Platform team"}),
        ('/field "cost centre" clear', {"name": "cost centre", "value": ""}),
        ("/nick  Ali ", {"nickname": "Ali"}),
        ("/help", {"command_name": None}),
        ("/token status", {"text": "status"}),
        ("/token", {"text": None}),
    ],
)
def test_builtin_commands_bind_their_arguments(
    builtin: Registry, text: str, expected: dict[str, Any]
) -> None:
    command_text = parsed(text)
    spec = builtin.find(command_text.name)
    assert spec is not None and spec.bind(command_text.rest) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("/nick", "Missing the nickname"),
        ("/field team", "Missing the value"),
        ("/bio", "Missing the text"),
        ("/status save", "Tell me the preset's name"),  # `/status` alone lists (issue 17)
        ("/profile now", "takes no arguments"),
        ("/name", "Missing the display name"),
    ],
)
def test_builtin_commands_answer_wrong_calls_with_usage_errors(
    builtin: Registry, text: str, message: str
) -> None:
    command_text = parsed(text)
    spec = builtin.find(command_text.name)
    assert spec is not None
    with pytest.raises(UsageError, match=message):
        spec.bind(command_text.rest)


_BUILTIN = Registry.load()


@pytest.mark.parametrize("name", sorted(BUILTIN))
@given(rest=st.text())
def test_no_input_crashes_the_binding_of_a_builtin_command(name: str, rest: str) -> None:
    spec = _BUILTIN.find(name)
    assert spec is not None
    with contextlib.suppress(UserError):  # UsageError included
        spec.bind(rest)


# -- help and token commands ------------------------------------------------------------------


async def run(registry: Registry, text: str, services: dict[str, Any] | None = None) -> str:
    command_text = parse_command(text, prefixes=registry.prefixes, direct=True)
    assert command_text is not None
    spec = registry.find(command_text.name)
    assert spec is not None
    return await spec.invoke(command_text, context(), {"registry": registry, **(services or {})})


async def test_help_lists_every_command_with_one_line(builtin: Registry) -> None:
    text = await run(builtin, "/help")
    for name in BUILTIN:
        assert f"`/{name}` — " in text
    assert "`!`" in text


async def test_help_for_one_command_shows_usage_help_and_aliases(builtin: Registry) -> None:
    text = await run(builtin, "!help /NICK")
    assert "`!nick <nickname>`" in text and "`!nick clear`" in text
    assert "120 characters" in text and "`!nickname`" in text


async def test_help_for_an_unknown_command_suggests_one(builtin: Registry) -> None:
    with pytest.raises(UserError, match="Did you mean /status"):
        await run(builtin, "/help stauts")


class RecordingTokens:
    def __init__(self) -> None:
        self.calls: list[tuple[str, str | None]] = []

    async def set(self, ctx: Any, token: str) -> str:
        self.calls.append(("set", token))
        return "stored"

    async def status(self, ctx: Any) -> str:
        self.calls.append(("status", None))
        return "fine"

    async def forget(self, ctx: Any) -> str:
        self.calls.append(("forget", None))
        return "gone"


TOKEN = "Ab3dEfGhIjKlMnOpQrStUvWxYz0123456789abcdefg"


@pytest.mark.parametrize(
    ("text", "call"),
    [
        (f"/token set {TOKEN}", ("set", TOKEN)),
        (f"/token {TOKEN}", ("set", TOKEN)),
        ("/token STATUS", ("status", None)),
        ("/token forget", ("forget", None)),
    ],
)
async def test_token_actions_reach_the_token_service(
    builtin: Registry, text: str, call: tuple[str, str | None]
) -> None:
    tokens = RecordingTokens()
    await run(builtin, text, {"tokens": tokens})
    assert tokens.calls == [call]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("/token set", "Missing the token"),
        ("/token", "set, status or forget"),
        ("/token status now", "takes nothing after it"),
        (f"/token sett {TOKEN}", "knows set, status and forget"),
        (f"/token set {TOKEN} extra", "exactly one token"),
        ("/token set <token>", "Replace <token>"),
        ('/token set "unbalanced', "does not look like a personal access token"),
    ],
)
async def test_wrong_token_calls_never_repeat_the_token(
    builtin: Registry, text: str, message: str
) -> None:
    tokens = RecordingTokens()
    with pytest.raises(UsageError, match=message) as caught:
        await run(builtin, text, {"tokens": tokens})
    assert TOKEN not in str(caught.value) and tokens.calls == []


def test_loading_the_commands_imports_no_transport_or_storage_library() -> None:
    code = (
        "import sys; from bot.framework.registry import Registry; Registry.load(); "
        "print(sorted(m for m in ('aiohttp', 'rocketchat_async', 'sqlite3', 'asyncpg') "
        "if m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT
    )
    assert result.stdout.strip() == "[]"
