"""Command plugins: the `@command` decorator, the grammar read from signatures, and the registry.

One module per command under `commands/`, one decorated async function in it::

    @command("nick", aliases=("nickname",), usage=("<nickname>", "clear"), help="...")
    async def nick(ctx: CommandContext, profile: ProfileService, /, *, nickname: Nickname) -> str:

The signature is the grammar, read once when the decorator runs:

* parameters before `/` (positional-only) are **injected by name**: `ctx` and `parsed` always,
  and whatever services the dispatcher provides (`profile`, `tokens`, `registry`, `settings`);
  `Registry.check_injectables` verifies every name at start-up;
* ordinary parameters take **one shell-quoted word** each;
* one keyword-only parameter (after `*`) takes **the rest of the line** as written;
* annotations are converters (`str`, `int`, an Enum, a `Literal[...]`, or a class with a
  `convert(raw)` classmethod, see bot.framework.converters); `X | None` or a default makes it optional.

Usage lines come from the signature unless the decorator gives them (argument part only; the
prefix and name are added when shown). `Registry.load()` walks `commands/` with
`pkgutil.iter_modules` (modules starting with "_" are helpers, not commands) and the entry-point
group `rcbot.commands`; any module that fails to import or registers nothing stops start-up with
a `RegistryError` that names it.

A command may answer its own errors first (the discord.py model)::

    @nick.error
    async def explain(ctx: CommandContext, error: BaseException) -> str | None: ...

returning None leaves the error to `describe_error(exc, spec, prefix=...)`, which words every
other failure through bot.core.wording (usage errors get the usage lines appended here, not in
the handler).
"""

from __future__ import annotations

import difflib
import importlib
import importlib.metadata
import inspect
import logging
import pkgutil
import types
import typing
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Final, Literal

from bot.core import wording
from bot.core.errors import UsageError
from bot.core.values import PersonalAccessToken
from bot.framework.parser import NAME_PATTERN, ParsedCommand, split_words, take_words

log = logging.getLogger(__name__)

ENTRY_POINT_GROUP: Final = "rcbot.commands"
BUILTIN_INJECTABLES: Final = frozenset({"ctx", "parsed"})
Handler = Callable[..., Awaitable[str]]
ErrorHandler = Callable[[Any, BaseException], Awaitable[str | None]]


class RegistryError(Exception):
    """The commands cannot be loaded as they are; the message names the module and what to fix."""


@dataclass(frozen=True)
class Argument:
    """One parameter of the grammar: a word, or the rest of the line."""

    name: str
    rest_of_line: bool
    required: bool
    default: Any
    metavar: str
    convert: Callable[[str], Any] = field(repr=False)

    @property
    def shown(self) -> str:
        """`<metavar>` when required, `[metavar]` when optional."""
        return f"<{self.metavar}>" if self.required else f"[{self.metavar}]"


