"""The load benchmark runs end to end at a tiny size and reports every figure (never timed)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[2]
PHASE_FIGURES = (
    "answered_ok",
    "throughput_per_s",
    "cpu_ms_per_command",
    "peak_rss_kb",
    "sandbox_cpu_ms_per_command",
    "start_to_first_answer_s",
)
LATENCY_FIGURES = ("count", "p50_ms", "p95_ms", "p99_ms", "max_ms")


def test_tiny_benchmark_reports_every_figure_for_bot_and_baseline(tmp_path: Path) -> None:
    report_file = tmp_path / "report.json"
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench.load",
            "--users",
            "3",
            "--commands",
            "6",
            "--memory-tokens",
            "20",
            "--json",
            str(report_file),
            "--timeout",
            "50",
        ],
        check=False,
        cwd=PROJECT,
        capture_output=True,
        text=True,
        timeout=55,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    assert "bot/baseline" in run.stdout
    report = json.loads(report_file.read_text())
    for target in ("bot", "baseline"):
        phase = report[target]
        assert phase["answered_ok"] == 6, phase["wrong_examples"]
        for figure in PHASE_FIGURES:
            assert phase[figure] is not None, (target, figure)
        for figure in LATENCY_FIGURES:
            assert phase["reply_latency"][figure] is not None, (target, figure)
            assert phase["visible_latency"][figure] is not None, (target, figure)
    assert set(report["ratios"]) >= {"reply_p50", "reply_p99", "throughput", "cpu_per_command"}
    footprint = report["footprint"]
    assert footprint["bytes_per_delegated_user"] is not None
    assert footprint["bot_start_to_first_command_s"] > 0
    assert footprint["baseline_start_to_first_answer_s"] > 0
    assert footprint["bytes_per_pending_conversation"] is not None
    assert footprint["runs"]["conversations"]["pending_conversations"] == 20
    assert set(report["verdicts"]) >= {
        "p50_ratio",
        "p99_ratio",
        "throughput_ratio",
        "startup",
        "memory_per_pending_conversation",
    }
