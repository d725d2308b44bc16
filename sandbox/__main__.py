"""`python -m sandbox --host 127.0.0.1 --port 3000 [--data FILE] [--rc-version 8.6.0]`."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal

from sandbox.server import VERSION_VARIABLE, pick_version, serve
from sandbox.versions import UnsupportedVersion


async def _run(host: str, port: int, data: str | None, rc_version: str) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with serve(host, port, data_file=data, rc_version=rc_version) as url:
        print(f"sandbox listening on {url}", flush=True)
        await stop.wait()


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m sandbox", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=3000, help="0 picks a free port")
    parser.add_argument("--data", help="keep state in this JSON or SQLite (.db) file")
    parser.add_argument(
        "--rc-version",
        default=os.environ.get(VERSION_VARIABLE),
        help="the Rocket.Chat to behave as: 7.4.x (default) or 8.6.x "
        f"(default from ${VERSION_VARIABLE})",
    )
    parser.add_argument("--log-level", default="WARNING")
    args = parser.parse_args()
    try:
        version = pick_version(args.rc_version, {})
    except UnsupportedVersion as exc:
        parser.error(str(exc))
    logging.basicConfig(level=args.log_level.upper(), format="%(levelname)s %(name)s: %(message)s")
    asyncio.run(_run(args.host, args.port, args.data, str(version)))


if __name__ == "__main__":
    main()