@dataclass(frozen=True)
class CommandSpec:
    """A registered command: names, texts, the plan read from the handler's signature."""

    name: str
    handler: Handler = field(repr=False)
    aliases: tuple[str, ...]
    help: str
    usage_lines: tuple[str, ...]
    injected: tuple[str, ...]
    words: tuple[Argument, ...]
    rest: Argument | None
    module: str
    error_handlers: list[ErrorHandler] = field(default_factory=list, repr=False, compare=False)

    def error(self, handler: ErrorHandler) -> ErrorHandler:
        """Decorate `async def handler(ctx, error) -> str | None`: the command's own answer to
        an error it raised, before the dispatcher's (None: leave it to the dispatcher)."""
        self.error_handlers.append(handler)
        return handler

    async def handle_error(self, ctx: Any, error: BaseException) -> str | None:
        """The command's own sentence for `error`, if one of its handlers has one."""
        for handler in self.error_handlers:
            answer = await handler(ctx, error)
            if answer is not None:
                return answer
        return None

    @property
    def summary(self) -> str:
        """The first line of the help text (for the command list)."""
        return self.help.strip().splitlines()[0].strip()

    @property
    def usage(self) -> str:
        """The usage lines with the default prefix `/`."""
        return self.usage_for("/")

    def usage_for(self, prefix: str) -> str:
        """The usage lines, one per line, with `prefix` and the name in front."""
        return "\n".join(f"{prefix}{self.name} {line}".rstrip() for line in self.usage_lines)

    def bind(self, text: str) -> dict[str, Any]:
        """Convert the text after the command name into keyword arguments (or UsageError)."""
        if self.rest is not None:
            words, remainder = take_words(text, len(self.words))
        else:
            words, remainder = split_words(text), ""
            if len(words) > len(self.words):
                raise UsageError(self._too_many())
        values: dict[str, Any] = {}
        for index, argument in enumerate(self.words):
            if index < len(words):
                values[argument.name] = argument.convert(words[index])
            elif argument.required:
                raise UsageError(f"Missing the {argument.metavar}.")
            else:
                values[argument.name] = argument.default
        if self.rest is not None:
            if remainder:
                values[self.rest.name] = self.rest.convert(remainder)
            elif self.rest.required:
                raise UsageError(f"Missing the {self.rest.metavar}.")
            else:
                values[self.rest.name] = self.rest.default
        return values

    def _too_many(self) -> str:
        if not self.words:
            return "This command takes no arguments."
        count = len(self.words)
        plural = "value" if count == 1 else "values"
        return (
            f"That is more than I expected: this command takes at most {count} {plural}. "
            "Put a value that contains spaces in quotes."
        )

    async def invoke(self, parsed: ParsedCommand, ctx: Any, services: Mapping[str, Any]) -> str:
        """Bind the arguments, inject what the handler names, run it and return the reply."""
        values = self.bind(parsed.rest)
        injected: list[Any] = []
        for name in self.injected:
            if name == "ctx":
                injected.append(ctx)
            elif name == "parsed":
                injected.append(parsed)
            elif name in services:
                injected.append(services[name])
            else:
                raise RegistryError(
                    f"command {self.name} ({self.module}) needs {name!r}, which the dispatcher "
                    "did not provide; check_injectables() should have caught this at start-up"
                )
        reply = await self.handler(*injected, **values)
        if not isinstance(reply, str):
            raise TypeError(
                f"command {self.name} returned {type(reply).__name__}, not the reply text"
            )
        return reply


def command(
    name: str,
    *,
    help: str,
    aliases: Sequence[str] = (),
    usage: str | Sequence[str] | None = None,
) -> Callable[[Handler], CommandSpec]:
    """Declare a command; the decorated function is replaced by its `CommandSpec`."""

    def decorate(handler: Handler) -> CommandSpec:
        return build_spec(handler, name=name, help=help, aliases=aliases, usage=usage)

    return decorate


def build_spec(
    handler: Handler,
    *,
    name: str,
    help: str,
    aliases: Sequence[str] = (),
    usage: str | Sequence[str] | None = None,
) -> CommandSpec:
    """Read `handler`'s signature into a `CommandSpec`; RegistryError says what is wrong."""
    where = f"{getattr(handler, '__module__', '?')}.{getattr(handler, '__qualname__', handler)}"
    if not inspect.iscoroutinefunction(handler):
        raise RegistryError(f"{where}: a command handler must be an `async def` function")
    for word in (name, *aliases):
        if not isinstance(word, str) or not NAME_PATTERN.fullmatch(word):
            raise RegistryError(
                f"{where}: {word!r} is not a usable command name (one word of letters, digits, "
                "'-' or '_')"
            )
    if not help or not help.strip():
        raise RegistryError(f"{where}: command {name!r} needs a help text")
    injected: list[str] = []
    words: list[Argument] = []
    rest: Argument | None = None
    for parameter in inspect.signature(handler).parameters.values():
        kind = parameter.kind
        if kind is inspect.Parameter.POSITIONAL_ONLY:
            injected.append(parameter.name)
        elif kind is inspect.Parameter.POSITIONAL_OR_KEYWORD:
            words.append(_argument(handler, where, parameter, rest_of_line=False))
        elif kind is inspect.Parameter.KEYWORD_ONLY:
            if rest is not None:
                raise RegistryError(
                    f"{where}: only one keyword-only parameter may take the rest of the line "
                    f"(found {rest.name!r} and {parameter.name!r})"
                )
            rest = _argument(handler, where, parameter, rest_of_line=True)
        else:
            raise RegistryError(
                f"{where}: *args and **kwargs are not part of a command's grammar "
                f"(parameter {parameter.name!r})"
            )
    seen_optional = False
    for argument in words:
        if argument.required and seen_optional:
            raise RegistryError(
                f"{where}: the required parameter {argument.name!r} follows an optional one"
            )
        seen_optional = seen_optional or not argument.required
    if rest is not None and rest.required and seen_optional:
        raise RegistryError(
            f"{where}: optional words before a required rest-of-line parameter are ambiguous; "
            "make them required or the rest optional"
        )
    if usage is None:
        usage_lines: tuple[str, ...] = (
            " ".join(a.shown for a in (*words, *([rest] if rest else []))),
        )
    elif isinstance(usage, str):
        usage_lines = (usage.strip(),)
    else:
        usage_lines = tuple(line.strip() for line in usage)
    return CommandSpec(
        name=name,
        handler=handler,
        aliases=tuple(aliases),
        help=inspect.cleandoc(help),
        usage_lines=usage_lines,
        injected=tuple(injected),
        words=tuple(words),
        rest=rest,
        module=getattr(handler, "__module__", "?"),
    )


