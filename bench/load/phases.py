"""One load phase: a fresh sandbox, one target, the people, one mix for a while; its figures.

Each phase starts its own sandbox process (through bench.load.server_log, which notes the REST
calls) and then the target as a separate process, so neither target inherits the other's
messages, users or garbage. The load generator (this process) creates the people, each with a
personal access token delegated in the DM (`/token set`), then drives them (bench/load/drive.py).

CPU per command is the target's user+system time by its process CPU clock (every thread) over
the load, divided by the commands answered; the server's the same for the sandbox process.
Peak memory is the target's VmHWM. Throughput is the commands answered over the time from the
first send to the last answer.
"""

from __future__ import annotations

import math
import time
from contextlib import AsyncExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from bench.client import ChatUser
from bench.load.drive import (
    Answers,
    Pacing,
    PhaseClock,
    Seat,
    VisibilitySampler,
    run_back_to_back,
    run_paced,
)
from bench.load.plan import make_mix, make_people
from bench.load.server_log import MODULE as LOGGED_SANDBOX
from bench.load.server_log import (
    attribute_calls,
    call_summary,
    fetch_calls,
    first_in_window_share,
    unattributed_calls,
)
from bench.load.stats import latency_summary
from bench.load.targets import BOT, PySpy, start_target
from bench.load.workspace import (
    ADMIN_NAME,
    ADMIN_PASSWORD,
    TARGET_PASSWORD,
    USER_PASSWORD,
    WORKSPACE_ENV,
    Target,
    grant_send_many_messages,
    join_users,
    new_http_session,
    wait_until_answered,
)
from bench.proc import Child, own_cpu_seconds, start_sandbox
from bot.app.config import BotSettings
from sandbox.people import create_account

MAX_HANDS = 200  # default visits at once in a paced mix
# The run's default overall limit. Creating a person and delegating their token took 0.13 to
# 0.16 s a person on 2 cores (14,000 people: 27-38 min a phase, bench/RESULTS.md part 5);
# the limit allows three times that, so only a hung run reaches it.
SETUP_BUDGET_SECONDS_PER_PERSON: Final = 0.5
FIXED_BUDGET_SECONDS: Final = 900.0  # the children's start-up, the footprint phase, the report
# How long the bot serves a change from its profile snapshot (its default; the bench keeps it).
SNAPSHOT_SECONDS: Final = BotSettings.model_fields["profile_snapshot_seconds"].default


@dataclass(frozen=True)
class Options:
    """The command line, checked."""

    people: int
    commands: int
    mixes: tuple[str, ...]
    min_phase_seconds: float
    spacing: float
    hands: int  # 0: min(people, MAX_HANDS)
    visibility_every: int
    visibility_concurrency: int
    reply_timeout: float
    memory_tokens: int
    phases: tuple[str, ...]
    rounds: int
    profile: Path | None
    profile_sandbox: Path | None
    profile_baseline: Path | None
    profile_rate: int
    profile_gil: bool
    bot_source: Path
    seed: str = "bench"

    @property
    def paced_hands(self) -> int:
        """Visits at once in a paced mix."""
        return min(self.people, self.hands or MAX_HANDS)

    @property
    def budget_seconds(self) -> float:
        """How long the whole run may take before it is stopped as hung (`--timeout`'s default).

        Each load phase creates its own people, so the limit grows with people x phases."""
        load_phases = len(self.mixes) * self.rounds * sum(p != "footprint" for p in self.phases)
        per_phase = self.people * SETUP_BUDGET_SECONDS_PER_PERSON + 10 * self.min_phase_seconds
        return FIXED_BUDGET_SECONDS + load_phases * per_phase


