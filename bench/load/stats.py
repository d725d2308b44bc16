"""Figures from many rounds: percentiles, per-round ratios, their median and spread.

A ratio (bot / baseline) is taken **per round**, from two phases measured seconds apart, and
the summary is the median of those ratios with their spread (lowest and highest). The columns
printed next to a ratio are the two sides **of the round whose ratio is the median** (with an
even number of rounds, the lower of the two middle ones), so the columns divide to the ratio on
screen; the medians of each side taken on their own are kept in the JSON too.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable, Sequence
from typing import Any, Final

Pick = Callable[[dict[str, Any]], Any]

# The figures compared between the targets: key → (title, how to read it from a phase).
RATIO_FIGURES: Final[dict[str, tuple[str, Pick]]] = {
    "reply_p50": ("reply latency p50 (ms)", lambda p: p["reply_latency"]["p50_ms"]),
    "reply_p95": ("reply latency p95 (ms)", lambda p: p["reply_latency"]["p95_ms"]),
    "reply_p99": ("reply latency p99 (ms)", lambda p: p["reply_latency"]["p99_ms"]),
    "reply_max": ("reply latency max (ms)", lambda p: p["reply_latency"]["max_ms"]),
    "visible_p50": ("visible latency p50 (ms)", lambda p: p["visible_latency"]["p50_ms"]),
    "visible_p99": ("visible latency p99 (ms)", lambda p: p["visible_latency"]["p99_ms"]),
    "throughput": ("throughput (commands/s)", lambda p: p["throughput_per_s"]),
    "cpu_per_command": ("target CPU per command (ms)", lambda p: p["cpu_ms_per_command"]),
    "server_cpu_per_command": (
        "server CPU per command (ms)",
        lambda p: p["sandbox_cpu_ms_per_command"],
    ),
    "peak_rss": ("peak RSS (KiB)", lambda p: p["peak_rss_kb"]),
}


def percentile(ordered: Sequence[float], q: float) -> float:
    """Nearest-rank percentile of an ascending sequence (q in 0..100)."""
    if not ordered:
        return math.nan
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


def latency_summary(seconds: Sequence[float]) -> dict[str, Any]:
    """count, p50, p95, p99, max and mean, in milliseconds."""
    ordered = sorted(seconds)
    if not ordered:
        return {"count": 0, "p50_ms": None, "p95_ms": None, "p99_ms": None, "max_ms": None}
    return {
        "count": len(ordered),
        "p50_ms": round(percentile(ordered, 50) * 1000, 2),
        "p95_ms": round(percentile(ordered, 95) * 1000, 2),
        "p99_ms": round(percentile(ordered, 99) * 1000, 2),
        "max_ms": round(ordered[-1] * 1000, 2),
        "mean_ms": round(sum(ordered) / len(ordered) * 1000, 2),
    }


def median_of(results: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Figure by figure, the median over rounds (numbers; other values from the first round)."""
    first = results[0]
    merged: dict[str, Any] = {}
    for key, value in first.items():
        values = [result.get(key) for result in results]
        if isinstance(value, dict):
            merged[key] = median_of([v for v in values if isinstance(v, dict)])
        elif isinstance(value, int | float) and not isinstance(value, bool):
            numbers = [v for v in values if isinstance(v, int | float)]
            if all(isinstance(v, int) for v in numbers):
                merged[key] = statistics.median_low(numbers)
            else:
                merged[key] = round(statistics.median(numbers), 3)
        else:
            merged[key] = value
    return merged


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float) or math.isnan(value):
        return None
    return float(value)


def ratio(bot: Any, baseline: Any) -> float | None:
    """bot / baseline, or None when either is missing (or the baseline is 0)."""
    top, bottom = _number(bot), _number(baseline)
    if top is None or bottom is None or not bottom:
        return None
    return round(top / bottom, 3)


def round_ratios(bot: dict[str, Any], baseline: dict[str, Any]) -> dict[str, float | None]:
    """One round's bot / baseline for every compared figure."""
    return {key: ratio(pick(bot), pick(baseline)) for key, (_, pick) in RATIO_FIGURES.items()}


def _median_low(values: Sequence[float]) -> float | None:
    return statistics.median_low(values) if values else None


def summarise_figure(
    key: str, bots: Sequence[dict[str, Any] | None], baselines: Sequence[dict[str, Any] | None]
) -> dict[str, Any]:
    """One figure over the rounds: the median ratio, its spread, and the median round's sides."""
    _, pick = RATIO_FIGURES[key]
    bot_values = [_number(pick(p)) if p else None for p in bots]
    base_values = [_number(pick(p)) if p else None for p in baselines]
    ratios = [ratio(b, a) for b, a in zip(bot_values, base_values, strict=True)]
    known = [(r, index) for index, r in enumerate(ratios) if r is not None]
    summary: dict[str, Any] = {
        "ratio": None,
        "ratio_min": None,
        "ratio_max": None,
        "ratios": ratios,
        "median_round": None,
        "bot": None,
        "baseline": None,
        "bot_rounds": bot_values,
        "baseline_rounds": base_values,
        "bot_median": _median_low([v for v in bot_values if v is not None]),
        "baseline_median": _median_low([v for v in base_values if v is not None]),
    }
    if known:
        middle, index = sorted(known)[(len(known) - 1) // 2]
        summary.update(
            ratio=middle,
            ratio_min=min(r for r, _ in known),
            ratio_max=max(r for r, _ in known),
            median_round=index + 1,
            bot=bot_values[index],
            baseline=base_values[index],
        )
    else:  # one target only: its own median
        summary.update(bot=summary["bot_median"], baseline=summary["baseline_median"])
    return summary


def summarise_rounds(rounds: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Every compared figure over the rounds of one mix (see the module docstring)."""
    bots = [measured.get("bot") for measured in rounds]
    baselines = [measured.get("baseline") for measured in rounds]
    return {key: summarise_figure(key, bots, baselines) for key in RATIO_FIGURES}
