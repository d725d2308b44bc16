"""The away-person benchmark runs at a tiny size and reports every figure (never timed)."""

from __future__ import annotations

from tests.bench_runs import run_bench


def test_tiny_away_run_reports_both_phases_and_the_cost_per_person() -> None:
    stdout, figures = run_bench(
        "bench.away", "--away", "2", "--messages", "10", "--idle", "0.5", timeout=120
    )
    assert figures["away"] == 2
    for phase in ("baseline", "away_phase"):
        assert set(figures[phase]) == {"sockets", "rss_kib", "cpu_messages_s", "cpu_idle_s"}
    # one realtime connection per away person at least, on top of the bot's own
    assert figures["away_phase"]["sockets"] >= figures["baseline"]["sockets"] + 2
    assert figures["per_person_sockets"] >= 1
    assert "one away person:" in stdout