def _argument(
    handler: Handler, where: str, parameter: inspect.Parameter, *, rest_of_line: bool
) -> Argument:
    annotation = parameter.annotation
    if annotation is inspect.Parameter.empty:
        annotation = str
    for _ in range(3):  # a string annotation, or a quoted one under `from __future__ ...`
        if not isinstance(annotation, str):
            break
        try:
            annotation = eval(annotation, getattr(handler, "__globals__", {}))
        except Exception as exc:
            raise RegistryError(
                f"{where}: cannot resolve the annotation {parameter.annotation!r} of "
                f"{parameter.name!r} ({type(exc).__name__}: {exc}); import it at module level"
            ) from exc
    optional = parameter.default is not inspect.Parameter.empty
    default = None if parameter.default is inspect.Parameter.empty else parameter.default
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        members = [a for a in typing.get_args(annotation) if a is not type(None)]
        if len(members) != 1 or len(members) == len(typing.get_args(annotation)):
            raise RegistryError(
                f"{where}: parameter {parameter.name!r}: only `X | None` unions are supported"
            )
        annotation = members[0]
        optional = True
    convert, choices = _converter(where, parameter.name, annotation, rest_of_line=rest_of_line)
    metavar = choices or getattr(annotation, "metavar", None) or parameter.name.replace("_", " ")
    return Argument(
        name=parameter.name,
        rest_of_line=rest_of_line,
        required=not optional,
        default=default,
        metavar=str(metavar),
        convert=convert,
    )


def _converter(
    where: str, name: str, annotation: Any, *, rest_of_line: bool
) -> tuple[Callable[[str], Any], str | None]:
    """The function turning raw text into the annotated type, and the choices for usage."""
    if annotation is str:
        return (str.strip if rest_of_line else str), None
    if annotation is int:
        return _to_int, None
    if typing.get_origin(annotation) is Literal:
        options = tuple(str(o) for o in typing.get_args(annotation))
        return _choice(
            options, dict(zip(options, typing.get_args(annotation), strict=True))
        ), "|".join(options)
    convert = getattr(annotation, "convert", None)
    if isinstance(annotation, type) and issubclass(annotation, Enum):
        values = {str(m.value): m for m in annotation}
        choices = "|".join(values)
        return (convert if callable(convert) else _choice(tuple(values), values)), choices
    if callable(convert):
        return convert, None
    raise RegistryError(
        f"{where}: parameter {name!r} is annotated {annotation!r}, which is not a converter "
        "(use str, int, an Enum, a Literal[...] or a class with a convert(raw) classmethod)"
    )


def _to_int(raw: str) -> int:
    try:
        return int(raw.strip())
    except ValueError:
        raise UsageError(f"“{raw.strip()[:20]}” is not a whole number.") from None


