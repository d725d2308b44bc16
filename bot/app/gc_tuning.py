"""Garbage collection settings for the long-running bot process.

CPython collects its youngest generation every 700 new container objects. Every command
allocates hundreds (JSON frames and bodies, the message, the context, futures), almost all freed
at once by reference counting, so under load the collector ran some 90 times a second and the
older generations with it: ~10 % of the bot's CPU and pauses of tens of milliseconds in a full
collection (bench/RESULTS.md). What start-up built (modules, settings, the registry) lives as
long as the process, so it is moved out of the collector's way once serving starts.
"""

from __future__ import annotations

import gc
from typing import Final

YOUNG_THRESHOLD: Final = 10_000  # new container objects between two young collections
OLDER_THRESHOLDS: Final = (20, 100)


def tune_for_serving() -> None:
    """Collect less often; call once, before start-up builds its long-lived objects."""
    gc.set_threshold(YOUNG_THRESHOLD, *OLDER_THRESHOLDS)


def freeze_start_up() -> None:
    """Keep everything start-up created out of later collections; call once serving starts."""
    gc.collect()
    gc.freeze()
