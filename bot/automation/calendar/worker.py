"""Expansion with a deadline: `expand` in a child process that is killed when it overruns.

A feed is hostile input, and some valid-looking rules cost seconds of CPU each (dateutil walks
every day up to year 9999 looking for a 30 February), with no point at which a thread could
stop. A child process can be stopped: it gets `seconds` of wall time and `memory_bytes` of
address space, and its result (or our error sentence) comes back through a pipe. Children are
forked from a small server process that has imported the calendar libraries already
(multiprocessing's forkserver), so each expansion starts in milliseconds and never forks the
bot's own threads.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import resource
from datetime import datetime, tzinfo
from multiprocessing import spawn
from multiprocessing.connection import Connection
from typing import Any, Final

from bot.automation.calendar.errors import CalendarError, CalendarUnreadable
from bot.automation.calendar.events import BusyInterval, expand

GIB: Final = 1024 * 1024 * 1024
CHILD_NAME: Final = "rcbot-calendar-expand"
_CONTEXT: Final = multiprocessing.get_context("forkserver")
_CONTEXT.set_forkserver_preload(["bot.automation.calendar.events"])
_preparation_data = spawn.get_preparation_data


def _without_main(name: str) -> dict[str, Any]:
    """multiprocessing's preparation data, without the program's main module for our
    children. A child would otherwise import it again before it runs (CPython 3.11's
    forkserver never preloads `__main__`): under the `rcbot` console script that is all of
    the bot, some 250 ms of CPU per expansion (bench/RESULTS.md). `_child` needs nothing of
    it: it lives in this module, and its arguments are plain values."""
    data: dict[str, Any] = _preparation_data(name)
    if name == CHILD_NAME:
        data.pop("init_main_from_name", None)
        data.pop("init_main_from_path", None)
    return data


spawn.get_preparation_data = _without_main  # other processes' data is left as it was


async def expand_within(
    text: str,
    *,
    start: datetime,
    end: datetime,
    zone: tzinfo,
    seconds: float = 20.0,
    memory_bytes: int = GIB,
) -> list[BusyInterval]:
    """`expand(text, start=..., end=..., zone=...)`, or CalendarUnreadable if it takes longer
    than `seconds` or more memory than `memory_bytes`.

    Parsing alone costs about 1.4 s per MiB here (icalendar), so a legitimate feed at the 2 MiB
    cap needs some 4-5 s on an idle core: the default leaves room for a loaded machine.
    """
    return await asyncio.to_thread(_expand_in_child, text, start, end, zone, seconds, memory_bytes)


def _expand_in_child(
    text: str,
    start: datetime,
    end: datetime,
    zone: tzinfo,
    seconds: float,
    memory_bytes: int,
) -> list[BusyInterval]:
    receiver, sender = _CONTEXT.Pipe(duplex=False)
    process = _CONTEXT.Process(
        target=_child,
        args=(sender, text, start, end, zone, memory_bytes),
        name=CHILD_NAME,
        daemon=True,
    )
    process.start()
    sender.close()
    try:
        if not receiver.poll(seconds):
            raise CalendarUnreadable(
                f"the calendar is too complex to read within {seconds:g} s "
                "(some repeating event never or hardly ever happens): simplify it, "
                "or share another calendar"
            )
        outcome, payload = receiver.recv()
    except EOFError:
        raise CalendarUnreadable(
            "the calendar could not be read: reading it took more memory than this bot allows"
        ) from None
    finally:
        receiver.close()
        process.kill()
        process.join()
    if outcome != "ok":
        raise CalendarUnreadable(str(payload))
    return list(payload)


def _child(
    sender: Connection,
    text: str,
    start: datetime,
    end: datetime,
    zone: tzinfo,
    memory_bytes: int,
) -> None:
    """Runs in the child: expand, and send ("ok", intervals) or ("error", sentence)."""
    resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))
    try:
        result: tuple[str, object] = ("ok", expand(text, start=start, end=end, zone=zone))
    except CalendarError as error:
        result = ("error", str(error))
    except MemoryError:
        result = (
            "error",
            "the calendar could not be read: reading it took more memory than this bot allows",
        )
    except Exception:  # noqa: BLE001 - the library's words may quote the calendar: not sent
        result = ("error", "the calendar could not be read: it is not valid iCalendar")
    try:
        sender.send(result)
    finally:
        sender.close()
