"""`python -m sandbox --host 127.0.0.1 --port 3000 [--data FILE]`."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal

from sandbox.server import serve


async def _run(host: str, port: int, data: str | None) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with serve(host, port, data_file=data) as url:
        print(f"sandbox listening on {url}", flush=True)
        await stop.wait()


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m sandbox", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=3000, help="0 picks a free port")
    parser.add_argument("--data", help="keep state in this JSON or SQLite (.db) file")
    parser.add_argument("--log-level", default="WARNING")
    args = parser.parse_args()
    logging.basicConfig(level=args.log_level.upper(), format="%(levelname)s %(name)s: %(message)s")
    asyncio.run(_run(args.host, args.port, args.data))


if __name__ == "__main__":
    main()
