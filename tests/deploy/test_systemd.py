"""deploy/rcbot.service: `systemd-analyze verify` finds nothing, and its offline security review
rates the hardening OK.

verify checks that ExecStart's program exists, and the unit names where the README installs it
(/opt/rcbot); the test verifies the unit with that one path pointed at the rcbot installed here,
every other line as shipped.
"""

from __future__ import annotations

import configparser
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from bot.app.cli import EXIT_CONFIG

ROOT = Path(__file__).resolve().parents[2]
UNIT = ROOT / "deploy" / "rcbot.service"
INSTALLED_AT = "/opt/rcbot/bin/rcbot"
ANALYZE = shutil.which("systemd-analyze")
needs_systemd = pytest.mark.skipif(
    ANALYZE is None, reason="systemd-analyze is not installed (Debian: apt-get install systemd)"
)


def unit_here(tmp_path: Path, text: str | None = None) -> Path:
    """The unit as shipped, its ExecStart pointed at the rcbot of this environment."""
    rcbot = shutil.which("rcbot", path=str(Path(sys.executable).parent))
    assert rcbot
    shipped = UNIT.read_text(encoding="utf-8") if text is None else text
    assert f"ExecStart={INSTALLED_AT} " in shipped
    unit = tmp_path / "rcbot.service"
    unit.write_text(shipped.replace(f"ExecStart={INSTALLED_AT} ", f"ExecStart={rcbot} "))
    return unit


def analyze(*argv: str) -> subprocess.CompletedProcess[str]:
    assert ANALYZE is not None
    return subprocess.run(
        [ANALYZE, *argv], capture_output=True, text=True, timeout=60, check=False
    )


@needs_systemd
def test_systemd_analyze_verify_finds_nothing(tmp_path: Path) -> None:
    done = analyze("verify", str(unit_here(tmp_path)))
    assert (done.returncode, done.stdout + done.stderr) == (0, "")


@needs_systemd
def test_verify_would_catch_a_misspelt_option(tmp_path: Path) -> None:
    """verify exits 0 on unknown keys, so the test above also demands silence; this proves a
    typo is not silent."""
    typo = UNIT.read_text(encoding="utf-8").replace("ProtectHome=yes", "ProtectHom=yes")
    done = analyze("verify", str(unit_here(tmp_path, typo)))
    assert "Unknown key 'ProtectHom'" in done.stdout + done.stderr


@needs_systemd
def test_the_offline_security_review_rates_it_ok(tmp_path: Path) -> None:
    unit = unit_here(tmp_path)
    done = analyze("security", "--offline=true", "--threshold=20", "--no-pager", str(unit))
    assert done.returncode == 0, done.stdout[-2000:]  # exposure 2.0 or less ("OK")


def test_the_unit_runs_as_a_dynamic_user_with_a_state_directory_and_an_environment_file() -> None:
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read_string(UNIT.read_text(encoding="utf-8"))
    service = parser["Service"]
    assert service["ExecStart"] == f"{INSTALLED_AT} run"
    assert service["DynamicUser"] == "yes"
    assert service["StateDirectory"] == "rcbot"
    assert service["Environment"] == "RCBOT_DB=%S/rcbot/rcbot.db"
    assert service["EnvironmentFile"].startswith("/etc/rcbot/")
    assert service["KillSignal"] == "SIGTERM"
    assert int(service["TimeoutStopSec"]) > 10  # the bot drains commands for up to 10 s
    assert service["RestartPreventExitStatus"] == str(EXIT_CONFIG)
    assert parser["Install"]["WantedBy"] == "multi-user.target"
