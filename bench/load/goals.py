"""Issue 18's targets and `python -m bench.load --check-targets FILE.json [FILE.json ...]`.

The table (2 cores, the bot against the bare baseline in the same run; each figure is the median
of the per-round ratios):

    mix        p50       p99       throughput   bot CPU per command
    realistic  ≤ 1.20 ×  ≤ 1.35 ×  ≥ 0.85 ×     ≤ 1.5 ×
    spaced     ≤ 1.25 ×  ≤ 1.40 ×  ≥ 0.80 ×     ≤ 1.6 ×
    burst      ≤ 1.10 ×  ≤ 1.25 ×  ≥ 0.90 ×     ≤ 1.5 ×

plus, from the footprint phase: memory per delegated person and per pending conversation under
2 KB, start to first command under 1 s. A mix whose run has a problem (a phase shorter than its
minimum, people who ran out, a spaced mix whose changes mostly came within 30 s of their
person's last answer) proves nothing either way: its targets count as not met. The check exits
1 unless every target of the table is met in the files given (a later file's mix replaces an
earlier one's).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final


@dataclass(frozen=True)
class Goal:
    """One target: a ratio (or a footprint figure) at most or at least a limit."""

    figure: str  # key in bench.load.stats.RATIO_FIGURES, or a footprint key
    title: str
    limit: float
    at_most: bool

    def met_by(self, value: float) -> bool:
        """Whether `value` meets the target."""
        return value <= self.limit if self.at_most else value >= self.limit

    @property
    def shown(self) -> str:
        return f"{'≤' if self.at_most else '≥'} {self.limit:g}"


def _ratios(p50: float, p99: float, throughput: float, cpu: float) -> tuple[Goal, ...]:
    return (
        Goal("reply_p50", "p50", p50, True),
        Goal("reply_p99", "p99", p99, True),
        Goal("throughput", "throughput", throughput, False),
        Goal("cpu_per_command", "bot CPU per command", cpu, True),
    )


MIX_GOALS: Final[dict[str, tuple[Goal, ...]]] = {
    "realistic": _ratios(1.20, 1.35, 0.85, 1.5),
    "spaced": _ratios(1.25, 1.40, 0.80, 1.6),
    "burst": _ratios(1.10, 1.25, 0.90, 1.5),
}
FOOTPRINT_GOALS: Final = (
    Goal("bytes_per_delegated_user", "memory per delegated person (B)", 2048, True),
    Goal("bytes_per_pending_conversation", "memory per pending conversation (B)", 2048, True),
    Goal("bot_start_to_first_command_s", "start to first command (s)", 1.0, True),
)


def goals_as_json() -> dict[str, Any]:
    """The table, for the report."""
    return {
        mix: {goal.figure: goal.shown for goal in goals} for mix, goals in MIX_GOALS.items()
    } | {"footprint": {goal.figure: goal.shown for goal in FOOTPRINT_GOALS}}


def verdicts(report: dict[str, Any]) -> list[dict[str, Any]]:
    """Each target with what the report measured: met True/False, or None (not measured, or
    the mix's run has a problem)."""
    rows: list[dict[str, Any]] = []
    for mix, goals in MIX_GOALS.items():
        measured = (report.get("mixes") or {}).get(mix)
        problems = list(measured.get("problems", [])) if measured else ["not measured"]
        for goal in goals:
            value = None
            if measured:
                value = (measured.get("figures") or {}).get(goal.figure, {}).get("ratio")
            met = None if problems or value is None else goal.met_by(value)
            spread = measured["figures"][goal.figure] if measured and value is not None else {}
            rows.append(
                {
                    "mix": mix,
                    "figure": goal.figure,
                    "title": goal.title,
                    "target": goal.shown,
                    "value": value,
                    "spread": [spread.get("ratio_min"), spread.get("ratio_max")],
                    "met": met,
                    "why_not_judged": problems if met is None else [],
                }
            )
    footprint = report.get("footprint")
    if footprint:
        for goal in FOOTPRINT_GOALS:
            value = footprint.get(goal.figure)
            rows.append(
                {
                    "mix": "footprint",
                    "figure": goal.figure,
                    "title": goal.title,
                    "target": goal.shown,
                    "value": value,
                    "spread": [None, None],
                    "met": None if value is None else goal.met_by(value),
                    "why_not_judged": [] if value is not None else ["not measured"],
                }
            )
    return rows


def render_verdicts(rows: Sequence[dict[str, Any]]) -> str:
    """The targets as a table: mix, figure, target, measured (spread), verdict."""
    lines = [f"{'mix':11}{'figure':38}{'target':>9}{'measured':>10}  {'spread':13}verdict"]
    for row in rows:
        value = "-" if row["value"] is None else f"{row['value']:g}"
        low, high = row["spread"]
        spread = f"{low:g}–{high:g}" if low is not None and high is not None else ""
        verdict = {True: "met", False: "MISSED", None: "not judged"}[row["met"]]
        reasons = row["why_not_judged"]
        if reasons == ["not measured"]:
            verdict += ": not measured"
        elif reasons:
            verdict += f": {len(reasons)} problem(s) in this mix's run"
        lines.append(
            f"{row['mix']:11}{row['title']:38}{row['target']:>9}{value:>10}  {spread:13}{verdict}"
        )
    return "\n".join(lines)


def merged_reports(paths: Sequence[Path]) -> dict[str, Any]:
    """The mixes (and the last footprint) of several `--json` reports."""
    merged: dict[str, Any] = {"mixes": {}, "footprint": None}
    for path in paths:
        report = json.loads(path.read_text())
        merged["mixes"].update(report.get("mixes") or {})
        if report.get("footprint"):
            merged["footprint"] = report["footprint"]
    return merged


def check_targets(paths: Sequence[Path]) -> int:
    """Print every target as met or not; 0 when all of the table's are met, else 1."""
    rows = verdicts(merged_reports(paths))
    print(render_verdicts(rows))
    missed = [
        row
        for row in rows
        if row["met"] is False or (row["met"] is None and row["mix"] != "footprint")
    ]
    print(f"\n{len(missed)} target(s) not met" if missed else "\nevery target met")
    return 1 if missed else 0
