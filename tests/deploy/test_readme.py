"""The README's Deploy section names only commands and files that exist, and CI still ends with
the README's test command."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

from bot.app.cli import build_parser

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def section(title: str) -> str:
    start = README.index(f"\n## {title}\n")
    end = README.find("\n## ", start + 1)
    return README[start : end if end != -1 else None]


def subcommands() -> set[str]:
    parser = build_parser()
    (commands,) = (a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return set(commands.choices)


def test_the_deploy_section_covers_container_compose_systemd_and_the_doctor() -> None:
    deploy = section("Deploy")
    for heading in ("The doctor", "In a container", "Docker Compose", "With systemd"):
        assert re.search(rf"^### .*{heading}", deploy, re.MULTILINE), heading
    assert "/token set <token>" in deploy


def test_every_rcbot_command_the_deploy_section_runs_exists() -> None:
    deploy = section("Deploy")
    code = re.findall(r"```sh\n(.*?)```", deploy, re.DOTALL) + re.findall(r"`([^`\n]+)`", deploy)
    command = r"(?:(?:^|[\s/])rcbot|rcbot:latest|run --rm rcbot)[ \t]+([a-z][a-z-]+)"
    used = {word for text in code for word in re.findall(command, text, re.MULTILINE)}
    assert used, "the section runs no rcbot command"
    assert used <= subcommands() | {"run"}, used - subcommands()


def test_every_file_the_deploy_section_names_exists() -> None:
    deploy = section("Deploy")
    for path in set(re.findall(r"\bdeploy/[\w.]+", deploy)) | {"Dockerfile"}:
        assert (ROOT / path).is_file(), path


def test_ci_still_ends_with_the_readmes_test_command() -> None:
    test_command = re.search(r"Run the tests:\n\n```sh\n(.+)\n```", README)
    assert test_command is not None
    lines = [line for line in (ROOT / ".ci" / "run").read_text().splitlines() if line.strip()]
    assert lines[-1] == test_command.group(1)
