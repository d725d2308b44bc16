"""What polling calendar feeds costs the bot: CPU per feed per poll, and memory per person.

    python -m bench.calendar [--feeds 200] [--events 120] [--json FILE]
    python -m bench.calendar --feeds 10000      # the issue's size: some minutes on 2 cores

N feeds, each a distinct path on a local aiohttp server in its own process (so its CPU is not
counted), all the same work calendar: `--events` meetings, a third of them weekly series with an
exception each, the rest single events over six weeks. The bot's side is the real one: a Store
(SQLite) holding N people's encrypted addresses, and `CalendarStatus.refresh` for each, which
reads and decrypts the address, fetches through FeedFetcher (8 at a time), expands fresh
content in a child process (expand_within), stores the state and the intervals, and checks the
status against them. The clock stands on a weekday night, when nobody is in a meeting, so no
call to Rocket.Chat is made (the status path costs what bench/load measures).

Three rounds, each over all N feeds, CPU measured from /proc (this process, plus the
expansion children reaped by the forkserver):

* baseline: a bare aiohttp GET of each feed (one session, 8 at a time), the body read whole,
  then the same with If-None-Match (a 304 each);
* full: every feed polled with no validators (a 200, expanded, stored);
* conditional: every feed polled again (a 304: nothing expanded, the state stored).

Memory per person: the growth of traced Python memory (tracemalloc) for N people's polls
planned on the scheduler (what the bot holds per person between polls; the intervals live in
the database), and the peak traced memory of a round divided by N. `tests/bench/
test_calendar_smoke.py` runs it tiny.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import aiohttp
from aiohttp import web

from bot.automation.calendar import expand, status_window
from bot.automation.calendar_status import CalendarOptions, CalendarStatus
from bot.automation.layers import StatusLayers
from bot.automation.schedule import Scheduler
from bot.core.clock import ManualClock
from bot.core.crypto import generate_key
from bot.profile.reverts import RevertBook
from bot.profile.service import ProfileService
from bot.rocketchat.rest import RestClient
from bot.storage.automation import AutomationStore
from bot.storage.calendars import CalendarStore
from bot.storage.layers import LayerStore
from bot.storage.store import Store

NOW = datetime(2026, 3, 24, 2, 0, tzinfo=UTC)  # a weekday night: nobody is in a meeting
CONCURRENCY = 8


def work_calendar(events: int) -> str:
    """A calendar like a busy person's: weekly series with an exception, single meetings."""
    lines = ["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//rcbot bench//EN"]
    first = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
    for number in range(events):
        start = first + timedelta(days=number % 33, hours=number % 9, minutes=15 * (number % 4))
        stamp = f"{start:%Y%m%dT%H%M%SZ}"
        lines += [
            "BEGIN:VEVENT",
            f"UID:event-{number}@bench.rcbot",
            "DTSTAMP:20260301T000000Z",
            f"DTSTART:{stamp}",
            f"DTEND:{start + timedelta(minutes=30):%Y%m%dT%H%M%SZ}",
            f"SUMMARY:Meeting {number}",
        ]
        if number % 3 == 0:
            lines += [
                "RRULE:FREQ=WEEKLY;COUNT=12",
                f"EXDATE:{start + timedelta(weeks=2):%Y%m%dT%H%M%SZ}",
            ]
        lines.append("END:VEVENT")
    lines.append("END:VCALENDAR")
    return "\r\n".join(lines) + "\r\n"


def _serve(text: str, sender: Connection) -> None:
    """The feed server's process: every /feed/<n>.ics is `text`, with an ETag."""
    etag = f'"{abs(hash(text)):x}"'

    async def feed(request: web.Request) -> web.Response:
        if request.headers.get("If-None-Match") == etag:
            return web.Response(status=304, headers={"ETag": etag})
        return web.Response(text=text, content_type="text/calendar", headers={"ETag": etag})

    async def main() -> None:
        app = web.Application()
        app.router.add_get("/feed/{number}.ics", feed)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        sender.send(runner.addresses[0][1])
        await asyncio.Event().wait()

    asyncio.run(main())


