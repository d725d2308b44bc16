"""The replicas benchmark runs end to end at a tiny size, on one and two replicas, and every
command is answered and audited exactly once (never timed)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from bench.load.plan import plan_commands
from bench.load.workspace import BOT_NAME
from bench.replicas.exactly_once import count_answers

PROJECT = Path(__file__).resolve().parents[2]
PHASE_FIGURES = (
    "throughput_per_s",
    "bot_cpu_ms_per_command",
    "sandbox_cpu_ms_per_command",
    "start_to_first_answer_s",
)
LATENCY_FIGURES = ("p50_ms", "p95_ms", "p99_ms", "max_ms")
RATIOS = ("throughput", "reply_p50", "reply_p95", "reply_p99", "reply_max", "bot_cpu_per_command")


def test_tiny_run_on_one_and_two_replicas_answers_every_command_once(
    tmp_path: Path, postgres_admin_url: str
) -> None:
    report_file = tmp_path / "report.json"
    command = [
        sys.executable, "-m", "bench.replicas",
        "--users", "4", "--commands", "24", "--replicas", "1,2",
        "--lease", "2", "--defer", "0.5",
        "--postgres", postgres_admin_url,
        "--json", str(report_file),
        "--timeout", "50",
    ]  # fmt: skip
    run = subprocess.run(
        command,
        check=False,
        cwd=PROJECT,
        capture_output=True,
        text=True,
        timeout=55,
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert "2 replicas" in run.stdout
    report = json.loads(report_file.read_text())
    assert report["config"]["baseline_replicas"] == 1
    assert set(report["results"]) == {"1", "2"}
    for count, phase in report["results"].items():
        assert phase["answered_ok"] == 24, phase["wrong_examples"]
        for figure in PHASE_FIGURES:
            assert phase[figure] is not None, (count, figure)
        for figure in LATENCY_FIGURES:
            assert phase["reply_latency"][figure] is not None, (count, figure)
        once = phase["exactly_once"]
        assert (once["duplicates"], once["missing"], once["unmatched"]) == (0, 0, 0)
        assert once["claims_left"] == 0
        assert once["audit_command_rows"] == 24
        assert len(phase["per_replica"]) == int(count)
        assert sum(replica["commands_run"] for replica in phase["per_replica"]) == 24
    for figure in RATIOS:
        assert report["ratios"]["2"][figure] is not None, figure
    assert report["ratios"]["1"]["throughput"] == 1.0
    assert report["exactly_once"]["ok"] is True


def _message(username: str, text: str) -> dict[str, Any]:
    return {"u": {"username": username}, "msg": text}


def test_a_second_answer_to_one_command_counts_as_a_duplicate_and_none_as_missing() -> None:
    plan = plan_commands(["ann"], 3, 0)[0]  # /nick, /bio, /status
    nick, bio, status = plan
    history = [
        _message(BOT_NAME, "Thanks, your token is stored."),
        _message("ann", nick.text),
        _message(BOT_NAME, "Nickname set to “ann-n0”."),
        _message("ann", bio.text),
        _message(BOT_NAME, "Nickname set to “ann-n0”."),  # a second replica ran /nick again
        _message("ann", status.text),
        _message(BOT_NAME, "Status set to away: Benchmark meeting 0"),
        _message(BOT_NAME, "Something went wrong."),
    ]
    counted = count_answers(plan, history)
    assert counted.per_command == [2, 0, 1]
    assert (counted.duplicates, counted.missing) == (1, 1)
    assert counted.unmatched == ["Something went wrong."]
