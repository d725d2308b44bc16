"""The replica benchmark's ratios to one replica, the exactly-once total and the text report."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

# -- the run ---------------------------------------------------------------------------------


def _ratio(value: Any, base: Any) -> float | None:
    if not isinstance(value, int | float) or not isinstance(base, int | float) or not base:
        return None
    return round(value / base, 2)


def ratios(phase: dict[str, Any], base: dict[str, Any]) -> dict[str, float | None]:
    """R replicas against the baseline R, figure by figure."""
    latency, base_latency = phase["reply_latency"], base["reply_latency"]
    return {
        "throughput": _ratio(phase["throughput_per_s"], base["throughput_per_s"]),
        "reply_p50": _ratio(latency["p50_ms"], base_latency["p50_ms"]),
        "reply_p95": _ratio(latency["p95_ms"], base_latency["p95_ms"]),
        "reply_p99": _ratio(latency["p99_ms"], base_latency["p99_ms"]),
        "reply_max": _ratio(latency["max_ms"], base_latency["max_ms"]),
        "bot_cpu_per_command": _ratio(
            phase["bot_cpu_ms_per_command"], base["bot_cpu_ms_per_command"]
        ),
        "sandbox_cpu_per_command": _ratio(
            phase["sandbox_cpu_ms_per_command"], base["sandbox_cpu_ms_per_command"]
        ),
        "postgres_cpu_per_command": _ratio(
            phase["postgres_cpu_ms_per_command"], base["postgres_cpu_ms_per_command"]
        ),
    }


def exactly_once_total(phases: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """The checks summed over every phase of every round (a median would hide one failure)."""
    keys = ("duplicates", "missing", "unmatched", "claims_left", "audit_duplicates")
    total: dict[str, Any] = {key: sum(p["exactly_once"][key] for p in phases) for key in keys}
    total["audit_missing"] = sum(p["exactly_once"]["audit_missing"] for p in phases)
    total["timeouts"] = sum(p["timeouts"] for p in phases)
    total["wrong_answers"] = sum(p["answered_wrong"] for p in phases)
    total["phases_failed"] = [
        f"R={p['replicas']} round {p['round']}" for p in phases if not p["exactly_once"]["ok"]
    ]
    total["ok"] = not total["phases_failed"]
    return total


# -- report ----------------------------------------------------------------------------------


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:,.2f}"
    return f"{value:,}" if isinstance(value, int) else str(value)


def render(report: dict[str, Any]) -> str:
    """The plain-text report: one column per replica count, value and ratio to the baseline."""
    config = report["config"]
    counts = [str(count) for count in config["replicas"]]
    lines = [
        (
            f"bench.replicas: {config['users']} users, {config['commands']} commands, closed "
            f"loop; replicas {','.join(counts)} on one PostgreSQL database (lease "
            f"{config['replica_lease_s']} s, defer {config['replica_defer_s']} s); "
            f"{config['machine']['cpus']} CPUs, load average at start "
            f"{config['machine']['loadavg_at_start']}"
        ),
        f"each cell: the figure (its ratio to {config['baseline_replicas']} replica(s), same run)",
    ]
    if config["rounds"] > 1:
        lines.append(
            f"{config['rounds']} rounds, order alternating: medians over the rounds (ratios: "
            "median of the rounds' ratios)"
        )
    rows: list[tuple[str, Callable[[dict[str, Any]], Any], str | None]] = [
        ("throughput (commands/s)", lambda r: r["throughput_per_s"], "throughput"),
        ("reply latency p50 (ms)", lambda r: r["reply_latency"]["p50_ms"], "reply_p50"),
        ("reply latency p95 (ms)", lambda r: r["reply_latency"]["p95_ms"], "reply_p95"),
        ("reply latency p99 (ms)", lambda r: r["reply_latency"]["p99_ms"], "reply_p99"),
        ("reply latency max (ms)", lambda r: r["reply_latency"]["max_ms"], "reply_max"),
        (
            "bot CPU per command (ms, sum)",
            lambda r: r["bot_cpu_ms_per_command"],
            "bot_cpu_per_command",
        ),
        ("bot CPU (cores busy)", lambda r: r["bot_cpu_cores"], None),
        (
            "sandbox CPU per command (ms)",
            lambda r: r["sandbox_cpu_ms_per_command"],
            "sandbox_cpu_per_command",
        ),
        (
            "PostgreSQL CPU per command (ms)",
            lambda r: r["postgres_cpu_ms_per_command"],
            "postgres_cpu_per_command",
        ),
        ("load generator CPU (cores)", lambda r: r["loadgen_cpu_share_of_a_core"], None),
        ("answered ok", lambda r: r["answered_ok"], None),
        ("wrong answers / timeouts", lambda r: f"{r['answered_wrong']} / {r['timeouts']}", None),
        (
            "duplicates / missing / unmatched",
            lambda r: "{duplicates} / {missing} / {unmatched}".format(**r["exactly_once"]),
            None,
        ),
        ("claims left in the database", lambda r: r["exactly_once"]["claims_left"], None),
        (
            "audit rows (command) / expected",
            lambda r: "{audit_command_rows} / {audit_expected}".format(**r["exactly_once"]),
            None,
        ),
        (
            "commands run per replica",
            lambda r: "/".join(str(p["commands_run"]) for p in r["per_replica"]),
            None,
        ),
        (
            "users owned per replica",
            lambda r: "/".join(str(p["users_owned"]) for p in r["per_replica"]),
            None,
        ),
    ]
    results, ratio = report["results"], report["ratios"]
    lines.append("")
    lines.append(
        f"{'':34}" + "".join(f"{f'{c} replica' + ('s' if c != '1' else ''):>20}" for c in counts)
    )
    for title, pick, key in rows:
        cells = []
        for count in counts:
            text = _cell(pick(results[count]))
            if key is not None and count != str(config["baseline_replicas"]):
                text += f" ({_cell(ratio[count].get(key))})"
            cells.append(f"{text:>20}")
        lines.append(f"{title:34}" + "".join(cells))
    for number, measured in enumerate(report.get("rounds", []), start=1):
        parts = [
            f"R={count}: throughput ×{_cell(measured['ratios'][count]['throughput'])}, p50 "
            f"×{_cell(measured['ratios'][count]['reply_p50'])}"
            for count in counts
            if count != str(config["baseline_replicas"])
        ]
        lines.append(f"round {number}: " + "; ".join(parts))
    for count in counts:
        activity = results[count].get("database_activity")
        if activity:
            busiest = activity["top"][0][0] if activity["top"] else "-"
            lines.append(
                f"R={count} database: {activity['mean_connections_not_idle']} connections busy, "
                f"{activity['mean_waiting_for_a_lock']} waiting for a lock (mean of "
                f"{activity['samples']} samples); busiest: {busiest}"
            )
            for blocked, n in activity["lock_waits_blocked_by"][:2]:
                lines.append(f"    lock wait ({n}x): {blocked}")
        for line in results[count]["log_excerpts"][:3]:
            lines.append(f"R={count} log: {line[:200]}")
    once = report["exactly_once"]
    lines.append("")
    lines.append(
        "exactly once: "
        + ("ok" if once["ok"] else f"FAILED in {', '.join(once['phases_failed'])}")
        + f" (duplicates {once['duplicates']}, missing {once['missing']}, unmatched "
        f"{once['unmatched']}, timeouts {once['timeouts']}, claims left {once['claims_left']}, "
        f"audit duplicates/missing {once['audit_duplicates']}/{once['audit_missing']}; summed "
        "over every phase)"
    )
    return "\n".join(lines)
