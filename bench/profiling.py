"""Read a py-spy profile (`--format raw`, collapsed stacks) and say where the time went.

    python -m bench.profiling bot-profile.txt [--top 25]

Each line of the file is `frame;frame;...;frame COUNT`, outermost frame first (with
`--threads`, a `thread (0x…)` frame leads), a frame being `function (path:line)`. "Self" counts the innermost frame of each sample, "inclusive" every
function on the stack (once per sample); both are shares of all samples. Files are shown
relative to the project or to site-packages so the names stay short.
"""

from __future__ import annotations

import argparse
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

_FRAME = re.compile(r"^(?P<function>.*?) \((?P<path>[^()]*?)(?::(?P<line>\d+))?\)$")
_TRIM = ("/site-packages/", "/lib/python3.11/", "/work/main/")


@dataclass
class ProfileSummary:
    """Sample counts by innermost function, by function on the stack, and by file on the stack."""

    samples: int = 0
    thread_counts: Counter[str] = field(default_factory=Counter)
    self_counts: Counter[str] = field(default_factory=Counter)
    inclusive_counts: Counter[str] = field(default_factory=Counter)
    file_counts: Counter[str] = field(default_factory=Counter)

    def share(self, count: int) -> float:
        """`count` as a percentage of all samples."""
        return 100.0 * count / self.samples if self.samples else 0.0

    def top(self, which: str, n: int) -> list[tuple[str, float]]:
        """The `n` biggest entries of "thread", "self", "inclusive" or "file", with their
        percentages."""
        counts = {
            "thread": self.thread_counts,
            "self": self.self_counts,
            "inclusive": self.inclusive_counts,
            "file": self.file_counts,
        }[which]
        return [(name, round(self.share(count), 1)) for name, count in counts.most_common(n)]


def short_path(path: str) -> str:
    """`/…/site-packages/aiohttp/client.py` → `aiohttp/client.py`; project files stay relative."""
    for marker in _TRIM:
        if marker in path:
            return path.rsplit(marker, 1)[1]
    return path


def frame_name(frame: str) -> tuple[str, str]:
    """(`file:function`, `file`) for one py-spy frame."""
    match = _FRAME.match(frame.strip())
    if match is None:
        return frame.strip(), frame.strip()
    path = short_path(match["path"])
    return f"{path}:{match['function']}", path


def _thread_name(threads: list[str], frames: list[tuple[str, str]]) -> str:
    """The thread of a sample, named by its id and its outermost interesting frame."""
    ident = threads[0].removeprefix("thread ").strip() if threads else "(all threads)"
    entry = next(
        (name for name, _ in frames if "thread" in name.lower() and "threading.py" not in name),
        frames[0][0],
    )
    return f"{ident} {entry}"


def summarize(path: Path) -> ProfileSummary:
    """Aggregate a raw py-spy profile."""
    summary = ProfileSummary()
    for line in path.read_text(errors="replace").splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        raw_frames = [frame for frame in stack.split(";") if frame]
        threads = [frame for frame in raw_frames if frame.startswith("thread ")]
        frames = [
            frame_name(frame)
            for frame in raw_frames
            if not frame.startswith(("process ", "thread "))
        ]
        if not frames:
            continue
        summary.samples += count
        summary.thread_counts[_thread_name(threads, frames)] += count
        summary.self_counts[frames[-1][0]] += count
        for name in {name for name, _ in frames}:
            summary.inclusive_counts[name] += count
        for file_name in {file_name for _, file_name in frames}:
            summary.file_counts[file_name] += count
    return summary


def render(summary: ProfileSummary, top: int = 25) -> str:
    """A plain-text report of the top entries."""
    lines = [f"{summary.samples} samples (active time only)"]
    for which, title in (
        ("thread", "by thread"),
        ("self", "self time (innermost frame)"),
        ("inclusive", "inclusive time (function anywhere on the stack)"),
        ("file", "inclusive time by file"),
    ):
        lines.append(f"\n-- {title} --")
        lines.extend(f"{share:6.1f}%  {name}" for name, share in summary.top(which, top))
    return "\n".join(lines)


def main() -> None:
    """`python -m bench.profiling FILE [--top N]`."""
    parser = argparse.ArgumentParser(prog="python -m bench.profiling", description=__doc__)
    parser.add_argument("file", type=Path)
    parser.add_argument("--top", type=int, default=25)
    args = parser.parse_args()
    print(render(summarize(args.file), args.top))


if __name__ == "__main__":
    main()
