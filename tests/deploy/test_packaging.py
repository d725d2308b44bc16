"""Packaging: the licence, the metadata, the example configuration inside the wheel, `rcbot
--version` and `rcbot init`, and the extras named when they are missing.

The wheel is built from a copy of the source tree with the test environment's setuptools (no
network); `.ci/run` installs it into a fresh venv and runs `rcbot demo` from there.
"""

from __future__ import annotations

import email.parser
import os
import shutil
import subprocess
import sys
import tomllib
import zipfile
from collections.abc import Iterator
from importlib.metadata import version
from pathlib import Path

import pytest

from bot.app.init_config import example_text
from bot.core.crypto import generate_key

ROOT = Path(__file__).resolve().parents[2]
DEBIAN_APACHE = Path("/usr/share/common-licenses/Apache-2.0")


def run_python(
    code: str, *argv: str, cwd: Path, **environ: str
) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.upper().startswith("RCBOT_")}
    return subprocess.run(
        [sys.executable, "-c", code, *argv],
        env={**clean, **environ},
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


RCBOT = "import sys; from bot.app.cli import main; raise SystemExit(main(sys.argv[1:]))"


def rcbot_without(module: str) -> str:
    """`rcbot` in a process where `module` cannot be imported (as if it were not installed)."""
    return f"import sys; sys.modules[{module!r}] = None; {RCBOT}"


# -- licence and metadata -------------------------------------------------------------------


def test_the_licence_is_the_apache_2_text() -> None:
    text = (ROOT / "LICENSE").read_text(encoding="utf-8")
    assert text.lstrip().startswith("Apache License\n                           Version 2.0")
    assert "END OF TERMS AND CONDITIONS" in text and "APPENDIX" in text
    if DEBIAN_APACHE.is_file():
        assert text == DEBIAN_APACHE.read_text(encoding="utf-8")


def test_rocketchat_async_is_pinned_to_the_installed_version() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    pins = [dep for dep in project["dependencies"] if dep.startswith("rocketchat-async")]
    assert pins == [f"rocketchat-async=={version('rocketchat-async')}"]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The wheel built from a copy of the tree (git's files, committed or not)."""
    source = tmp_path_factory.mktemp("source")
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout.decode()
    for name in filter(None, listed.split("\0")):
        origin, target = ROOT / name, source / name
        if not origin.exists() and not origin.is_symlink():
            continue  # deleted in the work tree
        target.parent.mkdir(parents=True, exist_ok=True)
        if origin.is_symlink():
            target.symlink_to(os.readlink(origin))
        else:
            shutil.copy2(origin, target)
    out = tmp_path_factory.mktemp("dist")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation",
         "--no-cache-dir", "--wheel-dir", str(out), str(source)],
        check=True, capture_output=True, timeout=300,
    )  # fmt: skip
    (built,) = out.glob("rcbot-*.whl")
    yield built


