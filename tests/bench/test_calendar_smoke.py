"""The calendar polling benchmark runs at a tiny size and reports every figure (never timed)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[2]


def test_tiny_calendar_run_reports_cpu_per_poll_against_the_baseline_and_memory() -> None:
    run = subprocess.run(
        [sys.executable, "-m", "bench.calendar", "--feeds", "3", "--events", "20"],
        check=False,
        capture_output=True,
        text=True,
        cwd=PROJECT,
        timeout=180,
    )
    assert run.returncode == 0, run.stderr
    figures = json.loads(run.stdout.strip().splitlines()[-1])
    assert figures["feeds"] == 3 and figures["intervals_kept"] > 0
    for key in (
        "baseline_get_ms_per_feed",
        "baseline_304_ms_per_feed",
        "full_poll_ms_per_feed",
        "conditional_poll_ms_per_feed",
        "expansion_in_process_ms_per_feed",
        "held_bytes_per_person",
        "peak_bytes_per_person_full",
    ):
        assert figures[key] >= 0, key
    assert "CPU per feed per poll" in run.stdout and "memory per person" in run.stdout
