"""The timetable and the scheduler on a ManualClock: due jobs run, nothing runs early."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.automation.schedule import FireRule, Job, RevertDue, Scheduler, Timetable
from bot.core.clock import ManualClock

START = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


@given(
    offsets=st.lists(st.integers(-600, 600), max_size=60),
    cut=st.integers(-600, 600),
)
def test_pop_due_returns_exactly_the_due_items_earliest_first(
    offsets: list[int], cut: int
) -> None:
    table: Timetable[int] = Timetable()
    for index, offset in enumerate(offsets):
        table.push(START + timedelta(seconds=offset), index)
    now = START + timedelta(seconds=cut)

    due = table.pop_due(now)

    expected = sorted(
        (i for i, offset in enumerate(offsets) if offset <= cut), key=lambda i: (offsets[i], i)
    )
    assert due == expected
    assert len(table) == len(offsets) - len(due)
    next_due = table.next_due()
    assert next_due is None or next_due > now


class Recorder:
    def __init__(self, clock: ManualClock) -> None:
        self.clock = clock
        self.ran: list[tuple[datetime, Job]] = []

    async def __call__(self, job: Job) -> None:
        self.ran.append((self.clock.now(), job))


async def test_jobs_run_when_the_clock_reaches_them_and_not_before() -> None:
    clock = ManualClock(START)
    recorder = Recorder(clock)
    scheduler = Scheduler(clock, recorder)
    scheduler.at(START + timedelta(hours=1), FireRule("late"))
    scheduler.at(START + timedelta(minutes=5), RevertDue("u1", "status"))
    scheduler.start()
    try:
        await scheduler.settled()
        assert recorder.ran == []
        await clock.advance(4 * 60)
        await scheduler.settled()
        assert recorder.ran == []
        await clock.advance(60)
        await scheduler.settled()
        assert [job for _, job in recorder.ran] == [RevertDue("u1", "status")]
        await clock.advance(3600)
        await scheduler.settled()
        assert [job for _, job in recorder.ran][-1] == FireRule("late")
    finally:
        await scheduler.stop()


async def test_an_earlier_job_added_while_sleeping_wakes_the_scheduler() -> None:
    clock = ManualClock(START)
    recorder = Recorder(clock)
    scheduler = Scheduler(clock, recorder)
    scheduler.at(START + timedelta(days=1), FireRule("tomorrow"))
    scheduler.start()
    try:
        await scheduler.settled()
        scheduler.at(START + timedelta(minutes=1), FireRule("soon"))
        await asyncio.sleep(0)
        await clock.advance(60)
        await scheduler.settled()
        assert [job for _, job in recorder.ran] == [FireRule("soon")]
    finally:
        await scheduler.stop()


async def test_a_past_job_runs_at_once_and_a_failing_job_does_not_stop_the_others() -> None:
    clock = ManualClock(START)
    ran: list[str] = []

    async def run(job: Job) -> None:
        assert isinstance(job, FireRule)
        if job.rule == "broken":
            raise RuntimeError("boom")
        ran.append(job.rule)

    scheduler = Scheduler(clock, run)
    scheduler.at(START - timedelta(hours=2), FireRule("broken"))
    scheduler.at(START - timedelta(hours=1), FireRule("overdue"))
    scheduler.start()
    try:
        await scheduler.settled()
        assert ran == ["overdue"]
    finally:
        await scheduler.stop()


def test_the_scheduler_benchmark_runs_and_compares_with_its_baseline(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from bench import scheduler as bench

    assert bench.main(["--users", "200", "--rules", "30", "--hours", "3"]) == 0
    out = capsys.readouterr().out
    assert "200 users, 30 rules vs. a baseline with no rules" in out
    assert "find due, per item" in out and "ratio" in out