def _forkserver_cpu() -> float:
    """CPU of the forkserver and the expansion children it reaped (utime, stime, cutime,
    cstime), in seconds; 0 before it started."""
    from multiprocessing import forkserver

    pid = getattr(forkserver._forkserver, "_forkserver_pid", None)
    if not pid:
        return 0.0
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat[stat.rindex(")") + 2 :].split()
    return sum(int(value) for value in fields[11:15]) / os.sysconf("SC_CLK_TCK")


def _cpu() -> float:
    return time.process_time() + _forkserver_cpu()


async def _measured(work: Callable[[], Awaitable[Any]]) -> tuple[float, float]:
    """(CPU seconds, wall seconds) of `work`."""
    cpu, wall = _cpu(), time.monotonic()
    await work()
    return _cpu() - cpu, time.monotonic() - wall


async def _bare(urls: list[str], etag: str | None) -> None:
    """The baseline: a bare aiohttp GET of each URL, 8 at a time, each body read whole."""
    slots = asyncio.Semaphore(CONCURRENCY)
    headers = {"If-None-Match": etag} if etag else {}
    async with aiohttp.ClientSession() as http:

        async def one(url: str) -> None:
            async with slots, http.get(url, headers=headers) as reply:
                await reply.read()
                assert reply.status == (304 if etag else 200), reply.status

        await asyncio.gather(*(one(url) for url in urls))


async def run(feeds: int, events: int) -> dict[str, Any]:
    text = work_calendar(events)
    receiver, sender = multiprocessing.get_context("spawn").Pipe(duplex=False)
    server = multiprocessing.get_context("spawn").Process(
        target=_serve, args=(text, sender), daemon=True
    )
    server.start()
    try:
        port = receiver.recv()
        urls = [f"http://127.0.0.1:{port}/feed/{number}.ics" for number in range(feeds)]
        with tempfile.TemporaryDirectory(prefix="rcbot-bench-calendar-") as workdir:
            return await _rounds(urls, text, Path(workdir) / "bot.db")
    finally:
        server.kill()
        server.join()


async def _rounds(urls: list[str], text: str, db: Path) -> dict[str, Any]:
    feeds = len(urls)
    clock = ManualClock(NOW)
    async with await Store.open(db, secret_key=generate_key()) as store:
        scheduler = Scheduler(clock, _nothing)
        profile = ProfileService(store, RestClient("http://127.0.0.1:9"), wall_clock=clock)
        layers = StatusLayers(
            profile, RevertBook(AutomationStore(store)), LayerStore(store), clock
        )
        calendars = CalendarStore(store)
        service = CalendarStatus(
            profile,
            layers,
            calendars,
            clock,
            schedule=scheduler.at,
            options=CalendarOptions(allow_private_networks=True, concurrency=CONCURRENCY),
        )
        for number, url in enumerate(urls):
            await calendars.put(f"user-{number}", f"user{number}", url, at=NOW)
            await calendars.save_poll(f"user-{number}", {"zone": "Europe/Berlin"})
        async with service:
            await service.refresh("user-0")  # warm up: the forkserver, the connection pool
            bare_full = await _measured(lambda: _bare(urls, None))
            async with aiohttp.ClientSession() as http, http.get(urls[0]) as reply:
                etag = reply.headers["ETag"]
            bare_304 = await _measured(lambda: _bare(urls, etag))
            ids = [f"user-{number}" for number in range(feeds)]
            await _reset(calendars, ids)
            full = await _measured(lambda: _each(service, ids))
            await clock.advance(20 * 60)
            conditional = await _measured(lambda: _each(service, ids))
            zone = ZoneInfo("Europe/Berlin")
            start, end = status_window(clock.now(), zone)
            expansion = await _measured(
                lambda: _expand_each(text, feeds, start=start, end=end, zone=zone)
            )
            # Memory apart: tracemalloc slows Python down several times.
            await _reset(calendars, ids)
            tracemalloc.start()
            await _each(service, ids)
            _, full_peak = tracemalloc.get_traced_memory()
            tracemalloc.reset_peak()
            await clock.advance(20 * 60)
            await _each(service, ids)
            _, conditional_peak = tracemalloc.get_traced_memory()
            service.pause()
            before, _ = tracemalloc.get_traced_memory()
            await service.resume()  # what the bot holds per person between polls
            held, _ = tracemalloc.get_traced_memory()
            tracemalloc.stop()
        kept = await calendars.get("user-1")
    assert kept is not None and kept.intervals, "the feeds were not expanded"
    per = 1000.0 / feeds
    return {
        "feeds": feeds,
        "ics_bytes": len(text.encode()),
        "intervals_kept": len(kept.intervals),
        "baseline_get_ms_per_feed": round(bare_full[0] * per, 3),
        "baseline_304_ms_per_feed": round(bare_304[0] * per, 3),
        "full_poll_ms_per_feed": round(full[0] * per, 3),
        "conditional_poll_ms_per_feed": round(conditional[0] * per, 3),
        "expansion_in_process_ms_per_feed": round(expansion[0] * per, 3),
        "full_wall_s": round(full[1], 2),
        "conditional_wall_s": round(conditional[1], 2),
        "full_vs_baseline": _ratio(full[0], bare_full[0]),
        "conditional_vs_baseline": _ratio(conditional[0], bare_304[0]),
        "held_bytes_per_person": round((held - before) / feeds),
        "peak_bytes_per_person_full": round(full_peak / feeds),
        "peak_bytes_per_person_304": round(conditional_peak / feeds),
    }


