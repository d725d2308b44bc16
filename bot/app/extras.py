"""Optional dependencies, grouped as the package's extras (pyproject.toml), and the sentence that
names the extra when one is missing.

    rcbot[sandbox]    bcrypt, pyotp, mongoquery: the local Rocket.Chat-compatible server (`rcbot demo`)
    rcbot[postgres]   asyncpg: PostgreSQL storage for several replicas
"""

from __future__ import annotations

import importlib.util
from collections.abc import Mapping
from typing import Final

EXTRAS: Final[Mapping[str, tuple[str, ...]]] = {
    "sandbox": ("bcrypt", "pyotp", "mongoquery"),
    "postgres": ("asyncpg",),
}


def _importable(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):  # a module set to None in sys.modules, or a broken one
        return False


def missing_extra(extra: str) -> str | None:
    """None when every module of `extra` can be imported, else a sentence naming what is missing
    and the pip command that installs it."""
    missing = [module for module in EXTRAS[extra] if not _importable(module)]
    if not missing:
        return None
    return (
        f"{' and '.join(missing)} {'is' if len(missing) == 1 else 'are'} not installed: "
        f"install the extra with pip install 'rcbot[{extra}]'"
    )
