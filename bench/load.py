"""`python -m bench.load --users N --commands M [--json FILE]`: the bot against the bare protocol.

Three phases, each against its own fresh sandbox process (so neither target inherits the
other's messages, users or garbage):

1. **baseline**: `python -m bench.baseline` (bench/baseline.py) as its own process;
2. **bot**: `python -m bot run` as its own process, with a fresh database (from `--bot-source`,
   so a fixed commit can be measured while the working tree changes);
3. **footprint**: the bot started three more times, with its database seeded (straight through
   the bot's stores, bench/seed.py) with nothing, with `--memory-tokens` fake delegated tokens,
   and with as many pending conversations (e-mail changes waiting for "yes"), each plus one
   real token of a probe user; its resident memory after the first command, and the
   time from process start to the first `/nick` answered. The baseline's start-up is measured
   the same way (its first answer to any message).

In phases 1 and 2 the load generator (this process) creates N users, each with a personal access
token delegated in the DM (`/token set`), then all N send their share of the M commands at once
over DDP (`sendMessage`, as the web client does), listening to their DM's room stream
(bench/client.py says why not `__my_messages__`). Each user is a **closed loop**: it sends its
next command when the answer to the previous one arrives, so at most N commands are in flight.
The mix cycles `/nick`, `/bio`, `/status`; every command changes something (unique values,
presences cycling away → busy → online), so the bot never skips the update.

What the server's own limits would otherwise measure, and how the benchmark stays clear of them:
the REST limiter (per client IP and endpoint: every change goes out from one address) is off
(`API_Enable_Rate_Limiter=false`); `sendMessage` is limited to 5 a second per user without
`send-many-messages`, which the benchmark grants to the `user` role (permissions.update); status
*texts* are limited to 5 a minute per user, so a user's first 4 `/status` commands carry a
text and the rest set a presence only (which Rocket.Chat does not limit). Meteor's general DDP
limits are switched off too, for a server that enforces them.

Figures per target: latency from sending a command to hearing the answer (p50/p95/p99/max);
latency from sending to the change being visible in `users.info`, **sampled**: one command in
`--visibility-every` (spread across users and time) is watched by polling `users.info` as the
admin, each poll a tenth of the time waited so far after the last (at least 2 ms, at most
100 ms apart: about 10% resolution), at most `--visibility-concurrency` watches at a time (a
sample due while all are busy is skipped and counted), so the polling adds little load; the
figure is the arrival of the first poll that shows the change (an upper bound, off by at most
one poll interval). Throughput is answered commands over the time from the first send to the
last answer. CPU per command is the target process's user+system time over the load
(`/proc/<pid>/stat`, every thread) divided by the commands; peak memory is its VmHWM.
With `--rounds K` baseline and bot run K times each, the order alternating, and every figure is
the median over the rounds (each ratio the median of the rounds' ratios).

Every run is bounded: per-answer timeout, an overall `--timeout`, and the children are stopped in
`finally`. Everything listens on 127.0.0.1 only.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import math
import os
import platform
import random
import shutil
import signal
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Sequence
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import aiohttp

from bench.client import ChatUser
from bench.proc import (
    PROJECT_ROOT,
    Child,
    child_environment,
    own_cpu_seconds,
    start_child,
    start_sandbox,
)
from bench.profiling import summarize
from sandbox.people import create_account

ADMIN_NAME: Final = "benchadmin"
ADMIN_PASSWORD: Final = "Bench-admin-pass-1"
BOT_NAME: Final = "profilebot"
BASELINE_NAME: Final = "barebot"
TARGET_PASSWORD: Final = "Bench-bot-pass-1"
USER_PASSWORD: Final = "Bench-user-pass-1"
PROBE_NAME: Final = "benchprobe"
PRESENCES: Final = ("away", "busy", "online")
STATUS_TEXTS_PER_USER: Final = 4  # Rocket.Chat allows 5 status-text changes a minute per user
SETUP_CONCURRENCY: Final = 16
PROBE_INTERVAL_SECONDS: Final = 0.05
READY_TIMEOUT_SECONDS: Final = 30.0
SETTLE_SECONDS: Final = 0.3
MIN_POLL_SECONDS: Final = 0.002
MAX_POLL_SECONDS: Final = 0.1
POLL_SHARE: Final = 0.1  # poll again after a tenth of the time waited so far
TARGETS: Final = {
    "p50_ratio_max": 1.2,
    "p99_ratio_max": 1.5,
    "throughput_ratio_min": 0.8,
    "bytes_per_delegated_user_max": 2048,
    "bytes_per_pending_conversation_max": 2048,
    "startup_seconds_max": 1.0,
}

# What an admin sets on the workspace for this benchmark (see the module docstring).
WORKSPACE_ENV: Final = {
    "ADMIN_USERNAME": ADMIN_NAME,
    "ADMIN_PASS": ADMIN_PASSWORD,
    "ADMIN_EMAIL": "benchadmin@example.com",
    "SANDBOX_BCRYPT_ROUNDS": "4",  # only logins and setup hash passwords; keeps setup short
    "OVERWRITE_SETTING_API_Enable_Rate_Limiter": "false",
    "OVERWRITE_SETTING_Message_AllowUnrecognizedSlashCommand": "true",
    "OVERWRITE_SETTING_DDP_Rate_Limit_IP_Enabled": "false",
    "OVERWRITE_SETTING_DDP_Rate_Limit_User_Enabled": "false",
    "OVERWRITE_SETTING_DDP_Rate_Limit_Connection_Enabled": "false",
    "OVERWRITE_SETTING_DDP_Rate_Limit_User_By_Method_Enabled": "false",
}


# -- the command mix -------------------------------------------------------------------------


@dataclass(frozen=True)
class Command:
    """One command a user sends, what a good answer starts with, and what users.info then shows."""

    text: str
    answer_starts: str
    profile: tuple[tuple[str, str], ...]
    sampled: bool


def plan_commands(usernames: Sequence[str], total: int, every: int) -> list[list[Command]]:
    """Each user's commands, in order: `total` split evenly, the mix cycling nick, bio, status.

    A command is sampled for visibility with probability 1/`every`, drawn from a generator
    seeded by the sizes, so both targets watch the same commands, spread over users and time.
    """
    count = len(usernames)
    draw = random.Random(f"{count}/{total}/{every}").random
    plans: list[list[Command]] = []
    for position, username in enumerate(usernames):
        share = total // count + (1 if position < total % count else 0)
        commands: list[Command] = []
        statuses = 0
        for index in range(share):
            sampled = every > 0 and draw() * every < 1
            kind = index % 3
            if kind == 0:
                nickname = f"{username}-n{index}"
                commands.append(
                    Command(
                        f"/nick {nickname}", "Nickname set", (("nickname", nickname),), sampled
                    )
                )
            elif kind == 1:
                bio = f"Benchmark bio {index} of {username}: writes code, reads the docs."
                commands.append(Command(f"/bio {bio}", "Bio set", (("bio", bio),), sampled))
            else:
                presence = PRESENCES[statuses % len(PRESENCES)]
                profile: tuple[tuple[str, str], ...] = (("status", presence),)
                text = f"/status {presence}"
                if statuses < STATUS_TEXTS_PER_USER:
                    status_text = f"Benchmark meeting {statuses}"
                    text += f" {status_text}"
                    profile += (("statusText", status_text),)
                statuses += 1
                commands.append(Command(text, "Status set", profile, sampled))
        plans.append(commands)
    return plans


# -- figures ---------------------------------------------------------------------------------


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


@dataclass
class Answers:
    """What came back for the commands of one phase."""

    latencies: list[float] = field(default_factory=list)
    wrong: int = 0
    timeouts: int = 0
    extra: int = 0
    wrong_examples: list[str] = field(default_factory=list)
    first_sent: float = math.inf
    last_answered: float = 0.0


class VisibilitySampler:
    """Watches sampled commands until users.info shows their change (see the module docstring)."""

    def __init__(self, admin: ChatUser, concurrency: int, timeout: float) -> None:
        self._admin = admin
        self._free = concurrency
        self._timeout = timeout
        self._tasks: set[asyncio.Task[None]] = set()
        self.latencies: list[float] = []
        self.skipped = 0
        self.timeouts = 0
        self.polls = 0

    def watch(self, user_id: str, profile: tuple[tuple[str, str], ...], sent: float) -> None:
        """Start watching one change sent at `sent` (perf_counter), if a watch slot is free."""
        if self._free <= 0:
            self.skipped += 1
            return
        self._free -= 1
        task = asyncio.create_task(self._poll(user_id, profile, sent))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _poll(self, user_id: str, profile: tuple[tuple[str, str], ...], sent: float) -> None:
        try:
            while (waited := time.perf_counter() - sent) < self._timeout:
                await asyncio.sleep(
                    min(max(MIN_POLL_SECONDS, waited * POLL_SHARE), MAX_POLL_SECONDS)
                )
                reply = await self._admin.rest("GET", "users.info", params={"userId": user_id})
                self.polls += 1
                user = reply["user"]
                if all(user.get(key) == value for key, value in profile):
                    self.latencies.append(time.perf_counter() - sent)
                    return
            self.timeouts += 1
        finally:
            self._free += 1

    async def finish(self) -> None:
        """Wait for the watches still running."""
        while self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)


# -- workspace and people --------------------------------------------------------------------


@dataclass(frozen=True)
class Target:
    """What a phase measures: the bot or the baseline, how to start it and how it answers."""

    name: str
    account: str
    probe_text: str
    delegated_reply: str


BOT = Target("bot", BOT_NAME, "/help", "Thanks")
BASELINE = Target("baseline", BASELINE_NAME, "ping", "Token stored")


async def grant_send_many_messages(admin: ChatUser) -> None:
    """Let ordinary users send faster than 5 messages a second (the benchmark's users type fast)."""
    listed = await admin.rest("GET", "permissions.listAll")
    roles: list[str] = next(
        (p.get("roles", []) for p in listed["update"] if p["_id"] == "send-many-messages"), []
    )
    await admin.rest(
        "POST",
        "permissions.update",
        json={"permissions": [{"_id": "send-many-messages", "roles": sorted({*roles, "user"})}]},
    )


async def wait_until_answered(
    user: ChatUser, target_account: str, child: Child, text: Callable[[int], str]
) -> float:
    """Say `text(k)` in the DM with the target every PROBE_INTERVAL until it answers one;
    returns the seconds from the child's start to that answer."""
    room_id = await user.direct_room(target_account)
    user.forget_heard(room_id)
    deadline = time.perf_counter() + READY_TIMEOUT_SECONDS
    for attempt in itertools.count():
        if child.process.returncode is not None:
            raise RuntimeError(f"{child.name} exited early:\n{child.log_tail()}")
        if time.perf_counter() > deadline:
            raise RuntimeError(f"{child.name} did not answer within {READY_TIMEOUT_SECONDS} s")
        await user.say(room_id, text(attempt))
        with contextlib.suppress(TimeoutError):
            arrived, _ = await user.next_message(room_id, PROBE_INTERVAL_SECONDS)
            return arrived - child.started
    raise AssertionError("unreachable")


async def join_users(
    stack: AsyncExitStack,
    http: aiohttp.ClientSession,
    admin: ChatUser,
    count: int,
    target: Target,
    timeout: float,
) -> list[tuple[ChatUser, str]]:
    """Create `count` users, log them in, and have each delegate a fresh token to the target;
    returns each user with the id of their DM with the target."""
    slots = asyncio.Semaphore(SETUP_CONCURRENCY)

    async def join(index: int) -> tuple[ChatUser, str]:
        username = f"load{index:04d}"
        async with slots:
            await create_account(admin, username, USER_PASSWORD, roles=["user"])
            user = ChatUser(http, admin.base_url, username, USER_PASSWORD)
            await stack.enter_async_context(user)
            token = await user.create_personal_access_token("bench")
            room_id = await user.direct_room(target.account)
            await user.say(room_id, f"/token set {token}")
            _, answer = await user.next_message(room_id, timeout)
            if not str(answer["msg"]).startswith(target.delegated_reply):
                raise RuntimeError(f"{username} could not delegate a token: {answer['msg']!r}")
            return user, room_id

    return list(await asyncio.gather(*(join(index) for index in range(count))))


async def drive(
    user: ChatUser,
    room_id: str,
    commands: Sequence[Command],
    answers: Answers,
    sampler: VisibilitySampler,
    timeout: float,
) -> None:
    """One user's closed loop: send a command, wait for its answer, send the next."""
    for command in commands:
        answers.extra += user.forget_heard(room_id)
        sent = time.perf_counter()
        answers.first_sent = min(answers.first_sent, sent)
        if command.sampled:
            sampler.watch(user.user_id, command.profile, sent)
        await user.say(room_id, command.text)
        try:
            answered, answer = await user.next_message(room_id, timeout)
        except TimeoutError:
            answers.timeouts += 1
            continue
        answers.last_answered = max(answers.last_answered, answered)
        text = str(answer.get("msg", ""))
        if text.startswith(command.answer_starts):
            answers.latencies.append(answered - sent)
        else:
            answers.wrong += 1
            if len(answers.wrong_examples) < 5:
                answers.wrong_examples.append(f"{command.text!r} → {text[:160]!r}")


def new_http_session() -> aiohttp.ClientSession:
    """The load generator's one HTTP session: no cap on connections (N users talk at once)."""
    return aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0))