def test_the_wheel_ships_the_example_configuration_and_the_licence(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        assert archive.read("bot/bot.example.toml").decode() == example_text()
        licence = next(n for n in names if n.endswith(".dist-info/licenses/LICENSE"))
        assert archive.read(licence).decode() == (ROOT / "LICENSE").read_text(encoding="utf-8")
    assert "sandbox/server.py" in names and "commands/status.py" in names


def test_the_wheel_metadata_is_complete(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        name = next(n for n in archive.namelist() if n.endswith(".dist-info/METADATA"))
        metadata = email.parser.Parser().parsestr(archive.read(name).decode())
    assert metadata["Name"] == "rcbot"
    assert metadata["License-Expression"] == "Apache-2.0"
    assert metadata["Author"]
    assert "rocket.chat" in metadata["Keywords"]
    assert "Topic :: Communications :: Chat" in metadata.get_all("Classifier", [])
    requires: list[str] = metadata.get_all("Requires-Dist", [])
    assert f"rocketchat-async=={version('rocketchat-async')}" in requires
    assert set(metadata.get_all("Provides-Extra", [])) >= {"sandbox", "postgres", "test"}
    extra_of = {req.split(";")[0].strip(): req.partition("extra ==")[2] for req in requires}
    assert '"sandbox"' in extra_of["bcrypt>=4.1"]
    assert '"postgres"' in extra_of["asyncpg<1,>=0.29"]
    assert '"test"' in extra_of["rcbot[postgres,sandbox]"]  # `.[test]` still pulls everything
    assert not any(
        req.startswith(("bcrypt", "asyncpg")) and "extra" not in req for req in requires
    )


# -- the example configuration --------------------------------------------------------------


def test_the_top_level_example_is_the_packaged_file() -> None:
    """One file, two ways in: the repository's bot.example.toml links to the packaged one."""
    top = ROOT / "bot.example.toml"
    assert top.is_symlink()
    assert top.resolve() == (ROOT / "bot" / "bot.example.toml").resolve()
    assert top.read_text(encoding="utf-8") == example_text()


def test_rcbot_version_names_the_installed_version(tmp_path: Path) -> None:
    done = run_python(RCBOT, "--version", cwd=tmp_path)
    assert done.returncode == 0
    assert done.stdout.startswith(f"rcbot {version('rcbot')} (Python ")


def test_rcbot_init_writes_the_example_and_never_overwrites_without_force(tmp_path: Path) -> None:
    done = run_python(RCBOT, "init", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    written = tmp_path / "bot.toml"
    assert written.read_text(encoding="utf-8") == example_text()
    assert "rcbot doctor -c bot.toml" in done.stdout

    written.write_text("# mine\n", encoding="utf-8")
    refused = run_python(RCBOT, "init", cwd=tmp_path)
    assert refused.returncode == 2
    assert "bot.toml already exists; nothing was written" in refused.stderr
    assert written.read_text(encoding="utf-8") == "# mine\n"

    forced = run_python(RCBOT, "init", "--force", "bot.toml", cwd=tmp_path)
    assert forced.returncode == 0
    assert written.read_text(encoding="utf-8") == example_text()


def test_rcbot_init_into_a_directory_writes_bot_toml_that_rcbot_check_accepts(
    tmp_path: Path,
) -> None:
    config_dir = tmp_path / "etc"
    config_dir.mkdir()
    assert run_python(RCBOT, "init", str(config_dir), cwd=tmp_path).returncode == 0
    checked = run_python(
        RCBOT, "check", "-c", str(config_dir / "bot.toml"), cwd=tmp_path,
        RCBOT_SECRET_KEY=generate_key(),
    )  # fmt: skip
    assert checked.returncode == 0, checked.stderr
    assert "configuration OK" in checked.stdout


# -- extras ------------------------------------------------------------------------------


def test_rcbot_demo_names_the_sandbox_extra_when_bcrypt_is_missing(tmp_path: Path) -> None:
    done = run_python(rcbot_without("bcrypt"), "demo", cwd=tmp_path)
    assert done.returncode == 2
    assert "bcrypt is not installed" in done.stderr
    assert "pip install 'rcbot[sandbox]'" in done.stderr
    assert "Traceback" not in done.stderr


def test_a_postgresql_url_without_asyncpg_names_the_postgres_extra(tmp_path: Path) -> None:
    done = run_python(
        rcbot_without("asyncpg"), "check", cwd=tmp_path,
        RCBOT_SERVER_URL="https://chat.example.com",
        RCBOT_USERNAME="bot",
        RCBOT_PASSWORD="pw",
        RCBOT_SECRET_KEY=generate_key(),
        RCBOT_DB="postgresql://rcbot@db.example.com/rcbot",
    )  # fmt: skip
    assert done.returncode == 2
    assert (
        "db (RCBOT_DB): is a PostgreSQL URL, but asyncpg is not installed: install the extra "
        "with pip install 'rcbot[postgres]'" in done.stderr
    )
    assert "Traceback" not in done.stderr
