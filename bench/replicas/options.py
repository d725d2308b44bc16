"""The replica benchmark's settings: its defaults and the checked command line."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Final

DEFAULT_LEASE_SECONDS: Final = 3.0
DEFAULT_DEFER_SECONDS: Final = 1.0  # the bot's default replica_defer
POLL_SECONDS: Final = 0.05
HISTORY_PAGE: Final = 100  # the server's API_Upper_Count_Limit
LOG_PROBLEM: Final = re.compile(r" (WARNING|ERROR|CRITICAL) |Traceback")
LOG_EXCERPT_LINES: Final = 8
DB_SAMPLE_SECONDS: Final = 0.02
METRIC_COMMANDS: Final = "rcbot_commands_total{"


@dataclass(frozen=True)
class Options:
    """The command line, checked."""

    users: int
    commands: int
    replica_counts: tuple[int, ...]
    rounds: int
    lease: float
    defer: float
    reply_timeout: float
    sample_db_waits: bool
    postgres: str | None
    bot_source: Path
    keep: bool
