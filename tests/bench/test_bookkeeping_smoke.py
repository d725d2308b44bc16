"""The bookkeeping benchmark runs at a tiny size and reports its figures (never timed)."""

from __future__ import annotations

from tests.bench_runs import run_bench


def test_tiny_bookkeeping_run_reports_cpu_per_command() -> None:
    _, figures = run_bench("bench.bookkeeping", "--commands", "200", "--rounds", "2", timeout=60)
    assert figures["commands"] == 200
    assert len(figures["cpu_us_per_command"]) == 2
    assert figures["median_cpu_us_per_command"] > 0
