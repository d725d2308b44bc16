"""`rcbot init [PATH]`: write the example configuration shipped inside the package.

A wheel install has no repository next to it, so `bot.example.toml` (every setting, its default
and why) travels as package data and this writes it out. An existing file is never overwritten
unless `--force` says so.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path
from typing import Final

from bot.core.errors import ConfigError

EXAMPLE_NAME: Final = "bot.example.toml"
DEFAULT_PATH: Final = Path("bot.toml")


def example_text() -> str:
    """The packaged example configuration (the repository's top-level bot.example.toml)."""
    return files("bot").joinpath(EXAMPLE_NAME).read_text(encoding="utf-8")


def write_example(path: Path, *, force: bool = False) -> Path:
    """Write the example to `path` (a directory gets bot.toml inside); ConfigError when a file
    is already there and `force` is false, or when it cannot be written."""
    target = path / DEFAULT_PATH if path.is_dir() else path
    if target.exists() and not force:
        raise ConfigError(
            f"{target} already exists; nothing was written (rcbot init --force {target} "
            "overwrites it)"
        )
    try:
        target.write_text(example_text(), encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{target} cannot be written: {exc.strerror}") from None
    return target


def next_steps(target: Path) -> list[str]:
    """What to do after `rcbot init`, in order."""
    return [
        f"Wrote {target}. Next:",
        (
            f"  1. edit {target}: server_url, and the bot account (username + password, or "
            "user_id + auth_token)"
        ),
        "  2. export RCBOT_SECRET_KEY=$(rcbot keygen)   # keep it: it encrypts stored tokens",
        f"  3. rcbot check -c {target}     # validates the configuration",
        f"  4. rcbot doctor -c {target}    # checks the Rocket.Chat workspace for the bot",
        f"  5. rcbot run -c {target}",
    ]
