"""Turn a chat message's text into a command, once: prefix, name, words and the raw rest.

A text is a command when it starts with one of the configured prefixes directly followed by a
command-like word (`/status away`, `!nick Ali`). In a DM with the bot an unprefixed text is a
command too, but only when its first word names a known command (pass `known_names`), so that
"hello" or a pasted link is not answered with "unknown command".

Arguments follow shell-like quoting (shlex, POSIX rules). Words are split lazily by the registry
(`take_words`) because a handler's last parameter may take the rest of the line as written, where
an apostrophe ("I'm") is text, not an opening quote. `ParsedCommand.argv` is the whole rest split
into words for callers that want it; it never raises (see `quote_error`).

Nothing here logs or echoes the text: it may carry a token (`/token set ...`), so the argument
fields are left out of the dataclass's repr.
"""

from __future__ import annotations

import io
import re
import shlex
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from typing import Final

from bot.core.errors import UsageError
from bot.core.values import WHITESPACE

# Phones turn " into “ and ”; treat them as plain double quotes when splitting words.
_SMART_QUOTES: Final = str.maketrans({"“": '"', "”": '"', "„": '"'})
_QUOTING: Final = frozenset("\"'\\“”„")
# A command name: letters, digits, "_" and "-", starting with a letter or digit; at most 64 chars.
NAME_PATTERN: Final = re.compile(r"[^\W_][\w-]{0,63}")
_FIRST_WORD: Final = re.compile(rf"([^{re.escape(WHITESPACE)}]+)(.*)", re.DOTALL)


@dataclass(frozen=True)
class ParsedCommand:
    """A message's text read as a command.

    `prefix` is the prefix used ("" for an unprefixed DM command), `name` the command word as
    typed (look it up case-insensitively), `argv` the rest split into shell-quoted words and
    `rest` the raw text after the name with surrounding whitespace removed. `quote_error` says
    what is wrong with the quoting when `rest` cannot be split (then `argv` is a plain split).
    """

    prefix: str
    name: str
    argv: tuple[str, ...] = field(repr=False)
    rest: str = field(repr=False)
    quote_error: str | None = field(default=None, repr=False)

    @property
    def key(self) -> str:
        """The name folded for lookups."""
        return self.name.casefold()


def parse_command(
    text: str,
    *,
    prefixes: Iterable[str],
    direct: bool = False,
    known_names: Collection[str] | None = None,
) -> ParsedCommand | None:
    """Read `text` as a command, or return None when it is not one.

    With `direct=True` (a DM with the bot) an unprefixed text is a command when its first word
    is in `known_names` (compared case-insensitively); without `known_names`, any command-like
    first word counts and the caller must check it against the registry.
    """
    stripped = text.strip(WHITESPACE)
    if not stripped:
        return None
    for prefix in sorted((p for p in prefixes if p), key=len, reverse=True):
        if stripped.startswith(prefix):
            return _command_after(prefix, stripped[len(prefix) :])
    if not direct:
        return None
    parsed = _command_after("", stripped)
    if parsed is None or known_names is None:
        return parsed
    known = {name.casefold() for name in known_names}
    return parsed if parsed.key in known else None


def _command_after(prefix: str, text: str) -> ParsedCommand | None:
    """The command whose name starts right at the beginning of `text`, if it looks like one."""
    match = _FIRST_WORD.match(text)
    if match is None:
        return None
    name, rest = match.group(1), match.group(2).strip(WHITESPACE)
    if not NAME_PATTERN.fullmatch(name):
        return None
    try:
        argv = tuple(split_words(rest))
        quote_error = None
    except UsageError as exc:
        argv = tuple(rest.split())
        quote_error = str(exc)
    return ParsedCommand(prefix=prefix, name=name, argv=argv, rest=rest, quote_error=quote_error)


def _lexer(text: str | io.StringIO) -> shlex.shlex:
    source = text if isinstance(text, io.StringIO) else text.translate(_SMART_QUOTES)
    lexer = shlex.shlex(source, posix=True)
    lexer.whitespace_split = True
    lexer.whitespace = WHITESPACE
    lexer.commenters = ""
    return lexer


def _quote_problem(text: str) -> str:
    """A sentence about what is wrong with the quoting in `text` (never repeating the text)."""
    normalized = text.translate(_SMART_QUOTES)
    if normalized.rstrip(WHITESPACE).endswith("\\"):
        return "Your command ends with a backslash (\\) that escapes nothing."
    for quote, label in (('"', 'double quote (")'), ("'", "single quote (')")):
        if normalized.count(quote) % 2:
            return (
                f"There is a {label} without its closing partner. Close the quote, or put a "
                "backslash before it to use it as a plain character."
            )
    return "The quotes in your command are not balanced; every opening quote needs a closing one."


def _plain(text: str) -> bool:
    """True when `text` has nothing shlex would treat specially: then str.split() (which splits
    on the same whitespace) gives the same words, several times faster."""
    return _QUOTING.isdisjoint(text)


def split_words(text: str) -> list[str]:
    """Split `text` into shell-quoted words; unbalanced quotes raise a UsageError saying so."""
    if _plain(text):
        return text.split()
    try:
        return list(_lexer(text))
    except ValueError:
        raise UsageError(_quote_problem(text)) from None


def take_words(text: str, count: int) -> tuple[list[str], str]:
    """Take up to `count` shell-quoted words from the start of `text`; return them and the rest.

    The rest is returned as written (not unquoted), stripped of surrounding whitespace.
    """
    remaining = text.strip(WHITESPACE)
    if not _plain(remaining):
        return take_quoted_words(remaining, count)
    if count <= 0:
        return [], remaining
    parts = remaining.split(maxsplit=count)
    rest = parts[count] if len(parts) > count else ""
    return parts[:count], rest.strip(WHITESPACE)


def take_quoted_words(text: str, count: int) -> tuple[list[str], str]:
    """`take_words` through shlex, for text with quotes or backslashes."""
    words: list[str] = []
    remaining = text.strip(WHITESPACE)
    while len(words) < count and remaining:
        stream = io.StringIO(remaining.translate(_SMART_QUOTES))
        lexer = _lexer(stream)
        try:
            word = lexer.get_token()
        except ValueError:
            raise UsageError(_quote_problem(remaining)) from None
        if word is None:
            break
        words.append(word)
        # The lexer consumed the word and the one whitespace character that ended it; cut the
        # original text at the same place (quote translation keeps every character's position).
        leftover = stream.read()
        remaining = remaining[len(remaining) - len(leftover) :].strip(WHITESPACE)
    return words, remaining


def unquote_whole(text: str) -> str:
    """`"some text"` → `some text` when the whole text is one quoted word; otherwise unchanged."""
    stripped = text.strip(WHITESPACE)
    if len(stripped) < 2 or stripped[0] not in "\"'“„":
        return stripped
    try:
        words = split_words(stripped)
    except UsageError:
        return stripped
    return words[0] if len(words) == 1 else stripped