def _choice(options: tuple[str, ...], values: Mapping[str, Any]) -> Callable[[str], Any]:
    folded = {option.casefold(): values[option] for option in options}

    def convert(raw: str) -> Any:
        word = raw.strip().casefold()
        if word in folded:
            return folded[word]
        # Never echo the word: it may be a secret typed in the wrong place.
        raise UsageError(f"Expected one of: {', '.join(options)}.")

    return convert


class Registry:
    """Every command by name and alias (case-insensitive), loaded once at start-up."""

    def __init__(self, *, prefixes: Sequence[str] = ("/",)) -> None:
        self._commands: dict[str, CommandSpec] = {}
        self._lookup: dict[str, CommandSpec] = {}
        self._names: frozenset[str] | None = None
        self._origin: dict[str, str] = {}
        self._extra_aliases: dict[str, list[str]] = {}
        self.prefixes = tuple(prefixes) or ("/",)

    @classmethod
    def load(
        cls,
        *,
        aliases: Mapping[str, str] | None = None,
        prefixes: Sequence[str] = ("/",),
        package: str = "commands",
        entry_point_group: str | None = ENTRY_POINT_GROUP,
    ) -> Registry:
        """Discover the commands in `package` and the entry-point group, then add `aliases`.

        `aliases` maps alias → command name (the `aliases` setting). `prefixes` are only used to
        show commands the way users type them (the first one is shown).
        """
        registry = cls(prefixes=prefixes)
        try:
            root = importlib.import_module(package)
        except Exception as exc:
            raise RegistryError(
                f"the command package {package!r} cannot be imported: {exc}"
            ) from exc
        for info in sorted(pkgutil.iter_modules(root.__path__), key=lambda i: i.name):
            if info.name.startswith("_"):
                continue
            module_name = f"{package}.{info.name}"
            where = f"{package.replace('.', '/')}/{info.name}.py"
            module = _import(module_name, where)
            specs = _specs_in(module)
            if not specs:
                raise RegistryError(
                    f"{where} registers no command: decorate one async function with "
                    "@command(...) (helper modules must start with '_')"
                )
            if len(specs) > 1:
                names = ", ".join(s.name for s in specs)
                raise RegistryError(
                    f"{where} defines {len(specs)} commands ({names}); put each in its own module"
                )
            registry.add(specs[0], origin=where)
        if entry_point_group:
            for entry_point in _entry_points(entry_point_group):
                where = (
                    f"entry point {entry_point.name} = {entry_point.value!r} ({entry_point_group})"
                )
                try:
                    loaded = entry_point.load()
                except Exception as exc:
                    raise RegistryError(
                        f"{where} cannot be loaded: {type(exc).__name__}: {exc}"
                    ) from exc
                if isinstance(loaded, CommandSpec):
                    specs = [loaded]
                elif isinstance(loaded, types.ModuleType):
                    specs = _specs_in(loaded)
                else:
                    specs = []
                if not specs:
                    raise RegistryError(f"{where} registers no command")
                for spec in specs:
                    registry.add(spec, origin=where)
        for alias, target in (aliases or {}).items():
            registry.add_alias(alias, target)
        return registry

    def add(self, spec: CommandSpec, *, origin: str | None = None) -> None:
        """Register `spec` under its name and aliases; a name already taken is a RegistryError."""
        origin = origin or spec.module
        for word in (spec.name, *spec.aliases):
            key = word.casefold()
            if key in self._lookup:
                raise RegistryError(
                    f"{origin}: the name {word!r} is already used by command "
                    f"{self._lookup[key].name!r} ({self._origin[key]})"
                )
        for word in (spec.name, *spec.aliases):
            self._lookup[word.casefold()] = spec
            self._names = None
            self._origin[word.casefold()] = origin
        self._commands[spec.name.casefold()] = spec

    def add_alias(self, alias: str, target: str) -> None:
        """Add a configured alias (from the `aliases` setting) for the command `target`."""
        where = f"aliases setting: {alias} = {target!r}"
        spec = self.find(target)
        if spec is None:
            close = self.suggest(target)
            hint = f" Did you mean {close!r}?" if close else ""
            raise RegistryError(f"{where}: there is no command called {target!r}.{hint}")
        if not NAME_PATTERN.fullmatch(alias):
            raise RegistryError(f"{where}: {alias!r} is not a usable command name")
        key = alias.casefold()
        existing = self._lookup.get(key)
        if existing is spec:
            return
        if existing is not None:
            raise RegistryError(
                f"{where}: {alias!r} is already the command {existing.name!r} or its alias"
            )
        self._lookup[key] = spec
        self._names = None
        self._origin[key] = "aliases setting"
        self._extra_aliases.setdefault(spec.name.casefold(), []).append(alias)

    def find(self, name: str) -> CommandSpec | None:
        """The command called `name` (or aliased so), ignoring case."""
        return self._lookup.get(name.casefold())

    def suggest(self, name: str) -> str | None:
        """The command name closest to `name` (difflib), or None when nothing is close."""
        close = difflib.get_close_matches(name.casefold(), list(self._lookup), n=1, cutoff=0.6)
        return self._lookup[close[0]].name if close else None

    def names(self) -> frozenset[str]:
        """Every name and alias, folded: what `parse_command(known_names=...)` wants."""
        if self._names is None:  # built once, dropped when a name is added
            self._names = frozenset(self._lookup)
        return self._names

    def commands(self) -> tuple[CommandSpec, ...]:
        """The commands sorted by name."""
        return tuple(self._commands[key] for key in sorted(self._commands))

    def aliases_of(self, spec: CommandSpec) -> tuple[str, ...]:
        """Declared and configured aliases of `spec`."""
        return (*spec.aliases, *self._extra_aliases.get(spec.name.casefold(), ()))

    def check_injectables(self, available: Iterable[str]) -> None:
        """Fail at start-up when a handler asks for something that will not be injected."""
        known = set(available) | BUILTIN_INJECTABLES
        problems = [
            f"command {spec.name} ({self._origin[spec.name.casefold()]}) asks for {name!r}, "
            f"which is not something I can inject (available: {', '.join(sorted(known))})"
            for spec in self.commands()
            for name in spec.injected
            if name not in known
        ]
        if problems:
            raise RegistryError("\n".join(problems))

    @property
    def display_prefix(self) -> str:
        """The prefix used when showing commands to users (the first configured one)."""
        return self.prefixes[0]

    def describe_unknown(self, name: str, prefix: str | None = None) -> str:
        """The reply to an unknown command: a suggestion (difflib) and a pointer to help."""
        shown = prefix or self.display_prefix
        help_hint = f"Send {shown}help to see what I can do."
        if PersonalAccessToken.looks_like(name):
            return f"I don't know that command. {help_hint}"
        close = self.suggest(name)
        guess = f" Did you mean {shown}{close}?" if close else ""
        return f"I don't know the command {shown}{name}.{guess} {help_hint}"