# -- starting the targets --------------------------------------------------------------------


def bot_environment(url: str, db: str, secret_key: str, source: Path) -> dict[str, str]:
    """The environment of a benchmarked `python -m bot run`: RCBOT_* variables, at WARNING.

    `db` is an SQLite file or a PostgreSQL URL (bench/replicas.py runs several bots on one)."""
    return child_environment(
        {
            "PYTHONPATH": str(source),
            "RCBOT_SERVER_URL": url,
            "RCBOT_USERNAME": BOT_NAME,
            "RCBOT_PASSWORD": TARGET_PASSWORD,
            "RCBOT_DB": db,
            "RCBOT_SECRET_KEY": secret_key,
            "RCBOT_LOG_LEVEL": "WARNING",
            # The benchmark is a deliberate flood: measure the pipeline, not the flood gate.
            "RCBOT_RATE_LIMIT_PER_USER": "0",
            "RCBOT_RATE_LIMIT_GLOBAL": "0",
        }
    )


async def start_bot(
    url: str, db: Path, secret_key: str, work: Path, name: str, source: Path
) -> Child:
    """`python -m bot run` from `source`, configured through RCBOT_* variables, at WARNING."""
    env = bot_environment(url, str(db), secret_key, source)
    return await start_child(
        name, ["-m", "bot", "run"], env=env, log_dir=work, stdout_pipe=False, cwd=source
    )


