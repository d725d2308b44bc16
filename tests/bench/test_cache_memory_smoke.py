"""The active-person memory benchmark runs at a tiny size and reports every figure (never timed)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[2]
FIGURES = (
    "token_bytes_per_user",
    "snapshot_bytes_per_user",
    "conversation_key_bytes",
    "active_user_bytes",
)


def test_tiny_cache_memory_run_reports_every_figure() -> None:
    run = subprocess.run(
        [sys.executable, "-m", "bench.cache_memory", "--users", "200"],
        check=False,
        capture_output=True,
        text=True,
        cwd=PROJECT,
        timeout=60,
    )
    assert run.returncode == 0, run.stderr
    figures = json.loads(run.stdout.strip().splitlines()[-1])
    assert figures["users"] == 200
    for name in FIGURES:
        assert figures[name] > 0, (name, figures)
    assert "active person in all" in run.stdout