async def run_load_phase(
    target: Target, mix_name: str, options: Options, work: Path, round_number: int
) -> dict[str, Any]:
    """A fresh sandbox, the target, the people with delegated tokens, the mix; the figures.

    The profilers, if asked for, watch the first round of the first mix only (the bot and the
    sandbox beside it, or the baseline)."""
    suffix = f"{mix_name}-{target.name}-{round_number}"
    sandbox, url = await start_sandbox(f"sandbox-{suffix}", WORKSPACE_ENV, work, LOGGED_SANDBOX)
    child: Child | None = None
    spies: list[PySpy] = []
    mix = make_mix(mix_name, people=options.people, commands=options.commands)
    pacing = Pacing(hands=options.paced_hands, spacing=options.spacing)
    try:
        async with AsyncExitStack() as stack:
            http = await stack.enter_async_context(new_http_session())
            admin = ChatUser(http, url, ADMIN_NAME, ADMIN_PASSWORD)
            await stack.enter_async_context(admin)
            await grant_send_many_messages(admin)
            await create_account(admin, target.account, TARGET_PASSWORD, roles=["bot"])
            child = await start_target(target, url, work, options.bot_source, f"load-{suffix}")
            ready = await wait_until_answered(
                admin, target.account, child, lambda _: target.probe_text
            )
            setup_started = time.perf_counter()
            users = await join_users(
                stack, http, admin, options.people, target, options.reply_timeout
            )
            setup_seconds = time.perf_counter() - setup_started
            people = make_people(
                [user.username for user, _ in users],
                mix_name,
                sample_every=options.visibility_every,
                password=USER_PASSWORD,
                seed=options.seed,
            )
            seats = [
                Seat(user, room_id, person)
                for (user, room_id), person in zip(users, people, strict=True)
            ]
            answers = Answers()
            sampler = VisibilitySampler(
                admin, options.visibility_concurrency, options.reply_timeout
            )
            if round_number == 1 and mix_name == options.mixes[0]:
                watched = (
                    [(options.profile, child.pid), (options.profile_sandbox, sandbox.pid)]
                    if target is BOT
                    else [(options.profile_baseline, child.pid)]
                )
                for output, pid in watched:
                    if output is not None:
                        spies.append(PySpy(output))
                        await spies[-1].start(
                            pid, options.profile_rate, gil_only=options.profile_gil
                        )
            cpu_before = child.cpu_seconds()
            sandbox_cpu_before = sandbox.cpu_seconds()
            own_cpu_before = own_cpu_seconds()
            clock = PhaseClock(time.perf_counter(), options.min_phase_seconds)
            if mix.paced:
                await run_paced(
                    seats,
                    mix,
                    clock,
                    pacing,
                    answers,
                    sampler,
                    options.reply_timeout,
                    f"{options.seed}/{mix_name}/order",
                )
            else:
                await run_back_to_back(seats, mix, clock, answers, sampler, options.reply_timeout)
            cpu = child.cpu_seconds() - cpu_before
            sandbox_cpu = sandbox.cpu_seconds() - sandbox_cpu_before
            own_cpu = own_cpu_seconds() - own_cpu_before
            for spy in spies:
                await spy.stop()
            await sampler.finish()
            answers.extra += sum(seat.user.forget_heard(seat.room_id) for seat in seats)
            memory = child.memory_kb()
            logged = await fetch_calls(http, url)
            calls = attribute_calls(logged, answers.windows)
            own_calls = unattributed_calls(logged, answers.windows, [admin.user_id])
    finally:
        for spy in spies:
            await spy.stop()
        if child is not None:
            await child.stop()
        await sandbox.stop()
    handled = len(answers.latencies)
    duration = answers.last_answered - answers.first_sent if handled else math.nan
    per_command = max(handled, 1)
    visits = sum(person.visits for person in people)
    return {
        "target": target.name,
        "mix": mix_name,
        "round": round_number,
        "people": options.people,
        "visits": visits,
        "commands_answered": handled,
        "answered_wrong": answers.wrong,
        "timeouts": answers.timeouts,
        "extra_messages": answers.extra,
        "wrong_examples": answers.wrong_examples,
        "duration_s": round(duration, 3),
        "throughput_per_s": round(handled / duration, 2) if handled else None,
        "reply_latency": latency_summary(answers.latencies),
        "reply_latency_by_kind": {
            kind: latency_summary(seconds) for kind, seconds in sorted(answers.by_kind.items())
        },
        "visible_latency": {
            **latency_summary(sampler.latencies),
            "skipped": sampler.skipped,
            "timeouts": sampler.timeouts,
            "polls": sampler.polls,
        },
        "pacing": _pacing_figures(pacing, duration) if mix.paced else None,
        "server_calls": {
            **call_summary(answers.windows, calls),
            "first_in_window_share": first_in_window_share(answers.windows, SNAPSHOT_SECONDS),
            "target_own_calls_per_1000_commands": own_calls,
        },
        "cpu_s": round(cpu, 3),
        "cpu_ms_per_command": round(cpu * 1000 / per_command, 3),
        "peak_rss_kb": memory.get("VmHWM"),
        "rss_kb_after": memory.get("VmRSS"),
        "sandbox_cpu_ms_per_command": round(sandbox_cpu * 1000 / per_command, 3),
        "loadgen_cpu_share_of_a_core": round(own_cpu / duration, 2) if handled else None,
        "start_to_first_answer_s": round(ready, 3),
        "setup_s": round(setup_seconds, 2),
        "profiled": bool(spies),
    }


def _pacing_figures(pacing: Pacing, duration: float) -> dict[str, Any]:
    busy = pacing.hands * duration if duration and not math.isnan(duration) else 0.0
    return {
        "hands": pacing.hands,
        "spacing_s": pacing.spacing,
        "idle_share": round(pacing.idle_seconds / busy, 3) if busy else None,
        "people_ran_out_after_s": (
            None if pacing.ran_out_at is None else round(pacing.ran_out_at, 2)
        ),
    }
