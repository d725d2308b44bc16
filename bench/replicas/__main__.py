"""`python -m bench.replicas`: its command line (the package docstring says what it measures)."""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import bench.replicas as package
from bench.load.report import publish
from bench.load.stats import median_of
from bench.load.workspace import in_work_folder
from bench.proc import PROJECT_ROOT
from bench.replicas.options import (
    DEFAULT_DEFER_SECONDS,
    DEFAULT_LEASE_SECONDS,
    Options,
)
from bench.replicas.phase import run_replica_phase
from bench.replicas.report import exactly_once_total, ratios, render
from tests.postgres_server import TemporaryPostgres


async def run_benchmark(options: Options, admin_url: str, work: Path) -> dict[str, Any]:
    """Every replica count in every round; medians, ratios and the exactly-once verdict."""
    base = min(options.replica_counts)
    report: dict[str, Any] = {
        "config": {
            "users": options.users,
            "commands": options.commands,
            "replicas": list(options.replica_counts),
            "baseline_replicas": base,
            "rounds": options.rounds,
            "replica_lease_s": options.lease,
            "replica_defer_s": options.defer,
            "mode": "closed loop: each user sends its next command after the previous answer",
            "mix": "cycling /nick, /bio, /status (first 4 /status of a user with a text)",
            "database": "PostgreSQL, a fresh database per phase",
            "bot_source": str(options.bot_source),
            "machine": {
                "cpus": os.cpu_count(),
                "python": platform.python_version(),
                "platform": platform.platform(),
                "loadavg_at_start": Path("/proc/loadavg").read_text().split()[:3],
            },
            "started_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        },
    }
    rounds: list[dict[str, Any]] = []
    for number in range(1, options.rounds + 1):
        # Alternate the order so that drift in the machine's other load favours no R.
        order = options.replica_counts if number % 2 else options.replica_counts[::-1]
        measured = {
            str(count): await run_replica_phase(count, options, admin_url, work, number)
            for count in order
        }
        measured["ratios"] = {
            str(count): ratios(measured[str(count)], measured[str(base)])
            for count in options.replica_counts
        }
        rounds.append(measured)
    report["results"] = {
        str(count): median_of([measured[str(count)] for measured in rounds])
        for count in options.replica_counts
    }
    report["ratios"] = {
        str(count): median_of([measured["ratios"][str(count)] for measured in rounds])
        for count in options.replica_counts
    }
    if options.rounds > 1:
        report["rounds"] = rounds
    report["exactly_once"] = exactly_once_total(
        [measured[str(count)] for measured in rounds for count in options.replica_counts]
    )
    return report


# -- command line ----------------------------------------------------------------------------


def parse_options(argv: Sequence[str] | None) -> tuple[Options, argparse.Namespace]:
    """The command line."""
    parser = argparse.ArgumentParser(
        prog="python -m bench.replicas", description=(package.__doc__ or "").split("\n\n")[0]
    )
    parser.add_argument("--users", type=int, default=20)
    parser.add_argument("--commands", type=int, default=1000)
    parser.add_argument(
        "--replicas", default="1,2,3", help="comma-separated replica counts (default 1,2,3)"
    )
    parser.add_argument("--rounds", type=int, default=1, help="repeat every count; medians")
    parser.add_argument("--json", type=Path, metavar="FILE", help="also write the report here")
    parser.add_argument(
        "--postgres",
        metavar="URL",
        help="a PostgreSQL superuser's URL (default: $RCBOT_TEST_POSTGRES, else a throwaway "
        "server started for the run)",
    )
    parser.add_argument(
        "--lease", type=float, default=DEFAULT_LEASE_SECONDS, help="RCBOT_REPLICA_LEASE (s)"
    )
    parser.add_argument(
        "--defer", type=float, default=DEFAULT_DEFER_SECONDS, help="RCBOT_REPLICA_DEFER (s)"
    )
    parser.add_argument("--reply-timeout", type=float, default=20.0)
    parser.add_argument(
        "--sample-db-waits",
        action="store_true",
        help="sample what the bots' database connections do during the load (pg_stat_activity)",
    )
    parser.add_argument(
        "--timeout", type=float, default=1800.0, help="stop the whole run after this many seconds"
    )
    parser.add_argument("--keep", type=Path, help="keep the children's logs (and databases)")
    parser.add_argument(
        "--bot-source",
        type=Path,
        default=PROJECT_ROOT,
        help="run the bots from this source tree (default: this project)",
    )
    args = parser.parse_args(argv)
    try:
        counts = tuple(sorted({int(part) for part in args.replicas.split(",") if part.strip()}))
    except ValueError:
        counts = ()
    if (
        not counts
        or counts[0] < 1
        or args.users < 1
        or args.commands < args.users
        or args.rounds < 1
        or args.lease <= 0
        or args.defer < 0
    ):
        parser.error(
            "need --replicas like 1,2,3 (each ≥ 1), --users ≥ 1, --commands ≥ --users, "
            "--rounds ≥ 1, --lease > 0, --defer ≥ 0"
        )
    options = Options(
        users=args.users,
        commands=args.commands,
        replica_counts=counts,
        rounds=args.rounds,
        lease=args.lease,
        defer=args.defer,
        reply_timeout=args.reply_timeout,
        sample_db_waits=args.sample_db_waits,
        postgres=args.postgres or os.environ.get("RCBOT_TEST_POSTGRES") or None,
        bot_source=args.bot_source.resolve(),
        keep=args.keep is not None,
    )
    return options, args


async def _with_postgres(options: Options, work: Path) -> dict[str, Any]:
    if options.postgres is not None:
        return await run_benchmark(options, options.postgres, work)
    server = TemporaryPostgres()
    admin_url = await asyncio.to_thread(server.start)
    try:
        return await run_benchmark(options, admin_url, work)
    finally:
        await asyncio.to_thread(server.stop)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark, print the report, write the JSON if asked; 1 unless exactly once."""
    options, args = parse_options(argv)
    report = asyncio.run(
        in_work_folder(
            args.keep, "bench-replicas-", args.timeout, lambda work: _with_postgres(options, work)
        )
    )
    publish(render(report), report, args.json)
    return 0 if report["exactly_once"]["ok"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
