"""`rcbot healthcheck`: exit 0 when the running bot's `/healthz` answers 200, else 1.

For a container's HEALTHCHECK (the slim image has no curl): it asks the health endpoint of the bot
in the same container, on `RCBOT_HEALTH_PORT` (or `--port`). An address the bot listens on for
everyone (0.0.0.0, ::) is asked on loopback.
"""

from __future__ import annotations

import os
import urllib.error
import urllib.request
from typing import Final

DEFAULT_PORT: Final = 8080
_ANY_ADDRESS: Final = frozenset({"", "0.0.0.0", "::", "[::]"})


def health_url(host: str | None = None, port: int | None = None) -> str:
    """The /healthz URL from the arguments, else RCBOT_HEALTH_HOST / RCBOT_HEALTH_PORT."""
    host = host if host is not None else os.environ.get("RCBOT_HEALTH_HOST", "127.0.0.1")
    host = "127.0.0.1" if host.strip() in _ANY_ADDRESS else host.strip()
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"
    if port is None:
        port = int(os.environ.get("RCBOT_HEALTH_PORT") or DEFAULT_PORT)
    return f"http://{host}:{port}/healthz"


def probe(url: str, *, timeout: float = 5.0) -> tuple[bool, str]:
    """(healthy, what was seen) for one GET of `url`."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status == 200, f"{url}: HTTP {response.status}"
    except urllib.error.HTTPError as exc:
        return False, f"{url}: HTTP {exc.code}"
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        return False, f"{url}: no answer ({reason})"
