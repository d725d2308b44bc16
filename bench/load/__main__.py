"""`python -m bench.load [--mix realistic,spaced,burst] [--people N] [--rounds K] [--json F]`
and `python -m bench.load --check-targets FILE.json [...]`: the bot against the bare protocol.

For each mix and round, two load phases (bench/load/phases.py), the baseline's and the bot's, in
alternating order so that drift in the machine's other load favours neither; then, once, the
footprint phase (bench/load/footprint.py). Every command's answer is checked; a wrong, missing or
doubled answer fails the run (exit status 1). Every run is bounded: per-answer timeout, an
overall `--timeout`, and the children are stopped in `finally`. Everything listens on 127.0.0.1.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench.load.drive import MAX_POLL_SECONDS, MIN_POLL_SECONDS, POLL_SHARE
from bench.load.footprint import run_footprint
from bench.load.goals import check_targets, goals_as_json, verdicts
from bench.load.phases import MAX_HANDS, Options, run_load_phase
from bench.load.plan import MIXES, REALISTIC_WEIGHTS
from bench.load.report import failures, git_state, mix_report, publish, render
from bench.load.workspace import BASELINE, BOT, in_work_folder
from bench.proc import PROJECT_ROOT
from bench.profiling import summarize


def describe_config(options: Options, argv: Sequence[str]) -> dict[str, Any]:
    """What was run, on what."""
    return {
        "people": options.people,
        "burst_commands_per_pass": options.commands,
        "mixes": list(options.mixes),
        "realistic_weights": dict(REALISTIC_WEIGHTS),
        "min_phase_seconds": options.min_phase_seconds,
        "spacing_s": options.spacing,
        "paced_hands": options.paced_hands,
        "visibility_sampling": {
            "every": options.visibility_every,
            "concurrency": options.visibility_concurrency,
            "poll_after_s": f"max({MIN_POLL_SECONDS}, {POLL_SHARE} x waited), at most "
            f"{MAX_POLL_SECONDS}",
        },
        "phases": list(options.phases),
        "rounds": options.rounds,
        "seed": options.seed,
        "bot_source": str(options.bot_source),
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
            "loadavg_at_start": Path("/proc/loadavg").read_text().split()[:3],
        },
        "started_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }


async def run_benchmark(options: Options, work: Path, argv: Sequence[str]) -> dict[str, Any]:
    """Run the chosen mixes and phases and assemble the report."""
    report: dict[str, Any] = {
        "command_line": ["python", "-m", "bench.load", *argv],
        "git": git_state(PROJECT_ROOT),
        "bot_git": git_state(options.bot_source),
        "config": describe_config(options, argv),
        "targets": goals_as_json(),
        "mixes": {},
    }
    targets = [target for target in (BASELINE, BOT) if target.name in options.phases]
    if targets:
        for mix in options.mixes:
            rounds = []
            for number in range(1, options.rounds + 1):
                order = targets if number % 2 else targets[::-1]
                rounds.append(
                    {
                        target.name: await run_load_phase(target, mix, options, work, number)
                        for target in order
                    }
                )
            report["mixes"][mix] = mix_report(rounds, options.min_phase_seconds)
    if "footprint" in options.phases:
        report["footprint"] = await run_footprint(options, work)
    if options.profile is not None and "bot" in options.phases:
        summary = summarize(options.profile)
        report["profile"] = {
            "file": str(options.profile),
            "samples": summary.samples,
            "top_self": summary.top("self", 15),
            "top_inclusive": summary.top("inclusive", 25),
        }
    report["verdicts"] = verdicts(report)
    report["failures"] = failures(report)
    return report


def build_parser() -> argparse.ArgumentParser:
    """The command line."""
    parser = argparse.ArgumentParser(
        prog="python -m bench.load", description=(__doc__ or "").split("\n\n")[0]
    )
    add = parser.add_argument
    add("--mix", default="burst", help=f"comma-separated, of {','.join(MIXES)} (burst)")
    add("--people", "--users", dest="people", type=int, default=20)
    add("--commands", type=int, help="burst: commands per pass, shared out (10 x --people)")
    add("--min-phase-seconds", type=float, default=20.0, help="a phase runs at least this long")
    add("--spacing", type=float, default=31.0, help="paced mixes: least s between two visits")
    add("--hands", type=int, default=0, help=f"paced: visits at once (people, ≤ {MAX_HANDS})")
    add("--rounds", type=int, default=1, help="baseline and bot this often per mix")
    add("--phases", default="baseline,bot,footprint", help="subset of baseline,bot,footprint")
    add("--json", type=Path, metavar="FILE", help="also write the report here")
    add("--check-targets", type=Path, nargs="+", metavar="FILE", help="judge --json reports")
    add("--visibility-every", type=int, default=100, help="watch one change in K (0: none)")
    add("--visibility-concurrency", type=int, default=4, help="watches at a time")
    add("--reply-timeout", type=float, default=120.0)
    add("--memory-tokens", type=int, default=10_000, help="fake tokens for the memory figure")
    add("--seed", default="bench", help="what the plans' random draws start from")
    add(
        "--rc-version",
        default=os.environ.get("SANDBOX_RC_VERSION", "7.4.0"),
        help="the Rocket.Chat the sandbox behaves as: 7.4.x or 8.6.x (default 7.4.0)",
    )
    add("--profile", type=Path, metavar="FILE", help="py-spy the bot (first round, first mix)")
    add("--profile-sandbox", type=Path, metavar="FILE", help="py-spy the sandbox likewise")
    add("--profile-baseline", type=Path, metavar="FILE", help="py-spy the baseline likewise")
    add("--profile-gil", action="store_true", help="sample only the thread holding the GIL")
    add("--profile-rate", type=int, default=250, help="py-spy samples a second")
    add(
        "--timeout",
        type=float,
        help="stop the whole run after this many s (default: 0.5 s a person a phase, + 900 s)",
    )
    add("--keep", type=Path, help="keep the children's logs and databases here")
    add(
        "--bot-source",
        type=Path,
        default=PROJECT_ROOT,
        help="run the bot (and seed its database) from this source tree, e.g. an export of a "
        "commit: git archive HEAD | tar -x -C DIR (default: this project)",
    )
    return parser


def parse_options(argv: Sequence[str]) -> tuple[Options, argparse.Namespace]:
    """The command line, checked."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.check_targets:
        return None, args  # type: ignore[return-value]
    phases = tuple(p.strip() for p in args.phases.split(",") if p.strip())
    mixes = tuple(m.strip() for m in args.mix.split(",") if m.strip())
    commands = args.commands if args.commands is not None else 10 * args.people
    if set(phases) - {"baseline", "bot", "footprint"} or set(mixes) - set(MIXES) or not mixes:
        parser.error(f"--phases takes baseline,bot,footprint and --mix {','.join(MIXES)}")
    if args.people < 1 or args.rounds < 1 or args.hands < 0 or args.spacing < 0:
        parser.error("need --people ≥ 1, --rounds ≥ 1, --hands ≥ 0, --spacing ≥ 0")
    if "burst" in mixes and commands < args.people:
        parser.error("burst needs --commands ≥ --people (each person sends at least one)")
    options = Options(
        people=args.people,
        commands=commands,
        mixes=mixes,
        min_phase_seconds=args.min_phase_seconds,
        spacing=args.spacing,
        hands=args.hands,
        visibility_every=args.visibility_every,
        visibility_concurrency=args.visibility_concurrency,
        reply_timeout=args.reply_timeout,
        memory_tokens=args.memory_tokens,
        phases=phases,
        rounds=args.rounds,
        profile=args.profile.resolve() if args.profile else None,
        profile_sandbox=args.profile_sandbox.resolve() if args.profile_sandbox else None,
        profile_baseline=args.profile_baseline.resolve() if args.profile_baseline else None,
        profile_rate=args.profile_rate,
        profile_gil=args.profile_gil,
        bot_source=args.bot_source.resolve(),
        seed=args.seed,
    )
    if args.timeout is None:
        args.timeout = options.budget_seconds
    return options, args


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark (or judge reports), print the report, write the JSON if asked."""
    arguments = list(sys.argv[1:] if argv is None else argv)
    options, args = parse_options(arguments)
    if args.check_targets:
        return check_targets(args.check_targets)
    os.environ["SANDBOX_RC_VERSION"] = args.rc_version  # the sandbox children read it
    report = asyncio.run(
        in_work_folder(
            args.keep,
            "bench-load-",
            args.timeout,
            lambda work: run_benchmark(options, work, arguments),
        )
    )
    publish(render(report), report, args.json)
    return 1 if report["failures"] else 0


if __name__ == "__main__":
    raise SystemExit(main())
