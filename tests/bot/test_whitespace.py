"""The whitespace the parser splits on is every character Python calls whitespace."""

from __future__ import annotations

import sys

from bot.core.values import WHITESPACE


def test_the_written_out_whitespace_is_what_python_calls_whitespace() -> None:
    every = {chr(c) for c in range(sys.maxunicode + 1) if chr(c).isspace()}
    assert set(WHITESPACE) == every
    assert len(WHITESPACE) == len(every)