def _import(module_name: str, where: str) -> types.ModuleType:
    try:
        return importlib.import_module(module_name)
    except RegistryError as exc:
        raise RegistryError(f"{where}: {exc}") from exc
    except Exception as exc:
        raise RegistryError(f"{where} could not be imported: {type(exc).__name__}: {exc}") from exc


def _specs_in(module: types.ModuleType) -> list[CommandSpec]:
    return [
        value
        for value in vars(module).values()
        if isinstance(value, CommandSpec) and value.module == module.__name__
    ]


def _entry_points(group: str) -> Iterable[importlib.metadata.EntryPoint]:
    return importlib.metadata.entry_points(group=group)


def describe_error(
    exc: BaseException, spec: CommandSpec | None = None, *, prefix: str = "/"
) -> str:
    """The reply for a command that failed with `exc` (any exception; never a raw server id).

    UsageError gets the command's usage lines appended; everything else is worded by
    bot.core.wording, the one place that turns errors into sentences.
    """
    if isinstance(exc, UsageError) and spec is not None:
        lines = [f"`{line}`" for line in spec.usage_for(prefix).splitlines()]
        usage = lines[0] if len(lines) == 1 else "\n" + "\n".join(lines)
        return f"{exc}\nUsage: {usage}"
    return wording.failure(
        exc, name=f"{prefix}{spec.name}" if spec else "that command", prefix=prefix
    )
