"""The load benchmark runs every mix end to end at a tiny size and reports every figure (never
timed: no assertion here is about speed)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from bench.load.plan import Realistic, make_people
from bench.load.workspace import username_of

PROJECT = Path(__file__).resolve().parents[2]
PEOPLE = 14
SEED = "b"  # with it, these 14 people's first realistic visits include every kind of command
PHASE_FIGURES = (
    "commands_answered",
    "throughput_per_s",
    "cpu_ms_per_command",
    "peak_rss_kb",
    "sandbox_cpu_ms_per_command",
    "start_to_first_answer_s",
)
LATENCY_FIGURES = ("count", "p50_ms", "p95_ms", "p99_ms", "max_ms")
JUDGED = ("reply_p50", "reply_p99", "throughput", "cpu_per_command")


def _run(*arguments: str, timeout: float) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bench.load", *arguments],
        check=False,
        cwd=PROJECT,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def _first_visit_kinds() -> set[str]:
    """The kinds of command the realistic plan gives these people on their first visit."""
    people = make_people(
        [username_of(i) for i in range(PEOPLE)],
        "realistic",
        sample_every=0,
        password="x",
        seed=SEED,
    )
    return {command.kind for person in people for command in Realistic().visit(person)}


@pytest.mark.timeout(120)
def test_every_mix_runs_once_and_reports_every_figure_for_bot_and_baseline(
    tmp_path: Path,
) -> None:
    report_file = tmp_path / "report.json"
    run = _run(
        *("--mix", "realistic,spaced,burst", "--people", str(PEOPLE), "--commands", "42"),
        *("--seed", SEED, "--min-phase-seconds", "0", "--visibility-every", "1"),
        *("--memory-tokens", "20", "--json", str(report_file), "--timeout", "100"),
        timeout=110,
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    report = json.loads(report_file.read_text())
    assert report["failures"] == []
    assert report["command_line"][:3] == ["python", "-m", "bench.load"]
    assert report["git"]["commit"]
    for mix in ("realistic", "spaced", "burst"):
        measured = report["mixes"][mix]
        for target in ("bot", "baseline"):
            (phase,) = [one[target] for one in measured["rounds"]]
            assert phase["commands_answered"] > 0, phase["wrong_examples"]
            assert phase["answered_wrong"] == phase["timeouts"] == phase["extra_messages"] == 0
            for figure in PHASE_FIGURES:
                assert phase[figure] is not None, (mix, target, figure)
            for figure in LATENCY_FIGURES:
                assert phase["reply_latency"][figure] is not None, (mix, target, figure)
                assert phase["visible_latency"][figure] is not None, (mix, target, figure)
            assert phase["server_calls"]["warm_share"] is not None
            assert phase["server_calls"]["first_in_window_share"] is not None
        for figure in JUDGED:
            summary = measured["figures"][figure]
            assert summary["ratio"] is not None, (mix, figure)
            assert summary["ratio_min"] <= summary["ratio"] <= summary["ratio_max"]
    realistic = report["mixes"]["realistic"]["rounds"][0]
    assert set(realistic["bot"]["reply_latency_by_kind"]) == _first_visit_kinds()
    assert set(realistic["baseline"]["reply_latency_by_kind"]) == _first_visit_kinds()
    spaced_bot = report["mixes"]["spaced"]["rounds"][0]["bot"]
    assert spaced_bot["visits"] == PEOPLE  # one pass: nobody comes back within --spacing
    burst_bot = report["mixes"]["burst"]["rounds"][0]["bot"]
    assert burst_bot["commands_answered"] == 42
    footprint = report["footprint"]
    assert footprint["bytes_per_delegated_user"] is not None
    assert footprint["bot_start_to_first_command_s"] > 0
    assert footprint["baseline_start_to_first_answer_s"] > 0
    assert footprint["bytes_per_pending_conversation"] is not None
    assert footprint["runs"]["conversations"]["pending_conversations"] == 20
    judged = {(row["mix"], row["figure"]) for row in report["verdicts"]}
    assert {
        (mix, figure) for mix in ("realistic", "spaced", "burst") for figure in JUDGED
    } <= judged
    assert "issue 18's targets" in run.stdout

    checked = _run("--check-targets", str(report_file), timeout=30)
    assert "realistic" in checked.stdout and "bot CPU per command" in checked.stdout
    every_met = all(row["met"] is True for row in report["verdicts"] if row["mix"] != "footprint")
    assert checked.returncode == (0 if every_met else 1), checked.stdout
