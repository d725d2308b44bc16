"""The benchmarks read a child's CPU time finely enough for a short phase: a baseline answering a
few dozen commands uses less than one 10 ms clock tick, and a CPU figure of 0 made its ratio
unmeasurable (CI, 2026-12-05: the smoke run's spaced mix reported no CPU ratio)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from bench.proc import cpu_seconds

# The child spins for a few milliseconds, prints the CPU time it has used by its own clock, and
# waits for a line before spinning again, so the parent reads it while it is idle.
CHILD = """
import sys, time
for _ in range(3):
    start = time.process_time()
    while time.process_time() - start < 0.0037:
        pass
    print(repr(time.process_time()), flush=True)
    sys.stdin.readline()
"""


def test_a_childs_cpu_time_agrees_with_its_own_clock_to_the_millisecond() -> None:
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    assert child.stdin is not None and child.stdout is not None
    try:
        for _ in range(3):
            own_reading = float(child.stdout.readline())
            assert cpu_seconds(child.pid) == pytest.approx(own_reading, abs=0.001)
            child.stdin.write("\n")
            child.stdin.flush()
    finally:
        child.stdin.close()
        child.wait(timeout=10)


def test_a_process_that_is_gone_has_no_cpu_time_to_read() -> None:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait(timeout=10)
    with pytest.raises(OSError):
        cpu_seconds(child.pid)