async def start_baseline(url: str, work: Path, name: str) -> Child:
    """`python -m bench.baseline`, logged in as the baseline's account."""
    env = child_environment({"BENCH_BASELINE_PASSWORD": TARGET_PASSWORD})
    return await start_child(
        name,
        ["-m", "bench.baseline", "--server-url", url, "--username", BASELINE_NAME],
        env=env,
        log_dir=work,
        stdout_pipe=False,
    )


def new_secret_key() -> str:
    """A fresh key for the bot's database (what `python -m bot keygen` prints)."""
    from bot.core.crypto import generate_key

    return generate_key()


async def start_target(target: Target, url: str, work: Path, bot_source: Path, name: str) -> Child:
    """Start the bot (fresh database) or the baseline for a load phase."""
    if target is BOT:
        db = work / f"{name}.db"
        return await start_bot(url, db, new_secret_key(), work, name, bot_source)
    return await start_baseline(url, work, name)


class PySpy:
    """`py-spy record --format raw` attached to a running process, stopped with SIGINT."""

    def __init__(self, output: Path) -> None:
        self.output = output
        self._process: asyncio.subprocess.Process | None = None

    async def start(self, pid: int, rate: int, *, gil_only: bool) -> None:
        """Attach to `pid`: samples active time only, every thread (or only the one holding the
        GIL: Python work without the waits py-spy cannot tell from work), pausing it for each."""
        binary = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
        self._process = await asyncio.create_subprocess_exec(
            binary,
            "record",
            *(["--gil"] if gil_only else []),
            "--pid",
            str(pid),
            "--format",
            "raw",
            "--function",
            "--threads",
            "--rate",
            str(rate),
            "-o",
            str(self.output),
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
        )
        await asyncio.sleep(0.5)  # attaching takes a moment

    async def stop(self) -> None:
        """Stop sampling and let py-spy write the file."""
        if self._process is None or self._process.returncode is not None:
            return
        self._process.send_signal(signal.SIGINT)
        try:
            await asyncio.wait_for(self._process.wait(), 30)
        except TimeoutError:
            self._process.kill()
            await self._process.wait()


