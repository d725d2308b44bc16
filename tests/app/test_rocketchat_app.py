"""The companion Rocket.Chat App (rocketchat-app/): its unit tests pass, and it packages.

The App is TypeScript: its unit tests (rocketchat-app-tests/) run under `node --test` after
`tsc`, and `rc-apps package` builds the zip an admin uploads. Both need Node.js and npm. In CI
(`CI` set) their absence fails the run; elsewhere these tests are skipped with a note on what to
install. A missing or outdated `node_modules` is installed with `npm ci` from the lock file.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
APP = REPO / "rocketchat-app"
APP_TESTS = REPO / "rocketchat-app-tests"
PERMISSIONS = ["message.write", "room.read", "room.write", "slashcommand", "ui.interact"]
NPM_TIMEOUT = 600.0

# npm installs and compiles: far beyond the suite's default of 60 s on a loaded machine.
pytestmark = pytest.mark.timeout(2 * NPM_TIMEOUT)


def require_node() -> None:
    """Fail in CI, skip elsewhere, when node or npm is not on PATH."""
    missing = [tool for tool in ("node", "npm") if shutil.which(tool) is None]
    if not missing:
        return
    message = (
        f"{' and '.join(missing)} not found: the Rocket.Chat App's tests need Node.js 20 "
        "with npm (for example Debian's nodejs and npm packages)"
    )
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


def run(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run `args` in `cwd`; fail the test with the whole output when it fails."""
    result = subprocess.run(
        args, cwd=cwd, capture_output=True, text=True, timeout=NPM_TIMEOUT, check=False
    )
    if result.returncode != 0:
        pytest.fail(
            f"`{' '.join(args)}` in {cwd.name}/ exited {result.returncode}:\n"
            f"{result.stdout}\n{result.stderr}",
            pytrace=False,
        )
    return result


def installed(folder: Path) -> None:
    """`npm ci` in `folder` unless its node_modules was installed from the current lock file."""
    installed_lock = folder / "node_modules" / ".package-lock.json"
    lock = folder / "package-lock.json"
    if installed_lock.exists() and installed_lock.stat().st_mtime >= lock.stat().st_mtime:
        return
    run(["npm", "ci", "--no-audit", "--no-fund"], folder)


def test_app_unit_tests_pass_under_node() -> None:
    require_node()
    installed(APP_TESTS)
    run(["npm", "run", "--silent", "build"], APP_TESTS)
    test_files = sorted(str(path) for path in (APP_TESTS / "build").rglob("*.test.js"))
    assert test_files, "tsc produced no test files"

    result = run(["node", "--test", "--test-reporter=tap", *test_files], APP_TESTS)

    summary = re.findall(r"^# (\w+) (\d+)$", result.stdout, re.MULTILINE)
    counts = {key: int(value) for key, value in summary}
    assert counts["fail"] == 0, result.stdout
    assert counts["tests"] > 0 and counts["pass"] == counts["tests"], result.stdout


def test_app_packages_into_a_zip_with_only_the_permissions_it_uses(tmp_path: Path) -> None:
    require_node()
    installed(APP)
    # Package a copy: `rc-apps package` writes dist/ and may rewrite app.json in place.
    work = tmp_path / APP.name
    shutil.copytree(APP, work, ignore=shutil.ignore_patterns("node_modules", "dist"))
    (work / "node_modules").symlink_to(APP / "node_modules", target_is_directory=True)

    run(["npx", "--no-install", "rc-apps", "package"], work)

    [bundle_path] = (work / "dist").glob("*.zip")
    with zipfile.ZipFile(bundle_path) as bundle:
        names = set(bundle.namelist())
        manifest = json.loads(bundle.read("app.json"))
    assert {"app.json", "RcbotCommandsApp.js", "icon.png", "i18n/en.json"} <= names
    assert "src/ForwardedCommand.js" in names
    assert sorted(permission["name"] for permission in manifest["permissions"]) == PERMISSIONS
    assert manifest["requiredApiVersion"].startswith("^"), "an exact version locks out servers"
