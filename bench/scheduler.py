"""Scheduler benchmark: 10,000 users and 1,000 rules against a baseline with no rules.

    python -m bench.scheduler [--users 10000] [--rules 1000] [--hours 24] [--seed 5]

Both runs hold the same per-user items (one pending revert per user, due at random times over
the day, as if everyone had a temporary status); the rules run adds 1,000 schedule rules (random
cron expressions and time zones; their users are usernames, rooms or opt-ins drawn from the
10,000 people). The scheduler is what `bot.automation.schedule` runs: one Timetable entry per rule and
per pending item, re-armed with croniter when a rule fires. Measured over a simulated day in
one-minute ticks:

* memory: what the armed timetable allocates (tracemalloc), entries included;
* finding due items: the time `Timetable.pop_due` takes per tick and per due item;
* re-arming: the time to compute the next firing of each rule that fired.

The ratios (rules / baseline) show the cost following the due items, not rules × users: the
10,000 users never enter the heap because of the rules.
"""

from __future__ import annotations

import argparse
import gc
import random
import time
import tracemalloc
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from bot.automation.model import Rule, parse_rules
from bot.automation.schedule import FireRule, Job, RevertDue, Timetable

START = datetime(2026, 1, 5, 0, 0, tzinfo=UTC)
ZONES = ("UTC", "Europe/Berlin", "America/New_York", "Asia/Kolkata", "Australia/Sydney")


@dataclass
class Run:
    """What one run measured."""

    label: str
    entries: int
    memory: int
    ticks: int
    due: int
    find_seconds: float
    rearm_seconds: float
    fired_rules: int

    @property
    def find_per_tick_us(self) -> float:
        return self.find_seconds / self.ticks * 1e6

    @property
    def find_per_due_us(self) -> float:
        return self.find_seconds / max(self.due, 1) * 1e6

    @property
    def rearm_per_fire_us(self) -> float:
        return self.rearm_seconds / max(self.fired_rules, 1) * 1e6


def make_rules(count: int, usernames: Sequence[str], rng: random.Random) -> list[Rule]:
    """`count` schedule rules with random cron times, zones and users selectors."""
    raw: list[dict[str, Any]] = []
    for index in range(count):
        kind = index % 3
        if kind == 0:
            users: dict[str, Any] = {"usernames": rng.sample(list(usernames), 20)}
        elif kind == 1:
            users = {"room": f"team-{index % 50}"}
        else:
            users = {"opted_in": True}
        minute, hour = rng.randrange(60), rng.randrange(24)
        days = rng.choice(["*", "1-5", "0,6", "1,3,5"])
        raw.append(
            {
                "name": f"rule-{index}",
                "trigger": {
                    "schedule": f"{minute} {hour} * * {days}",
                    "timezone": rng.choice(ZONES),
                },
                "users": users,
                "change": {"status": "away", "status_text": f"Rule {index}", "for": "1h"},
            }
        )
    return parse_rules(raw)


def arm(rules: Sequence[Rule], users: int, rng: random.Random) -> Timetable[Job]:
    """The timetable as the bot builds it at start-up: every rule once, every pending revert."""
    table: Timetable[Job] = Timetable()
    for rule in rules:
        first = rule.trigger.next_fire(START, UTC)
        if first is not None:  # a message trigger keeps no time: nothing to arm
            table.push(first, FireRule(rule.name))
    for user in range(users):
        due = START + timedelta(seconds=rng.randrange(24 * 3600))
        table.push(due, RevertDue(f"user-{user}", "status"))
    return table


def measure(label: str, rules: Sequence[Rule], users: int, hours: int, seed: int) -> Run:
    """Arm a timetable (memory), then tick through `hours` minute by minute (time)."""
    by_name = {rule.name: rule for rule in rules}
    gc.collect()
    tracemalloc.start()
    table = arm(rules, users, random.Random(seed))
    memory, _ = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    entries = len(table)
    due_total = fired = 0
    find = rearm = 0.0
    ticks = hours * 60
    for minute in range(1, ticks + 1):
        now = START + timedelta(minutes=minute)
        started = time.perf_counter()
        due = table.pop_due(now)
        find += time.perf_counter() - started
        due_total += len(due)
        started = time.perf_counter()
        for job in due:
            if isinstance(job, FireRule):
                fired += 1
                following = by_name[job.rule].trigger.next_fire(now, UTC)
                if following is not None:
                    table.push(following, job)
        rearm += time.perf_counter() - started
    return Run(label, entries, memory, ticks, due_total, find, rearm, fired)


def _ratio(a: float, b: float) -> str:
    return f"{a / b:8.2f}" if b else "       -"


def report(baseline: Run, loaded: Run, users: int, rules: int) -> str:
    """The comparison table."""
    rows = [
        ("timetable entries", baseline.entries, loaded.entries, "{:,.0f}"),
        ("scheduler memory (KiB)", baseline.memory / 1024, loaded.memory / 1024, "{:,.1f}"),
        ("due items found", baseline.due, loaded.due, "{:,.0f}"),
        ("find due, per tick (µs)", baseline.find_per_tick_us, loaded.find_per_tick_us, "{:.2f}"),
        ("find due, per item (µs)", baseline.find_per_due_us, loaded.find_per_due_us, "{:.2f}"),
    ]
    lines = [
        f"scheduler benchmark: {users:,} users, {rules:,} rules vs. a baseline with no rules",
        f"(same {users:,} pending reverts in both; {baseline.ticks:,} one-minute ticks)",
        "",
        f"{'':28}{'baseline':>14}{'rules':>14}{'ratio':>9}",
    ]
    for name, base, load, fmt in rows:
        lines.append(f"{name:28}{fmt.format(base):>14}{fmt.format(load):>14} {_ratio(load, base)}")
    lines.append(
        f"{'re-arm a fired rule (µs)':28}{'-':>14}{loaded.rearm_per_fire_us:>14.1f}"
        f"   ({loaded.fired_rules:,} firings)"
    )
    per_item = _ratio(loaded.find_per_due_us, baseline.find_per_due_us).strip()
    lines.append(
        f"\nfinding a due item with the rules costs {per_item}× the baseline; a scan of "
        f"rules × users would touch {users * rules:,} pairs per tick."
    )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.scheduler", description=__doc__)
    parser.add_argument("--users", type=int, default=10_000)
    parser.add_argument("--rules", type=int, default=1_000)
    parser.add_argument("--hours", type=int, default=24)
    parser.add_argument("--seed", type=int, default=5)
    args = parser.parse_args(argv)
    rng = random.Random(args.seed)
    usernames = [f"user{index}" for index in range(args.users)]
    rules = make_rules(args.rules, usernames, rng)
    baseline = measure("baseline", [], args.users, args.hours, args.seed)
    loaded = measure("rules", rules, args.users, args.hours, args.seed)
    print(report(baseline, loaded, args.users, args.rules))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
