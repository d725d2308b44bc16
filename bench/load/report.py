"""The report of a `bench.load` run: per mix, its rounds, the summary and what makes it doubtful;
the footprint; issue 18's targets; as JSON and as text."""

from __future__ import annotations

import json
import math
import subprocess
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Final

from bench.load.goals import render_verdicts
from bench.load.stats import RATIO_FIGURES, median_of, round_ratios, summarise_rounds

IDLE_SHARE_LIMIT: Final = 0.05  # hands idle longer than this: the people set the pace
# A spaced mix is for changes that no profile snapshot can serve: most must come over the
# snapshot's 30 s after their person's last answer. (Not judged by the bot's own reads: it needs
# no read for a status, which the realtime API keeps exact, so its share of changes without a
# `GET me` says what it avoids, not how the people were paced.)
SPACED_FIRST_LIMIT: Final = 0.5
SHOWN_FIGURES: Final = (
    "reply_p50",
    "reply_p95",
    "reply_p99",
    "reply_max",
    "visible_p50",
    "visible_p99",
    "throughput",
    "cpu_per_command",
    "server_cpu_per_command",
    "peak_rss",
)


def git_state(folder: Path) -> dict[str, Any]:
    """The commit checked out in `folder` and whether files differ from it (None: not git)."""
    try:
        commit = subprocess.run(
            ["git", "-C", str(folder), "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        status = subprocess.run(
            ["git", "-C", str(folder), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    except (OSError, subprocess.CalledProcessError):
        return {"folder": str(folder), "commit": None, "modified": None}
    return {"folder": str(folder), "commit": commit, "modified": bool(status.strip())}


def _warm_share(phase: dict[str, Any] | None) -> float | None:
    return phase["server_calls"]["warm_share"] if phase else None


def phase_problems(phase: dict[str, Any], min_seconds: float) -> list[str]:
    """What makes one phase's figures doubtful as a measurement of its mix."""
    problems = []
    name = phase["target"]
    failed = phase["answered_wrong"] + phase["timeouts"] + phase["extra_messages"]
    if failed:
        problems.append(f"{name}: {failed} commands answered wrongly, late or twice")
    duration = phase["duration_s"]
    if min_seconds and (math.isnan(duration) or duration < min_seconds):
        problems.append(f"{name}: the phase ran {duration:g} s, under its {min_seconds:g} s")
    pacing = phase.get("pacing")
    if pacing:
        ran_out = pacing["people_ran_out_after_s"]
        if ran_out is not None:
            busy = duration * (1 - (pacing["idle_share"] or 0.0))
            rate = phase["visits"] / busy if busy > 0 else 0.0
            needed = math.ceil(rate * min(pacing["spacing_s"], min_seconds)) if rate else 0
            problems.append(
                f"{name}: the people ran out after {ran_out:g} s (no one free again before "
                f"{min_seconds:g} s; at its {rate:.0f} visits/s while busy, a phase of "
                f"{min_seconds:g} s takes about {needed:,} people)"
            )
        idle = pacing["idle_share"]
        if idle is not None and idle > IDLE_SHARE_LIMIT:
            problems.append(
                f"{name}: hands waited {idle:.0%} of the time for someone free, so the people's "
                "pace, not the target, set the throughput"
            )
    first = phase["server_calls"]["first_in_window_share"]
    if phase["mix"] == "spaced" and first is not None and first < SPACED_FIRST_LIMIT:
        problems.append(
            f"{name}: only {first:.0%} of the changes came over 30 s after their person's last "
            "answer, so most could be served from a profile snapshot"
        )
    return problems


def mix_report(rounds: Sequence[dict[str, Any]], min_seconds: float) -> dict[str, Any]:
    """One mix over its rounds: per round, the summarised figures, and its problems."""
    for measured in rounds:
        if measured.get("bot") and measured.get("baseline"):
            measured["ratios"] = round_ratios(measured["bot"], measured["baseline"])
    problems: list[str] = []
    for measured in rounds:
        for side in ("bot", "baseline"):
            if measured.get(side):
                for problem in phase_problems(measured[side], min_seconds):
                    text = f"round {measured[side]['round']}, {problem}"
                    problems.append(text)
    summary: dict[str, Any] = {
        "rounds": list(rounds),
        "figures": summarise_rounds(rounds),
        "problems": problems,
    }
    for side in ("bot", "baseline"):
        phases = [measured[side] for measured in rounds if measured.get(side)]
        if phases:
            summary[side] = median_of(phases)
            summary[side]["warm_share_rounds"] = [_warm_share(p) for p in phases]
    return summary


def failures(report: dict[str, Any]) -> list[str]:
    """Commands answered wrongly, late or twice, anywhere in the run: the run failed."""
    found = []
    for mix, measured in report.get("mixes", {}).items():
        for one in measured["rounds"]:
            for side in ("bot", "baseline"):
                phase = one.get(side)
                if not phase:
                    continue
                count = phase["answered_wrong"] + phase["timeouts"] + phase["extra_messages"]
                if count:
                    examples = "; ".join(phase["wrong_examples"][:2])
                    found.append(
                        f"{mix}, round {phase['round']}, {side}: {phase['answered_wrong']} wrong, "
                        f"{phase['timeouts']} unanswered, {phase['extra_messages']} extra "
                        f"({examples})"
                    )
    return found


# -- text ------------------------------------------------------------------------------------


def _cell(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if isinstance(value, float):
        return f"{value:,.0f}" if abs(value) >= 10_000 else f"{value:,.2f}"
    return f"{value:,}" if isinstance(value, int) else str(value)


def _share(value: Any) -> str:
    return "-" if value is None else f"{value:.0%}"


def _spread(figure: dict[str, Any]) -> str:
    if figure["ratio_min"] is None:
        return ""
    return f"{figure['ratio_min']:.2f}–{figure['ratio_max']:.2f}"


def _calls(phase: dict[str, Any] | None, kind: str) -> str:
    if not phase:
        return "-"
    entry = phase["server_calls"]["per_kind"].get(kind)
    if not entry:
        return "-"
    calls = entry["calls_per_command"]
    return ", ".join(f"{name} {count:g}" for name, count in calls.items()) or "none"


def render_mix(name: str, mix: dict[str, Any]) -> list[str]:
    """One mix: the figures (median round's sides, median ratio, spread), per kind, per round."""
    bot, baseline = mix.get("bot"), mix.get("baseline")
    first = bot or baseline or {}
    pacing = first.get("pacing")
    paced = (
        f"; paced: {pacing['hands']} visits at once, {pacing['spacing_s']:g} s between a "
        "person's visits"
        if pacing
        else "; back to back"
    )
    lines = [
        "",
        f"== {name}: {first.get('people', 0):,} people, {len(mix['rounds'])} round(s){paced}",
        f"{'':34}{'bot':>12}{'baseline':>12}{'bot/baseline':>14}  spread",
    ]
    for title, pick in (
        ("commands answered", lambda p: p["commands_answered"]),
        (
            "wrong / unanswered / extra",
            lambda p: f"{p['answered_wrong']}/{p['timeouts']}/{p['extra_messages']}",
        ),
        ("phase (s)", lambda p: p["duration_s"]),
        (
            "changes no snapshot could serve",
            lambda p: _share(p["server_calls"]["first_in_window_share"]),
        ),
        ("changes without a GET me", lambda p: _share(p["server_calls"]["warm_share"])),
    ):
        lines.append(
            f"{title:34}{_cell(pick(bot) if bot else None):>12}"
            f"{_cell(pick(baseline) if baseline else None):>12}"
        )
    for key in SHOWN_FIGURES:
        figure = mix["figures"][key]
        title = RATIO_FIGURES[key][0]
        lines.append(
            f"{title:34}{_cell(figure['bot']):>12}{_cell(figure['baseline']):>12}"
            f"{_cell(figure['ratio']):>14}  {_spread(figure)}"
        )
    kinds = sorted(
        {
            *(bot or {}).get("reply_latency_by_kind", {}),
            *(baseline or {}).get("reply_latency_by_kind", {}),
        }
    )
    if len(kinds) > 1:
        lines.append("by kind: p50 ms bot / baseline (commands); REST calls per command")
        for kind in kinds:
            sides = [
                (p or {}).get("reply_latency_by_kind", {}).get(kind, {}) for p in (bot, baseline)
            ]
            lines.append(
                f"  {kind:15}{_cell(sides[0].get('p50_ms')):>9} /"
                f"{_cell(sides[1].get('p50_ms')):>9}"
                f" ({_cell(sides[0].get('count'))}); bot: {_calls(bot, kind)}; "
                f"baseline: {_calls(baseline, kind)}"
            )
    for number, measured in enumerate(mix["rounds"], start=1):
        ratio = measured.get("ratios") or {}
        lines.append(
            f"round {number}: p50 {_cell(ratio.get('reply_p50'))}, p99 "
            f"{_cell(ratio.get('reply_p99'))}, throughput {_cell(ratio.get('throughput'))}, "
            f"CPU/command {_cell(ratio.get('cpu_per_command'))}"
        )
    own = [
        f"{side}: " + ", ".join(f"{name} {count:g}" for name, count in calls.items())
        for side, phase in (("bot", bot), ("baseline", baseline))
        if phase and (calls := phase["server_calls"]["target_own_calls_per_1000_commands"])
    ]
    if own:
        lines.append(
            "REST calls with the target's own account per 1,000 commands: " + "; ".join(own)
        )
    lines.extend(f"PROBLEM {problem}" for problem in mix["problems"])
    return lines


def render_footprint(footprint: dict[str, Any]) -> list[str]:
    """The footprint phase's runs and per-item memory."""
    lines = [""]
    for run in footprint["runs"].values():
        lines.append(
            f"bot with {run['fake_tokens']:>6} fake tokens (+1 real), "
            f"{run['pending_conversations']:>6} pending conversations: RSS "
            f"{run['rss_kb']:,} KiB, start to first command "
            f"{run['start_to_first_command_s']:.3f} s"
        )
    lines.append(
        f"memory per delegated user: {_cell(footprint['bytes_per_delegated_user'])} bytes, "
        f"per pending conversation: {_cell(footprint['bytes_per_pending_conversation'])} bytes; "
        f"baseline: start to first answer {footprint['baseline_start_to_first_answer_s']:.3f}"
        f" s, RSS {footprint['baseline_rss_kb']:,} KiB"
    )
    return lines


def render(report: dict[str, Any]) -> str:
    """The plain-text report."""
    config = report["config"]
    modified = " (modified)" if report["git"]["modified"] else ""
    lines = [
        f"bench.load: {' '.join(report['command_line'])}",
        (
            f"commit {report['git']['commit']}{modified}; {config['machine']['cpus']} CPUs, "
            f"load average at start {config['machine']['loadavg_at_start']}"
        ),
        "each ratio is the median of the per-round ratios; the columns are that round's sides",
    ]
    for name, mix in report.get("mixes", {}).items():
        lines.extend(render_mix(name, mix))
    if report.get("footprint"):
        lines.extend(render_footprint(report["footprint"]))
    lines += ["", "issue 18's targets:", render_verdicts(report["verdicts"])]
    if "profile" in report:
        lines.append(f"profile: {report['profile']['file']} (summary: python -m bench.profiling)")
    if report["failures"]:
        lines += ["", "FAILED: commands answered wrongly, late or twice:", *report["failures"]]
    return "\n".join(lines)


def publish(text: str, report: dict[str, Any], json_file: Path | None) -> None:
    """Print the text report; write the JSON one when asked."""
    print(text)
    if json_file is not None:
        json_file.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n")
