"""The calendar polling benchmark runs at a tiny size and reports every figure (never timed)."""

from __future__ import annotations

from tests.bench_runs import run_bench


def test_tiny_calendar_run_reports_cpu_per_poll_against_the_baseline_and_memory() -> None:
    stdout, figures = run_bench("bench.calendar", "--feeds", "3", "--events", "20", timeout=180)
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
    assert "CPU per feed per poll" in stdout and "memory per person" in stdout
