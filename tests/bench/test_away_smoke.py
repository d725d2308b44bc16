"""The away-person benchmark runs at a tiny size and reports every figure (never timed)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[2]


def test_tiny_away_run_reports_both_phases_and_the_cost_per_person() -> None:
    run = subprocess.run(
        [sys.executable, "-m", "bench.away", "--away", "2", "--messages", "10", "--idle", "0.5"],
        check=False,
        capture_output=True,
        text=True,
        cwd=PROJECT,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr
    figures = json.loads(run.stdout.strip().splitlines()[-1])
    assert figures["away"] == 2
    for phase in ("baseline", "away_phase"):
        assert set(figures[phase]) == {"sockets", "rss_kib", "cpu_messages_s", "cpu_idle_s"}
    # one realtime connection per away person at least, on top of the bot's own
    assert figures["away_phase"]["sockets"] >= figures["baseline"]["sockets"] + 2
    assert figures["per_person_sockets"] >= 1
    assert "one away person:" in run.stdout
