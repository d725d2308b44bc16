"""Running a benchmark at a tiny size, as its smoke test does: `python -m bench.<name> …` from
the project, its exit code checked and its last line read as the JSON of its figures."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

PROJECT = Path(__file__).resolve().parents[1]


def run_bench(module: str, *args: str, timeout: float) -> tuple[str, dict[str, Any]]:
    """Run `python -m <module> <args>`; its printed report and the figures of its last line."""
    run = subprocess.run(
        [sys.executable, "-m", module, *args],
        check=False,
        capture_output=True,
        text=True,
        cwd=PROJECT,
        timeout=timeout,
    )
    assert run.returncode == 0, run.stderr
    figures: dict[str, Any] = json.loads(run.stdout.strip().splitlines()[-1])
    return run.stdout, figures