async def _each(service: CalendarStatus, ids: list[str]) -> None:
    await asyncio.gather(*(service.refresh(user_id) for user_id in ids))


async def _expand_each(text: str, times: int, **window: Any) -> None:
    """The expansion alone, in this process: what a full poll's child does."""
    for _ in range(times):
        expand(text, **window)


async def _reset(calendars: CalendarStore, ids: list[str]) -> None:
    """Back to no validators and nothing kept, so the full round fetches every feed whole."""
    for user_id in ids:
        await calendars.save_poll(user_id, {"zone": "Europe/Berlin"}, [])


def _ratio(measured: float, baseline: float) -> float | None:
    return round(measured / baseline, 1) if baseline > 0 else None


async def _nothing(job: Any) -> None:
    return None


def report(figures: dict[str, Any]) -> str:
    f = figures
    lines = [
        (
            f"{f['feeds']} feeds of {f['ics_bytes']:,} bytes ({f['intervals_kept']} busy "
            "intervals kept each), CPU per feed per poll:"
        ),
        (
            f"  full fetch + expansion: {f['full_poll_ms_per_feed']} ms (bare aiohttp GET: "
            f"{f['baseline_get_ms_per_feed']} ms, x{f['full_vs_baseline']})"
        ),
        (
            "    of which the expansion itself, in-process: "
            f"{f['expansion_in_process_ms_per_feed']} ms (the rest: the fetch, the store, "
            "the child process)"
        ),
        (
            f"  304:                    {f['conditional_poll_ms_per_feed']} ms (bare aiohttp "
            f"GET with If-None-Match: {f['baseline_304_ms_per_feed']} ms, "
            f"x{f['conditional_vs_baseline']})"
        ),
        (
            f"  wall: {f['full_wall_s']} s for the full round, {f['conditional_wall_s']} s "
            "for the 304 round"
        ),
        (
            f"memory per person: {f['held_bytes_per_person']} bytes held between polls; peak "
            f"{f['peak_bytes_per_person_full']} bytes during a full round, "
            f"{f['peak_bytes_per_person_304']} during a 304 round"
        ),
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.calendar", description=__doc__)
    parser.add_argument("--feeds", type=int, default=200)
    parser.add_argument("--events", type=int, default=120)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)
    figures = asyncio.run(run(args.feeds, args.events))
    print(report(figures))
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(figures))
    return 0


if __name__ == "__main__":
    sys.exit(main())
