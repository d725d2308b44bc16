"""Warn about RCBOT_* variables that are no setting: pydantic-settings ignores them silently, so a
misspelt `RCBOT_SEVER_URL` would otherwise leave the admin wondering why the file's value wins.

Each warning names the closest known variable (difflib, as for unknown commands). Nested keys use
`__` (`RCBOT_ALIASES__PRESENCE`); only settings that are tables (`aliases`) take them.
"""

from __future__ import annotations

import difflib
import os
import sys
import typing
from collections.abc import Mapping
from typing import Any, Final, TextIO

PREFIX: Final = "RCBOT_"
NESTING: Final = "__"
# RCBOT_ variables that are read elsewhere, not settings: rotate-key's default new key, and the
# PostgreSQL server of the test suite.
OTHER_VARIABLES: Final = frozenset({"RCBOT_NEW_SECRET_KEY", "RCBOT_TEST_POSTGRES"})


def _takes_nested_keys(annotation: Any) -> bool:
    return typing.get_origin(annotation) is dict or annotation is dict


def unknown_variable_warnings(
    fields: Mapping[str, Any], environ: Mapping[str, str] | None = None
) -> list[str]:
    """One sentence per RCBOT_ variable in `environ` that no setting in `fields` (pydantic
    FieldInfo by name) reads, with the closest known name when there is one."""
    environ = os.environ if environ is None else environ
    known = {f"{PREFIX}{name.upper()}": info for name, info in fields.items()}
    candidates = sorted({*known, *OTHER_VARIABLES})
    warnings = []
    for variable in sorted(environ):
        upper = variable.upper()
        if not upper.startswith(PREFIX) or upper in OTHER_VARIABLES:
            continue
        head, nested, rest = upper.partition(NESTING)
        info = known.get(head)
        if info is not None and (not nested or _takes_nested_keys(info.annotation)):
            continue
        if info is not None:
            warnings.append(
                f"{variable} is ignored: {head} is not a table, so it takes no {NESTING}KEY "
                f"part; set {head} itself"
            )
            continue
        close = difflib.get_close_matches(head, candidates, n=1, cutoff=0.6)
        if close:
            suggestion = close[0] + (NESTING + rest if nested else "")
            hint = f"did you mean {suggestion}?"
        else:
            hint = "bot.example.toml (written by `rcbot init`) lists every setting"
        warnings.append(f"{variable} is not a setting and is ignored; {hint}")
    return warnings


def warn_unknown_variables(
    fields: Mapping[str, Any],
    environ: Mapping[str, str] | None = None,
    out: TextIO | None = None,
) -> None:
    """Print `unknown_variable_warnings` to stderr, one line each."""
    stream = sys.stderr if out is None else out
    for warning in unknown_variable_warnings(fields, environ):
        print(f"rcbot: warning: {warning}", file=stream)