# -- phases ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Options:
    """The command line, checked."""

    users: int
    commands: int
    visibility_every: int
    visibility_concurrency: int
    reply_timeout: float
    memory_tokens: int
    phases: tuple[str, ...]
    rounds: int
    profile: Path | None
    profile_sandbox: Path | None
    profile_rate: int
    profile_gil: bool
    bot_source: Path


async def run_load_phase(
    target: Target, options: Options, work: Path, round_number: int
) -> dict[str, Any]:
    """A fresh sandbox, the target, N users with delegated tokens, M commands; the figures.

    The profilers, if asked for, watch the bot's first round only."""
    suffix = f"{target.name}-{round_number}"
    sandbox, url = await start_sandbox(f"sandbox-{suffix}", WORKSPACE_ENV, work)
    child: Child | None = None
    spies: list[PySpy] = []
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
                stack, http, admin, options.users, target, options.reply_timeout
            )
            setup_seconds = time.perf_counter() - setup_started
            plans = plan_commands(
                [user.username for user, _ in users],
                options.commands,
                options.visibility_every,
            )
            answers = Answers()
            sampler = VisibilitySampler(
                admin, options.visibility_concurrency, options.reply_timeout
            )
            if target is BOT and round_number == 1:
                for output, pid in (
                    (options.profile, child.pid),
                    (options.profile_sandbox, sandbox.pid),
                ):
                    if output is not None:
                        spies.append(PySpy(output))
                        await spies[-1].start(
                            pid, options.profile_rate, gil_only=options.profile_gil
                        )
            cpu_before = child.cpu_seconds()
            sandbox_cpu_before = sandbox.cpu_seconds()
            own_cpu_before = own_cpu_seconds()
            await asyncio.gather(
                *(
                    drive(user, room_id, plan, answers, sampler, options.reply_timeout)
                    for (user, room_id), plan in zip(users, plans, strict=True)
                )
            )
            cpu = child.cpu_seconds() - cpu_before
            sandbox_cpu = sandbox.cpu_seconds() - sandbox_cpu_before
            own_cpu = own_cpu_seconds() - own_cpu_before
            for spy in spies:
                await spy.stop()
            await sampler.finish()
            memory = child.memory_kb()
    finally:
        for spy in spies:
            await spy.stop()
        if child is not None:
            await child.stop()
        await sandbox.stop()
    handled = len(answers.latencies)
    duration = answers.last_answered - answers.first_sent if handled else math.nan
    per_command = max(handled, 1)
    return {
        "target": target.name,
        "round": round_number,
        "commands_sent": options.commands,
        "answered_ok": handled,
        "answered_wrong": answers.wrong,
        "timeouts": answers.timeouts,
        "extra_messages": answers.extra,
        "wrong_examples": answers.wrong_examples,
        "duration_s": round(duration, 3),
        "throughput_per_s": round(handled / duration, 2) if handled else None,
        "reply_latency": latency_summary(answers.latencies),
        "visible_latency": {
            **latency_summary(sampler.latencies),
            "skipped": sampler.skipped,
            "timeouts": sampler.timeouts,
            "polls": sampler.polls,
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


async def seed_tokens(
    db: Path,
    secret_key: str,
    probe: ChatUser,
    probe_token: str,
    fake: int,
    source: Path,
    conversations: int = 0,
) -> float:
    """Store the probe's real token, `fake` made-up ones and `conversations` pending
    conversations through the bot's stores (in a child, with the bot's own source); returns the
    seconds it took."""
    env = child_environment(
        {
            "PYTHONPATH": f"{source}{os.pathsep}{PROJECT_ROOT}",
            "BENCH_SECRET_KEY": secret_key,
            "BENCH_PROBE_TOKEN": probe_token,
        }
    )
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bench.seed",
        "--db",
        str(db),
        "--fake",
        str(fake),
        "--conversations",
        str(conversations),
        "--probe-user-id",
        probe.user_id,
        "--probe-username",
        probe.username,
        cwd=source,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await process.communicate()
    if process.returncode != 0:
        raise RuntimeError(f"seeding {db} failed:\n{err.decode(errors='replace')[-2000:]}")
    return float(out.decode().strip())


async def run_footprint(options: Options, work: Path) -> dict[str, Any]:
    """Start-up time and resident memory of the bot with nothing stored, with N delegated
    tokens, and with N pending conversations."""
    sandbox, url = await start_sandbox("sandbox-footprint", WORKSPACE_ENV, work)
    runs: dict[str, Any] = {}
    try:
        async with AsyncExitStack() as stack:
            http = await stack.enter_async_context(new_http_session())
            admin = ChatUser(http, url, ADMIN_NAME, ADMIN_PASSWORD)
            await stack.enter_async_context(admin)
            await grant_send_many_messages(admin)
            await create_account(admin, BOT_NAME, TARGET_PASSWORD, roles=["bot"])
            await create_account(admin, BASELINE_NAME, TARGET_PASSWORD, roles=["bot"])
            await create_account(admin, PROBE_NAME, USER_PASSWORD, roles=["user"])
            probe = ChatUser(http, url, PROBE_NAME, USER_PASSWORD)
            await stack.enter_async_context(probe)
            token = await probe.create_personal_access_token("bench")
            many = options.memory_tokens
            variants = {"empty": (0, 0), "tokens": (many, 0), "conversations": (0, many)}
            for label, (fake, conversations) in variants.items():
                db = work / f"bot-footprint-{label}.db"
                key = new_secret_key()
                seeding = await seed_tokens(
                    db, key, probe, token, fake, options.bot_source, conversations
                )
                child = await start_bot(
                    url, db, key, work, f"bot-footprint-{label}", options.bot_source
                )
                try:
                    startup = await wait_until_answered(
                        probe, BOT_NAME, child, f"/nick start-{fake}-{{}}".format
                    )
                    await asyncio.sleep(SETTLE_SECONDS)
                    memory = child.memory_kb()
                finally:
                    await child.stop()
                runs[label] = {
                    "fake_tokens": fake,
                    "pending_conversations": conversations,
                    "seeding_s": round(seeding, 2),
                    "start_to_first_command_s": round(startup, 3),
                    "rss_kb": memory.get("VmRSS"),
                    "peak_rss_kb": memory.get("VmHWM"),
                }
            child = await start_baseline(url, work, "baseline-footprint")
            try:
                baseline_startup = await wait_until_answered(
                    probe, BASELINE_NAME, child, lambda k: f"ping {k}"
                )
                await asyncio.sleep(SETTLE_SECONDS)
                baseline_memory = child.memory_kb()
            finally:
                await child.stop()
    finally:
        await sandbox.stop()
    many = options.memory_tokens

    def per_item(label: str) -> float | None:
        grown = runs[label]["rss_kb"] - runs["empty"]["rss_kb"]
        return round(grown * 1024 / many, 1) if many else None

    return {
        "how": (
            "database seeded through bot.storage.store.Store.put_token with fake tokens plus one real "
            "token of a probe user, or with pending e-mail changes through ConversationStore.put; "
            "memory is VmRSS 0.3 s after the first /nick was answered"
        ),
        "runs": runs,
        "delegated_users": many,
        "bytes_per_delegated_user": per_item("tokens"),
        "pending_conversations": many,
        "bytes_per_pending_conversation": per_item("conversations"),
        "bot_start_to_first_command_s": max(r["start_to_first_command_s"] for r in runs.values()),
        "baseline_start_to_first_answer_s": round(baseline_startup, 3),
        "baseline_rss_kb": baseline_memory.get("VmRSS"),
    }


# -- report ----------------------------------------------------------------------------------


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


def _ratio(bot: Any, baseline: Any) -> float | None:
    if not isinstance(bot, int | float) or not isinstance(baseline, int | float) or not baseline:
        return None
    return round(bot / baseline, 2)


def ratios(bot: dict[str, Any], baseline: dict[str, Any]) -> dict[str, float | None]:
    """bot / baseline for the figures the issue judges (and a few more)."""
    return {
        "reply_p50": _ratio(bot["reply_latency"]["p50_ms"], baseline["reply_latency"]["p50_ms"]),
        "reply_p95": _ratio(bot["reply_latency"]["p95_ms"], baseline["reply_latency"]["p95_ms"]),
        "reply_p99": _ratio(bot["reply_latency"]["p99_ms"], baseline["reply_latency"]["p99_ms"]),
        "visible_p50": _ratio(
            bot["visible_latency"]["p50_ms"], baseline["visible_latency"]["p50_ms"]
        ),
        "visible_p99": _ratio(
            bot["visible_latency"]["p99_ms"], baseline["visible_latency"]["p99_ms"]
        ),
        "throughput": _ratio(bot["throughput_per_s"], baseline["throughput_per_s"]),
        "cpu_per_command": _ratio(bot["cpu_ms_per_command"], baseline["cpu_ms_per_command"]),
        "peak_rss": _ratio(bot["peak_rss_kb"], baseline["peak_rss_kb"]),
    }


def verdicts(report: dict[str, Any]) -> dict[str, bool | None]:
    """Which of the issue's targets this run meets (None when not measured)."""
    ratio = report.get("ratios") or {}
    footprint = report.get("footprint") or {}

    def at_most(value: Any, limit: float) -> bool | None:
        return None if value is None else bool(value <= limit)

    return {
        "p50_ratio": at_most(ratio.get("reply_p50"), TARGETS["p50_ratio_max"]),
        "p99_ratio": at_most(ratio.get("reply_p99"), TARGETS["p99_ratio_max"]),
        "throughput_ratio": (
            None
            if ratio.get("throughput") is None
            else bool(ratio["throughput"] >= TARGETS["throughput_ratio_min"])
        ),
        "memory_per_delegated_user": at_most(
            footprint.get("bytes_per_delegated_user"), TARGETS["bytes_per_delegated_user_max"]
        ),
        "memory_per_pending_conversation": at_most(
            footprint.get("bytes_per_pending_conversation"),
            TARGETS["bytes_per_pending_conversation_max"],
        ),
        "startup": at_most(
            footprint.get("bot_start_to_first_command_s"), TARGETS["startup_seconds_max"]
        ),
    }


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "met" if value else "MISSED"
    if isinstance(value, float):
        return f"{value:,.2f}"
    return f"{value:,}" if isinstance(value, int) else str(value)


def render(report: dict[str, Any]) -> str:
    """The plain-text report."""
    config = report["config"]
    lines = [
        (
            f"bench.load: {config['users']} users, {config['commands']} commands, closed loop "
            f"(next command after the answer); {config['machine']['cpus']} CPUs, "
            f"load average at start {config['machine']['loadavg_at_start']}"
        ),
    ]
    if config["rounds"] > 1:
        lines.append(
            f"{config['rounds']} rounds, order alternating: each figure is the median over the "
            "rounds, each ratio the median of the rounds' ratios"
        )
    bot, baseline = report.get("bot"), report.get("baseline")
    rows: list[tuple[str, Callable[[dict[str, Any]], Any], str | None]] = [
        ("answered ok", lambda r: r["answered_ok"], None),
        ("wrong answers / timeouts", lambda r: f"{r['answered_wrong']} / {r['timeouts']}", None),
        ("reply latency p50 (ms)", lambda r: r["reply_latency"]["p50_ms"], "reply_p50"),
        ("reply latency p95 (ms)", lambda r: r["reply_latency"]["p95_ms"], "reply_p95"),
        ("reply latency p99 (ms)", lambda r: r["reply_latency"]["p99_ms"], "reply_p99"),
        ("reply latency max (ms)", lambda r: r["reply_latency"]["max_ms"], None),
        ("visible latency p50 (ms)", lambda r: r["visible_latency"]["p50_ms"], "visible_p50"),
        ("visible latency p95 (ms)", lambda r: r["visible_latency"]["p95_ms"], None),
        ("visible latency p99 (ms)", lambda r: r["visible_latency"]["p99_ms"], "visible_p99"),
        ("visible latency max (ms)", lambda r: r["visible_latency"]["max_ms"], None),
        (
            "visibility samples (skipped)",
            lambda r: f"{r['visible_latency']['count']} ({r['visible_latency']['skipped']})",
            None,
        ),
        ("throughput (commands/s)", lambda r: r["throughput_per_s"], "throughput"),
        ("CPU per command (ms)", lambda r: r["cpu_ms_per_command"], "cpu_per_command"),
        ("peak RSS (KiB)", lambda r: r["peak_rss_kb"], "peak_rss"),
        ("sandbox CPU per command (ms)", lambda r: r["sandbox_cpu_ms_per_command"], None),
        ("load generator CPU (cores)", lambda r: r["loadgen_cpu_share_of_a_core"], None),
        ("start to first answer (s)", lambda r: r["start_to_first_answer_s"], None),
    ]
    if bot or baseline:
        lines.append("")
        lines.append(f"{'':32}{'bot':>14}{'baseline':>14}{'bot/baseline':>14}")
        ratio = report.get("ratios") or {}
        for title, pick, key in rows:
            lines.append(
                f"{title:32}{_cell(pick(bot) if bot else None):>14}"
                f"{_cell(pick(baseline) if baseline else None):>14}"
                f"{_cell(ratio.get(key) if key else None):>14}"
            )
        for number, measured in enumerate(report.get("rounds", []), start=1):
            ratio = measured.get("ratios") or {}
            lines.append(
                f"round {number}: bot/baseline p50 {_cell(ratio.get('reply_p50'))}, p99 "
                f"{_cell(ratio.get('reply_p99'))}, throughput {_cell(ratio.get('throughput'))}, "
                f"CPU/command {_cell(ratio.get('cpu_per_command'))}"
            )
        for name, phase in (("bot", bot), ("baseline", baseline)):
            if phase and phase["wrong_examples"]:
                lines.append(f"{name}: unexpected answers, e.g. {phase['wrong_examples'][0]}")
    footprint = report.get("footprint")
    if footprint:
        lines.append("")
        for run in footprint["runs"].values():
            lines.append(
                f"bot with {run['fake_tokens']:>6} fake tokens (+1 real), "
                f"{run['pending_conversations']:>6} pending conversations: RSS "
                f"{run['rss_kb']:,} KiB, start to first command "
                f"{run['start_to_first_command_s']:.3f} s"
            )
        lines.append(
            f"memory per delegated user: {_cell(footprint['bytes_per_delegated_user'])} bytes, "
            f"per pending conversation: {_cell(footprint['bytes_per_pending_conversation'])} "
            "bytes; "
            f"baseline: start to first answer {footprint['baseline_start_to_first_answer_s']:.3f}"
            f" s, RSS {footprint['baseline_rss_kb']:,} KiB"
        )
    lines.append("")
    lines.append("targets: " + ", ".join(f"{k}={_cell(v)}" for k, v in report["verdicts"].items()))
    if "profile" in report:
        lines.append(f"profile: {report['profile']['file']} (summary: python -m bench.profiling)")
    return "\n".join(lines)


async def run_benchmark(options: Options, work: Path) -> dict[str, Any]:
    """Run the chosen phases and assemble the report."""
    report: dict[str, Any] = {
        "config": {
            "users": options.users,
            "commands": options.commands,
            "mode": "closed loop: each user sends its next command after the previous answer",
            "mix": "cycling /nick, /bio, /status (first 4 /status of a user with a text)",
            "visibility_sampling": {
                "every": options.visibility_every,
                "concurrency": options.visibility_concurrency,
                "poll_after_s": f"max({MIN_POLL_SECONDS}, {POLL_SHARE} x waited), at most "
                f"{MAX_POLL_SECONDS}",
            },
            "phases": list(options.phases),
            "rounds": options.rounds,
            "bot_source": str(options.bot_source),
            "machine": {
                "cpus": os.cpu_count(),
                "python": platform.python_version(),
                "platform": platform.platform(),
                "loadavg_at_start": Path("/proc/loadavg").read_text().split()[:3],
            },
            "started_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        },
        "targets": TARGETS,
    }
    rounds: list[dict[str, Any]] = []
    for number in range(1, options.rounds + 1):
        # Alternate the order so that drift in the machine's other load favours neither.
        order = (BASELINE, BOT) if number % 2 else (BOT, BASELINE)
        measured = {
            target.name: await run_load_phase(target, options, work, number)
            for target in order
            if target.name in options.phases
        }
        if "bot" in measured and "baseline" in measured:
            measured["ratios"] = ratios(measured["bot"], measured["baseline"])
        rounds.append(measured)
    for key in ("bot", "baseline", "ratios"):
        if key in rounds[0]:
            report[key] = median_of([measured[key] for measured in rounds])
    if options.rounds > 1:
        report["rounds"] = rounds
    if "footprint" in options.phases:
        report["footprint"] = await run_footprint(options, work)
    if options.profile is not None and "bot" in report:
        summary = summarize(options.profile)
        report["profile"] = {
            "file": str(options.profile),
            "samples": summary.samples,
            "top_self": summary.top("self", 15),
            "top_inclusive": summary.top("inclusive", 25),
        }
    report["verdicts"] = verdicts(report)
    return report


def parse_options(argv: Sequence[str] | None) -> tuple[Options, argparse.Namespace]:
    """The command line."""
    parser = argparse.ArgumentParser(
        prog="python -m bench.load", description=(__doc__ or "").split("\n\n")[0]
    )
    parser.add_argument("--users", type=int, default=20)
    parser.add_argument("--commands", type=int, default=200)
    parser.add_argument("--json", type=Path, metavar="FILE", help="also write the report here")
    parser.add_argument(
        "--visibility-every",
        type=int,
        default=0,
        help="watch one command in K for visibility (default: about 100 samples)",
    )
    parser.add_argument(
        "--visibility-concurrency", type=int, default=4, help="watches at a time (default 4)"
    )
    parser.add_argument("--reply-timeout", type=float, default=120.0)
    parser.add_argument(
        "--memory-tokens", type=int, default=10_000, help="fake tokens for the memory figure"
    )
    parser.add_argument(
        "--rounds",
        type=int,
        default=1,
        help="repeat baseline and bot this often (order alternating); report medians",
    )
    parser.add_argument(
        "--phases",
        default="baseline,bot,footprint",
        help="comma-separated subset of baseline,bot,footprint",
    )
    parser.add_argument(
        "--profile", type=Path, metavar="FILE", help="py-spy the bot during its load (raw format)"
    )
    parser.add_argument(
        "--profile-sandbox",
        type=Path,
        metavar="FILE",
        help="py-spy the sandbox during the bot's load (raw format)",
    )
    parser.add_argument(
        "--profile-gil",
        action="store_true",
        help="sample only the thread holding the GIL (py-spy --gil)",
    )
    parser.add_argument("--profile-rate", type=int, default=250, help="py-spy samples a second")
    parser.add_argument(
        "--timeout", type=float, default=1800.0, help="stop the whole run after this many seconds"
    )
    parser.add_argument("--keep", type=Path, help="keep the children's logs and databases here")
    parser.add_argument(
        "--bot-source",
        type=Path,
        default=PROJECT_ROOT,
        help="run the bot (and seed its database) from this source tree, e.g. an export of a "
        "commit: git archive HEAD | tar -x -C DIR (default: this project)",
    )
    args = parser.parse_args(argv)
    phases = tuple(p.strip() for p in args.phases.split(",") if p.strip())
    unknown = set(phases) - {"baseline", "bot", "footprint"}
    if unknown or args.users < 1 or args.commands < args.users or args.rounds < 1:
        parser.error("need --users ≥ 1, --commands ≥ --users, --rounds ≥ 1, known --phases")
    every = args.visibility_every or max(1, args.commands // 100)
    options = Options(
        users=args.users,
        commands=args.commands,
        visibility_every=every,
        visibility_concurrency=args.visibility_concurrency,
        reply_timeout=args.reply_timeout,
        memory_tokens=args.memory_tokens,
        phases=phases,
        rounds=args.rounds,
        profile=args.profile.resolve() if args.profile else None,
        profile_sandbox=args.profile_sandbox.resolve() if args.profile_sandbox else None,
        profile_rate=args.profile_rate,
        profile_gil=args.profile_gil,
        bot_source=args.bot_source.resolve(),
    )
    return options, args


async def in_work_folder(
    keep: Path | None,
    prefix: str,
    timeout: float,
    run: Callable[[Path], Awaitable[dict[str, Any]]],
) -> dict[str, Any]:
    """`run(folder)` within `timeout` seconds, in `keep` (left in place) or a temporary folder."""
    if keep is not None:
        keep.mkdir(parents=True, exist_ok=True)
        async with asyncio.timeout(timeout):
            return await run(keep.resolve())
    with tempfile.TemporaryDirectory(prefix=prefix) as folder:
        async with asyncio.timeout(timeout):
            return await run(Path(folder))


def publish(text: str, report: dict[str, Any], json_file: Path | None) -> None:
    """Print the text report; write the JSON one when asked."""
    print(text)
    if json_file is not None:
        json_file.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n")


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark, print the report, write the JSON if asked."""
    options, args = parse_options(argv)
    report = asyncio.run(
        in_work_folder(
            args.keep, "bench-load-", args.timeout, lambda work: run_benchmark(options, work)
        )
    )
    publish(render(report), report, args.json)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
