"""The bookkeeping benchmark runs at a tiny size and reports its figures (never timed)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[2]


def test_tiny_bookkeeping_run_reports_cpu_per_command() -> None:
    run = subprocess.run(
        [sys.executable, "-m", "bench.bookkeeping", "--commands", "200", "--rounds", "2"],
        check=False,
        capture_output=True,
        text=True,
        cwd=PROJECT,
        timeout=60,
    )
    assert run.returncode == 0, run.stderr
    figures = json.loads(run.stdout.strip().splitlines()[-1])
    assert figures["commands"] == 200
    assert len(figures["cpu_us_per_command"]) == 2
    assert figures["median_cpu_us_per_command"] > 0
