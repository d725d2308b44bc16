"""The regular expressions of message rules, matched with a time bound and off the event loop.

An admin's pattern runs against every message in its rooms, and some patterns take time that
grows exponentially with the length of the text (`^(\\w+\\s?)+$` on a 29-character line took
Python's `re` seconds, during which nobody was served). Patterns are therefore compiled with
the `regex` package (`re`-compatible syntax, V0), which backtracks far less and can stop a
search after a time bound, releasing the GIL meanwhile; each search runs on a small thread
pool of its own, so the event loop and every other person go on while it runs. A search that
hits the bound counts as no match.

`risky()` is for `rcbot check`: it names patterns that nest quantifiers (the classic shape of
catastrophic backtracking) or that hit the bound on simple long inputs.
"""

from __future__ import annotations

import asyncio
import functools
import re
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Final

import regex

SEARCH_SECONDS: Final = 0.25  # per message and rule
PROBE_SECONDS: Final = 0.05
PROBE_CHARACTERS: Final = ("a", "1", " ", "a ", "ab", "-", ".", "\n", "a1_")
PROBE_LENGTH: Final = 40
_POOL: Final = ThreadPoolExecutor(max_workers=2, thread_name_prefix="rule-pattern")


class PatternTimeout(Exception):
    """A search took longer than its bound; the message counts as not matching."""


class BoundedPattern:
    """A compiled rule pattern whose searches stop after `seconds`."""

    def __init__(self, source: str, *, seconds: float = SEARCH_SECONDS) -> None:
        self.source = source
        self.seconds = seconds
        self._compiled = regex.compile(source, flags=regex.V0)

    def search_now(self, text: str, *, seconds: float | None = None) -> bool:
        """Search on this thread; PatternTimeout when it takes longer than the bound."""
        try:
            found = self._compiled.search(
                text, timeout=self.seconds if seconds is None else seconds, concurrent=True
            )
        except TimeoutError:
            raise PatternTimeout(self.source) from None
        return found is not None

    async def search(self, text: str) -> bool:
        """Search on the pattern pool; PatternTimeout when it takes longer than the bound."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(_POOL, functools.partial(self.search_now, text))


def check_syntax(source: str) -> None:
    """Raise ValueError with the reason when `source` is not a usable pattern."""
    try:
        regex.compile(source, flags=regex.V0)
    except regex.error as exc:
        raise ValueError(str(exc)) from None


def risky(source: str) -> str | None:
    """Why the pattern may take very long on some messages, or None when it looks safe."""
    if _nests_quantifiers(source):
        return (
            "it repeats a group that itself repeats (for example (\\w+\\s?)+), which can take "
            "exponential time on a long line that does not match"
        )
    pattern = BoundedPattern(source, seconds=PROBE_SECONDS)
    for character in PROBE_CHARACTERS:
        for probe in (character * PROBE_LENGTH + "!", character * PROBE_LENGTH):
            try:
                pattern.search_now(probe)
            except PatternTimeout:
                return f"a {len(probe)}-character line already takes longer than the time bound"
    return None


def _nests_quantifiers(source: str) -> bool:
    """True when a repeated part of the pattern contains a repeat itself."""
    try:
        from re import _parser  # type: ignore[attr-defined]  # the stdlib's own parser
    except ImportError:  # pragma: no cover - a Python without it: rely on the probes
        return False
    try:
        parsed = _parser.parse(source)
    except re.error:
        return False
    return _nested(list(parsed), inside_repeat=False)


def _nested(items: list[tuple[Any, Any]], *, inside_repeat: bool) -> bool:
    from re import _constants as sre  # type: ignore[attr-defined]

    repeats = {sre.MAX_REPEAT, sre.MIN_REPEAT, getattr(sre, "POSSESSIVE_REPEAT", sre.MAX_REPEAT)}
    for op, value in items:
        repeated = False
        children: list[Any] = []
        if op in repeats:
            _, high, sub = value
            repeated = high is sre.MAXREPEAT or high > 1
            if repeated and inside_repeat:
                return True
            children = [sub]
        elif op is sre.SUBPATTERN:
            children = [value[-1]]
        elif op is sre.BRANCH:
            children = list(value[1])
        elif op in (sre.ASSERT, sre.ASSERT_NOT):
            children = [value[1]]
        if any(
            _nested(list(child), inside_repeat=inside_repeat or repeated) for child in children
        ):
            return True
    return False
