"""The active-person memory benchmark runs at a tiny size and reports every figure (never timed)."""

from __future__ import annotations

from tests.bench_runs import run_bench

FIGURES = (
    "token_bytes_per_user",
    "snapshot_bytes_per_user",
    "conversation_key_bytes",
    "active_user_bytes",
)


def test_tiny_cache_memory_run_reports_every_figure() -> None:
    stdout, figures = run_bench("bench.cache_memory", "--users", "200", timeout=60)
    assert figures["users"] == 200
    for name in FIGURES:
        assert figures[name] > 0, (name, figures)
    assert "active person in all" in stdout
