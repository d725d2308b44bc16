"""meteor/check for DDP method arguments: `check(value, pattern)` raises MatchError.

Patterns: `str`, `bool`, `int` (Number), `dict` (a plain Object), `datetime` (Date), `ANY`,
`Maybe(p)` (also null/undefined), `[p]` (array of p), `{key: p}` (exact object: unknown keys
fail) and `Including({key: p})` (other keys allowed).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sandbox.errors import MatchError

ANY = object()
_NAMES = {str: "string", bool: "boolean", int: "number", dict: "object", datetime: "Date"}


@dataclass(frozen=True)
class Maybe:
    """`Match.Maybe(pattern)`: the pattern, null or undefined."""

    pattern: Any


@dataclass(frozen=True)
class Including:
    """`Match.ObjectIncluding({...})`."""

    fields: dict[str, Any]


def _type_name(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, datetime):
        return "Date"
    return "object"


def _fail(pattern: Any, value: Any, path: str) -> None:
    wanted = _NAMES.get(pattern, "object") if isinstance(pattern, type) else "object"
    where = f" in field {path}" if path else ""
    raise MatchError(f"Expected {wanted}, got {_type_name(value)}{where}")


def check(value: Any, pattern: Any, path: str = "") -> None:
    """Raise MatchError unless `value` matches `pattern`."""
    if pattern is ANY:
        return
    if isinstance(pattern, Maybe):
        if value is None:
            return
        check(value, pattern.pattern, path)
        return
    if pattern is str or pattern is bool or pattern is datetime:
        if not isinstance(value, pattern) or (pattern is not bool and isinstance(value, bool)):
            _fail(pattern, value, path)
        return
    if pattern is int:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            _fail(pattern, value, path)
        return
    if pattern is dict:
        if not isinstance(value, dict):
            _fail(pattern, value, path)
        return
    if isinstance(pattern, list):
        if not isinstance(value, list):
            raise MatchError(f"Expected array, got {_type_name(value)}")
        for index, item in enumerate(value):
            check(item, pattern[0], f"{path}[{index}]" if path else f"[{index}]")
        return
    if isinstance(pattern, (dict, Including)):
        fields = pattern.fields if isinstance(pattern, Including) else pattern
        if not isinstance(value, dict):
            raise MatchError(f"Expected object, got {_type_name(value)}")
        if isinstance(pattern, dict):
            for key in value:
                if key not in fields:
                    raise MatchError(f"Unknown key in field {key}")
        for key, sub_pattern in fields.items():
            if key in value:
                check(value[key], sub_pattern, key)
            elif not isinstance(sub_pattern, Maybe):
                raise MatchError(f"Missing key '{key}'")
        return
    raise TypeError(f"unknown pattern {pattern!r}")
